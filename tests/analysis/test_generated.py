"""The fast path against the reference on generated streams full of odd cases.

Streams are built directly as ``StreamInput`` columns: loss, reordering, duplicates,
retransmissions of acked data, ACKs that go backwards, RSTs with ACK 0 (outside the
sequence window), SYN retransmissions, zero windows with probes, keep-alives, SACK,
window scaling, options cut by the snap length.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.analysis import fast, reference
from core.analysis.inputs import StreamInput

_FIELDS = ("bits", "rel_seq", "rel_ack", "next_seq", "win", "dup_num", "dup_frame",
           "acks_frame", "ack_rtt", "bif", "rto", "rto_frame")


def _stream(seed: int) -> StreamInput:
    rnd = random.Random(seed)
    cs, ss = rnd.getrandbits(32), rnd.getrandbits(32)
    rows: list[tuple[int, ...]] = []   # flow1, time, seq, ack, flags, window, len, ws, sack
    t = 0
    cws, sws = rnd.choice([-1, 0, 7]), rnd.choice([-1, 2, 7])
    rows.append((1, t, cs, 0, 0x02, 64240, 0, cws, 0))
    if rnd.random() < 0.3:
        rows.append((1, t + 1000, cs, 0, 0x02, 64240, 0, cws, 0))
    rows.append((0, t + 2000, ss, cs + 1, 0x12, 65160, 0, sws, 0))
    rows.append((1, t + 3000, cs + 1, ss + 1, 0x10, 502, 0, -1, 0))
    snd = ss + 1
    acked = snd
    sent: list[tuple[int, int]] = []
    t = 4000
    for _ in range(rnd.randrange(20, 160)):
        t += rnd.choice([5, 50, 500, 5000, 50_000])
        r = rnd.random()
        if r < 0.45:                                   # new data (maybe "lost")
            size = rnd.choice([1, 100, 1448])
            if rnd.random() > 0.08:
                rows.append((0, t, snd, cs + 1, 0x18 if rnd.random() < 0.3 else 0x10,
                             rnd.choice([0, 501, 502]), size, -1, 0))
            sent.append((snd, size))
            snd += size
        elif r < 0.6 and sent:                         # resend something
            seq, size = rnd.choice(sent)
            rows.append((0, t, seq, cs + 1, 0x10, 502, size, -1, 0))
        elif r < 0.85:                                 # an ACK, often a duplicate
            if rnd.random() < 0.6 and sent:
                acked = rnd.choice(sent)[0] + rnd.choice([0, 0, 1448, 100])
            win = rnd.choice([0, 0, 502, 600])
            sack = rnd.choice([0, 0, 1448, 2896])
            rows.append((1, t, cs + 1, acked, 0x10, win, 0, -1, sack))
        elif r < 0.9:                                  # keep-alive or zero-window probe
            rows.append((0, t, snd - 1, cs + 1, 0x10, 502, rnd.choice([0, 1]), -1, 0))
        elif r < 0.95:
            rows.append((1, t, cs + 1, rnd.choice([0, acked - 5000, acked + 9]), 0x14, 0, 0,
                         -1, 0))                       # RST, odd ACKs
        else:
            rows.append((0, t, snd, cs + 1, 0x11, 502, 0, -1, 0))
    n = len(rows)
    col = list(zip(*rows, strict=True))
    a = [np.array(c, np.int64) for c in col]
    rnd2 = np.random.default_rng(seed)
    return StreamInput(
        frame=np.arange(1, n + 1, dtype=np.int64), time_ns=a[1] * 1000,
        flow1=a[0].astype(bool), seq=a[2] & 0xFFFFFFFF, ack=a[3] & 0xFFFFFFFF, flags=a[4],
        window=a[5], seglen=a[6], has_seg=rnd2.random(n) > 0.02,
        bad_doff=rnd2.random(n) < 0.01, options_cut=rnd2.random(n) < 0.02, wscale=a[7],
        sack_count=(a[8] > 0).astype(np.int64), sack_sum=a[8],
        tfo_cookie=np.zeros(n, bool), reused_first=bool(seed % 7 == 0))


@pytest.mark.parametrize("strict", [False, True])
def test_fast_equals_reference(strict: bool) -> None:
    fallbacks = 0
    for seed in range(300):
        inp = _stream(seed)
        want = reference.analyze(inp, strict=strict)
        try:
            got = fast.run_fast_only(inp, strict=strict)
        except fast.Fallback:
            fallbacks += 1
            got = fast.analyze(inp, strict=strict)
        for name in _FIELDS:
            assert np.array_equal(getattr(got, name), getattr(want, name)), (seed, name)
        assert got.win_scale == want.win_scale
    assert fallbacks < 30
