"""Evidence with many identical resends: the same proofs as without the shortcut, fast.

``_copies_before`` answers at once for a segment that repeats an earlier one's start
(the callers only ask whether no other copy came first); the shortcut is checked
against the full scan on random streams, and thousands of resends of one segment must
not cost their square.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
import pytest

import core.replay.evidence as evidence
from core.analysis.options import MAX_SACK

Arr = np.ndarray[Any, np.dtype[Any]]


def _stream(rng: random.Random, n: int, repeat: float) -> tuple[Arr, ...]:
    fc, fl, seq, ack, seg_len = [], [], [], [], []
    nxt, acked = 1000, 5000
    for _ in range(n):
        if rng.random() < 0.5:                       # data, often resent
            start = nxt if rng.random() > repeat else rng.choice([1000, max(1000, nxt - 100)])
            fc.append(True), fl.append(0x18), seq.append(start), ack.append(5000)
            seg_len.append(100)
            nxt = max(nxt, start + 100)
        else:                                        # the peer's ACK
            acked = rng.randrange(1000, nxt + 1)
            fc.append(False), fl.append(0x10), seq.append(5000), ack.append(acked)
            seg_len.append(0)
    return (np.array(fc), np.array(fl, np.int64), np.array(seq, np.int64),
            np.array(ack, np.int64), np.array(seg_len, np.int64))


def _proofs(fc: Arr, fl: Arr, seq: Arr, ack: Arr, seg_len: Arr) -> list[int]:
    n = fc.size
    lines = evidence.number_lines(fc, fl, seq, ack, seg_len)
    none = np.full(n, -1, np.int64)
    proofs = evidence.arrival_proofs(lines, fc, fl, seg_len, none, none,
                                     np.zeros(n, np.int8), np.zeros((n, MAX_SACK, 2), np.int64),
                                     ack)
    return list(proofs.by.tolist())


def test_the_shortcut_gives_the_same_proofs(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    streams = [_stream(rng, rng.randrange(2, 120), rng.random()) for _ in range(200)]
    fast = [_proofs(*s) for s in streams]
    monkeypatch.setattr(evidence, "_repeats",
                        lambda by_start, sorted_starts: np.zeros(by_start.size, bool))
    assert [_proofs(*s) for s in streams] == fast


def test_thousands_of_resends_of_one_segment_are_not_quadratic() -> None:
    n = 6000
    fc = np.array([True] * n + [False])
    fl = np.array([0x18] * n + [0x10], np.int64)
    seq = np.full(n + 1, 1000, np.int64)
    ack = np.full(n + 1, 5000, np.int64)
    ack[-1] = 1100
    seg_len = np.array([100] * n + [0], np.int64)
    start = time.perf_counter()
    by = _proofs(fc, fl, seq, ack, seg_len)
    assert time.perf_counter() - start < 2.0
    assert by[:n] == [-1] * n          # which copy arrived, no ACK can tell
