"""Single differential cases that once went wrong, each at the tap where it did.

Each was found by the fidelity bench (``bench/fidelity.py``, its ``e.g.`` lines) and
names the rule that now gets it right. ``exact``: states and losses as the simulator's
truth; ``either``: the capture cannot decide, and the replay flags the truth as the
other reading of its doubts; ``ordered``: ``either``, and every arrival in its true
order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fidelity.harness import Case, run_case

CASES = [
    # evidence: a closed port's RST acknowledges the SYN it answers (next to the server)
    ("closed_port delay=0.08 seed=1558432411", "server", "exact"),
    # Karn: a SYN resent before the RST gives no round-trip sample (client side)
    ("closed_port delay=0.005 loss=0.3 seed=1694071740", "client", "either"),
    # the resent SYN's first copy: lost, or its RST was (two independent doubts)
    ("time_wait_old_duplicate delay=0.001 drop=server:1 seed=763367563", "client", "either"),
    # an unanswered keep-alive probe: lost, or its ACK was
    ("keepalive delay=0.08 loss=0.1 seed=495062030", "client", "either"),
    # mid-path is not next to the receiver: a SYN+ACK seen and resent was lost
    ("handshake delay=0.03 delay_back=0.0005 mss=1460 drop=server:1 seed=881634340",
     "mid", "exact"),
    # a link duplicate of the same TSval is no resend
    ("hello_ok delay=0.005 sack=off duplicate=0.3 drop=server:1 seed=2022186289",
     "mid", "either"),
    # data resent after the ACK covering it would have arrived: that ACK was lost
    ("flow_control delay=0.001 delay_back=0.004 loss=0.2 seed=1884426569", "server", "exact"),
    # an old duplicate (stale TSval) held up 5 s is not a send from CLOSED
    ("time_wait_old_duplicate delay=0.03 loss=0.2 seed=1146610558", "client", "either"),
    # ... and seen at both ends, it pairs with its original even 5 s apart
    ("time_wait_old_duplicate delay=0.01 seed=485204404", "both", "either"),
    # an uncaptured FIN: the server's ACK is numbered after it (simultaneous close)
    ("simultaneous_close delay=0.01 jitter=0.008 drop=server:2 seed=1068960748",
     "client", "either"),
    # a SYN+ACK and the ACK answering it in the same microsecond, at both ends
    ("bind_eaddrinuse delay=0.005 jitter=0.008 seed=2049087898", "both", "exact"),
    # a TIME_WAIT re-ACK whose D-SACK names an old duplicate: it arrived just before
    ("time_wait_old_duplicate delay=0.08 drop=server:6 seed=450553128", "server", "ordered"),
    # the ACK before the FIN: FIN_WAIT_2 for an instant, or straight to TIME_WAIT
    ("close_server_first delay=0.005 loss=0.05 drop=server:5 seed=1917719639",
     "client", "either"),
    # a TIME_WAIT re-ACK naming nothing (no SACK): the one server segment drawn lost
    # arrived late and prompted it, or another one held up did
    ("time_wait_old_duplicate delay=0.03 sack=off seed=1269637725", "server", "either"),
    ("time_wait_old_duplicate delay=0.001 drop=server:1 seed=763367563", "server", "either"),
    # ... but a re-ACK whose D-SACK names bytes several copies carry moves none
    ("time_wait_old_duplicate delay=0.01 delay_back=0.004 delayed_ack=off loss=0.3 "
     "reorder=0.15 reorder_delay=0.005 jitter=0.008 seed=1853456590", "mid", "exact"),
    # a segment proving another's arrival left after it, whatever the jittered delay says
    ("close_server_first delay=0.005 mss=1460 delayed_ack=off timestamps=off jitter=0.008 "
     "drop=server:5 seed=1320711111", "client", "exact"),
    ("simultaneous_open delay=0.001 mss=1460 delayed_ack=off iss=random loss=0.3 "
     "seed=330951340", "server", "exact"),
    # without timestamps, octets a segment skipped that come later: resent or reordered
    ("out_of_order delay=0.005 timestamps=off seed=1469887244", "server", "either"),
    ("out_of_order delay=0.005 timestamps=off seed=1469887244", "mid", "exact"),
    # the simulator holds a FIN that came before the data it follows (as Linux does)
    ("close_server_first delay=0.01 delayed_ack=off loss=0.2 seed=1882474714", "server",
     "exact"),
    # a second SYN+ACK to a connected client and no ACK of it: it or that ACK was lost
    ("keepalive delay=0.03 sack=off loss=0.2 drop=server:1 seed=1063455659", "server",
     "either"),
    ("fast_retransmit delay=0.01 sack=off drop=client:3,server:1 seed=420740689", "server",
     "exact"),
    # RFC 1337 ignores every RST in TIME_WAIT, the link's copies of the first one too
    ("time_wait_old_duplicate delay=0.005 delay_back=0.0005 delayed_ack=off reorder=0.05 "
     "reorder_delay=0.001 duplicate=0.3 seed=1672789064", "client", "either"),
    # without timestamps, an ACK held up 5 s is old by its ACK number gone back
    ("time_wait_old_duplicate delay=0.08 delayed_ack=off timestamps=off jitter=0.0005 "
     "seed=1283547705", "client", "either"),
    # a FIN not acknowledging the peer's, and the ACK of it, sent in one instant
    ("simultaneous_close delay=0.005 wscale=off mss=1460 delayed_ack=off reorder=0.15 "
     "reorder_delay=0.005 seed=687985096", "server", "exact"),
    # a restarted server's RST without ACK answers the resend just before it: it arrived
    ("half_open delay=0.001 iss=random drop=server:4 seed=434464640", "mid", "exact"),
    # a FIN the instant the handshake completed: close() then, or earlier in SYN_RECEIVED
    ("simultaneous_close delay=0.001 wscale=off mss=536 sack=off loss=0.05 duplicate=0.1 "
     "drop=server:1 seed=1582619686", "client", "either"),
    # next to the client, an RST seen arriving in TIME_WAIT that the client outlives:
    # it ignores RSTs there (RFC 1337), this one and the later ones
    ("time_wait_old_duplicate delay=0.005 iss=random duplicate=0.1 seed=1264037950",
     "client", "exact"),
    # the client opens the same ports again as its 2MSL (60 s, or RFC 793's 240 s) runs
    # out, counted without the RST: it ignored the RST (explain rule 1c)
    ("time_wait_old_duplicate delay=0.01 mss=1460 nagle=on reorder=0.3 reorder_delay=0.005 "
     "drop=server:6 seed=479206925", "server", "exact"),
    ("time_wait_old_duplicate delay=0.001 iss=random nagle=on preset=rfc timestamps=on "
     "sack=on drop=client:10 seed=655455196", "client", "exact"),
    # two SYN+ACKs at once after a resent SYN: the timer's and an answer (evidence rule 7)
    ("abort delay=0.005 iss=random loss=0.2 seed=1751096772", "client", "exact"),
    ("close_three_segment delay=0.01 loss=0.2 seed=1751729401", "mid", "exact"),
    # ... or the network duplicated the second SYN: the doubt says so
    ("handshake delay=0.001 duplicate=0.1 drop=client:1 seed=1495162700", "client", "either"),
    # next to the server, the last ACK lost: the client's re-ACK from TIME_WAIT echoes
    # the first FIN's TSval (as Linux's time-wait socket does), so that FIN arrived
    ("close_client_first delay=0.08 reorder=0.3 reorder_delay=0.001 jitter=0.0005 "
     "drop=client:6 seed=1680152658", "server", "exact"),
    # a SYN+ACK from an ephemeral port: a listener, or a simultaneous open whose own SYN
    # was lost before the capture point (doubts rule 2g)
    ("simultaneous_open delay=0.005 wscale=off mss=536 drop=client:1 seed=2079196184",
     "server", "either"),
    # crossing SYNs: the SYN+ACK after a side's own SYN is no resend of it; the SYN
    # arrived (its answer lost) or was lost (the peer's ACK lost): doubts rule 2h
    ("simultaneous_open delay=0.01 mss=100 iss=random timestamps=off reorder=0.05 "
     "reorder_delay=0.02 drop=server:2 seed=558368837", "client", "either"),
    ("simultaneous_open delay=0.03 loss=0.3 drop=server:2 seed=1196042448", "client",
     "either"),
    # the first SYN proved arrived (timestamp echo): the resent one's fate is open, the
    # listener resending its SYN+ACK on its own timer (doubts rule 2i)
    ("hello_ok delay=0.01 delay_back=0.06 loss=0.3 seed=1848376944", "client", "either"),
]


@pytest.mark.parametrize(("text", "tap", "expect"), CASES)
def test_case(text: str, tap: str, expect: str, tmp_path: Path) -> None:
    result = run_case(Case.parse(text), str(tmp_path))
    (found,) = [t for t in result.taps if t.tap == tap]
    assert found.comparison is not None, result.report()
    assert not found.illegal, result.report()
    if expect == "exact":
        assert found.comparison.matches, result.report()
    else:
        assert found.comparison.matches_either, result.report()
    if expect == "ordered":
        assert found.comparison.order_ok, result.report()
