"""``find_copies``: the same packet seen at two capture points.

The pairing of identical packets is checked against the plain quadratic reference it
replaced (every candidate scanned per sighting), on random groups; an adversarial group
of thousands of identical packets must not be quadratic; a stamped copy held up for
seconds is still its original's copy.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from core.analysis.duplicates import find_copies
from core.capture.index import PACKET_DTYPE

Arr = np.ndarray[Any, np.dtype[Any]]
MAX_GAP = 1_000_000_000     # groups of more than two identical packets, no TSval


def _packets(times_ns: list[int], ifaces: list[int], seqs: list[int] | None = None) -> Arr:
    p = np.zeros(len(times_ns), PACKET_DTYPE)
    p["time_ns"] = times_ns
    p["interface"] = ifaces
    p["frame"] = np.arange(1, len(times_ns) + 1)
    p["seq"] = seqs if seqs is not None else 1000
    p["ack"] = 1
    p["flags"] = 0x10
    p["window"] = 500
    p["src"], p["dst"], p["sport"], p["dport"] = 0, 1, 40000, 80
    return p


def _reference(packets: Arr) -> Arr:
    """The former implementation (no timestamps): a linear scan of every free sighting."""
    keys = ("stream", "src", "sport", "seq", "ack", "flags", "payload_len", "window")
    n = int(packets.shape[0])
    out = np.full(n, -1, np.int64)
    iface = packets["interface"].astype(np.int64)
    if n == 0 or int(iface.min()) == int(iface.max()):
        return out
    order = np.lexsort([np.arange(n)] + [packets[k] for k in reversed(keys)])
    sp = packets[order]
    same = np.ones(n - 1, bool)
    for k in keys:
        same &= sp[k][1:] == sp[k][:-1]
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    sizes = np.diff(np.append(starts, n))
    times = packets["time_ns"].astype(np.int64)
    pair = starts[sizes == 2]
    a, b = order[pair], order[pair + 1]
    ok = (iface[a] != iface[b]) & (times[b] >= times[a])
    out[b[ok]] = a[ok]
    want = float(np.median(times[b[ok]] - times[a[ok]])) if ok.any() else 0.0
    for s, size in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist(), strict=True):
        free: list[int] = []
        for row in order[s:s + size].tolist():
            best, best_err, best_t = -1, 0.0, 0
            for pos, cand in enumerate(free):
                gap = int(times[row] - times[cand])
                if iface[cand] != iface[row] and 0 <= gap <= MAX_GAP:
                    err = abs(gap - want)
                    # ties go to the earlier sighting
                    if best < 0 or (err, int(times[cand])) < (best_err, best_t):
                        best, best_err, best_t = pos, err, int(times[cand])
            if best >= 0:
                out[row] = free.pop(best)
            else:
                free.append(row)
    return out


def test_identical_groups_pair_as_the_reference_does() -> None:
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randrange(2, 40)
        sent = sorted(rng.randrange(0, 3_000_000_000) for _ in range(n))
        times, ifaces, seqs = [], [], []
        for t in sent:
            seq = rng.choice([1000, 1000, 2000])        # some groups of identical ACKs
            times.append(t)
            ifaces.append(0)
            seqs.append(seq)
            if rng.random() < 0.8:                      # seen again at the other end
                times.append(t + rng.choice([10_000_000, 10_000_000, 12_000_000]))
                ifaces.append(1)
                seqs.append(seq)
        order = sorted(range(len(times)), key=lambda i: times[i])
        p = _packets([times[i] for i in order], [ifaces[i] for i in order],
                     [seqs[i] for i in order])
        assert find_copies(p).tolist() == _reference(p).tolist()


def test_thousands_of_identical_packets_are_not_quadratic() -> None:
    # 8,000 identical ACKs at two capture points: the former pairing took 18 s
    # (plus one distinct packet seen at both, which gives the path delay, 10 ms)
    n = 8000
    times, seqs = [0, 10_000_000], [5, 5]
    for k in range(n // 2):
        times += [k * 1_000_000, k * 1_000_000 + 10_000_000]
        seqs += [1000, 1000]
    order = sorted(range(n + 2), key=lambda i: times[i])
    p = _packets([times[i] for i in order], [i % 2 for i in order], [seqs[i] for i in order])
    start = time.perf_counter()
    copies = find_copies(p)
    elapsed = time.perf_counter() - start
    assert int((copies >= 0).sum()) == n // 2 + 1
    gaps = p["time_ns"][copies >= 0] - p["time_ns"][copies[copies >= 0]]
    assert set(gaps.tolist()) == {10_000_000}
    assert elapsed < 5.0, f"{elapsed:.1f} s for {n} identical packets: quadratic?"


def test_a_stamped_copy_held_up_for_seconds_is_still_a_copy() -> None:
    # an old duplicate: sent at 0.031 s (server interface), seen at the client 5 s later;
    # its retransmission at 0.25 s has another TSval, so it is not confused with it
    p = _packets([31_000_000, 250_000_000, 260_000_000, 5_041_000_000], [1, 1, 0, 0])
    tsval = np.array([100, 320, 320, 100], np.int64)
    assert find_copies(p, tsval).tolist() == [-1, -1, 1, 0]
    # without timestamps too: nothing else could be that sighting's original
    assert find_copies(p).tolist() == [-1, -1, 1, 0]
    # an identical packet resent 5 s later, both seen arriving: each pairs with its own
    p = _packets([0, 10_000_000, 5_000_000_000, 5_010_000_000], [1, 0, 1, 0])
    assert find_copies(p).tolist() == [-1, 0, -1, 2]


def test_a_link_copy_beside_another_sighting_is_not_paired_with_a_lost_packet() -> None:
    # a SYN+ACK lost at 0.001 s; its resend at 1.001 s duplicated by the link (two
    # sightings at the client, 1 and 3.5 ms later): the extra copy is not the lost one
    p = _packets([1_000_000, 1_001_000_000, 1_002_000_000, 1_004_500_000], [1, 1, 0, 0])
    p["flags"] = 0x12
    assert find_copies(p).tolist() == [-1, -1, 1, -1]


def test_many_unpaired_identical_packets_stay_quick() -> None:
    # 6,000 identical packets seen on one interface of a two-interface capture
    n = 6000
    p = _packets([k * 2_000_000_000 for k in range(n)] + [n * 2_000_000_000],
                 [0] * n + [1])
    start = time.perf_counter()
    copies = find_copies(p)
    assert time.perf_counter() - start < 5.0
    assert copies.tolist()[-1] == n - 1     # the one on the other interface: held up
