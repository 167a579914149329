"""TCP per RFC 9293: segments and sequence arithmetic, states, the transition table, an endpoint."""
