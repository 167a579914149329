"""Retransmission timeout per RFC 6298, with Karn's rule left to the caller.

Invariants:
- Before the first sample the RTO is ``initial`` (RFC 6298 2.1: 1 s).
- After samples: RTO = SRTT + max(G, 4 * RTTVAR), at least ``minimum`` (Linux: 200 ms).
- Each expiry doubles the RTO (``back_off``) up to ``maximum``; a new sample or new data
  acknowledged clears the backoff.
"""

from __future__ import annotations

from dataclasses import dataclass

ALPHA = 1 / 8
BETA = 1 / 4
K = 4
CLOCK_GRANULARITY = 0.001


@dataclass(slots=True)
class RttEstimator:
    initial: float
    minimum: float
    maximum: float
    srtt: float | None = None
    rttvar: float = 0.0
    backoff: int = 0

    def sample(self, rtt: float) -> None:
        """Take one RTT measurement (never from a retransmitted segment: Karn)."""
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = (1 - BETA) * self.rttvar + BETA * abs(self.srtt - rtt)
            self.srtt = (1 - ALPHA) * self.srtt + ALPHA * rtt
        self.backoff = 0

    @property
    def base(self) -> float:
        if self.srtt is None:
            return self.initial
        return min(max(self.srtt + max(CLOCK_GRANULARITY, K * self.rttvar), self.minimum),
                   self.maximum)

    @property
    def rto(self) -> float:
        return min(self.base * float(2 ** self.backoff), self.maximum)

    def back_off(self) -> None:
        if self.rto < self.maximum:
            self.backoff += 1
