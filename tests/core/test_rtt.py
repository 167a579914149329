"""RFC 6298 retransmission timeout."""

from __future__ import annotations

import pytest

from core.tcp.rtt import RttEstimator


def test_initial_first_sample_and_floor() -> None:
    est = RttEstimator(initial=1.0, minimum=0.2, maximum=120.0)
    assert est.rto == 1.0
    est.sample(0.5)  # SRTT 0.5, RTTVAR 0.25: RTO = 0.5 + 4 * 0.25
    assert est.rto == pytest.approx(1.5)
    est.sample(0.5)  # RTTVAR 0.1875, SRTT 0.5
    assert est.rttvar == pytest.approx(0.1875) and est.srtt == pytest.approx(0.5)
    fast = RttEstimator(initial=1.0, minimum=0.2, maximum=120.0)
    fast.sample(0.001)
    assert fast.rto == 0.2


def test_backoff_doubles_up_to_the_maximum() -> None:
    est = RttEstimator(initial=1.0, minimum=0.2, maximum=10.0)
    rtos = []
    for _ in range(6):
        rtos.append(est.rto)
        est.back_off()
    assert rtos == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    est.sample(1.0)
    assert est.backoff == 0
