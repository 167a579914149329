"""The same packet seen at two capture points (pcapng with one interface per side).

Invariants:
- A packet is a copy of an earlier one when both are in the same stream and direction,
  with the same seq, ack, flags, payload length, raw window and TCP timestamp (TSval,
  or none), captured on a different interface, at most ``MAX_GAP_NS`` later: a packet
  held up in the network for seconds (an old duplicate) is still the same packet; no
  segment outlives the maximum segment lifetime. Among several identical packets
  without a TSval (where the link's duplicates may be the later sightings), at most
  ``MAX_GROUP_GAP_NS``.
- Identical packets (a retransmission without timestamps, a run of duplicate ACKs) are
  paired by the path delay: each direction's delay is the median gap of its unambiguous
  pairs, and a copy takes the unmatched earlier sighting whose gap is closest to it (on
  a tie, the earlier sighting). Each group is paired in O(g log g).
- A packet is either an original or a copy; an original has at most one copy;
  ``duplicate_of`` is -1 for originals. Captures with one interface have no copies.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

Arr = np.ndarray[Any, np.dtype[Any]]

#: Longest time between two sightings of one packet: 2MSL (Linux's TIME_WAIT, 60 s,
#: is 2MSL), beyond any segment's lifetime in the network.
MAX_GAP_NS = 120_000_000_000
#: ... between identical packets without timestamps, when more than two were seen.
MAX_GROUP_GAP_NS = 1_000_000_000
_KEYS = ("stream", "src", "sport", "seq", "ack", "flags", "payload_len", "window")


def find_copies(packets: Arr, tsval: Arr | None = None) -> Arr:
    """``duplicate_of`` for every packet: the row of the first sighting, or -1.
    ``tsval`` (per packet, -1 when absent; ``core.analysis.options``) is part of a
    packet's identity when given."""
    n = int(packets.shape[0])
    out = np.full(n, -1, np.int64)
    if n == 0:
        return out
    iface = packets["interface"].astype(np.int64)
    if int(iface.min()) == int(iface.max()):
        return out
    stamp = (np.full(n, -1, np.int64) if tsval is None
             else np.asarray(tsval, dtype=np.int64))
    columns = [packets[k] for k in _KEYS] + [stamp]
    order = np.lexsort([np.arange(n)] + columns[::-1])
    same = np.ones(n - 1, bool)
    for col in columns:
        c = col[order]
        same &= c[1:] == c[:-1]
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    sizes = np.diff(np.append(starts, n))
    times = packets["time_ns"].astype(np.int64)
    direction = (packets["stream"].astype(np.int64), packets["src"].astype(np.int64),
                 packets["sport"].astype(np.int64))
    # Unambiguous pairs first: they give each direction's delay.
    pair = starts[sizes == 2]
    a, b = order[pair], order[pair + 1]
    gap = times[b] - times[a]
    ok = (iface[a] != iface[b]) & (gap >= 0) & (gap <= MAX_GAP_NS)
    out[b[ok]] = a[ok]
    gaps: dict[tuple[int, int, int], list[int]] = {}
    for row, g in zip(b[ok].tolist(), gap[ok].tolist(), strict=True):
        gaps.setdefault((int(direction[0][row]), int(direction[1][row]),
                         int(direction[2][row])), []).append(g)
    delay = {k: float(np.median(v)) for k, v in gaps.items()}
    every = float(np.median(gap[ok])) if ok.any() else 0.0
    for s, size in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist(), strict=True):
        members: list[int] = order[s:s + size].tolist()   # file order within the group
        key = (int(direction[0][members[0]]), int(direction[1][members[0]]),
               int(direction[2][members[0]]))
        limit = MAX_GAP_NS if stamp[members[0]] >= 0 else MAX_GROUP_GAP_NS
        _pair_group(members, times, iface, limit, delay.get(key, every), out)
    return out


def _pair_group(members: list[int], times: Arr, iface: Arr, limit: int, want: float,
                out: Arr) -> None:
    """Pair one group of identical packets: each sighting, in file order, takes the
    unmatched earlier sighting on another interface whose gap is closest to ``want``
    and at most ``limit``. Then, when ``limit`` is short of ``MAX_GAP_NS``, an unmatched
    sighting with no other sighting of the group in the ``limit`` before it (not a
    duplicate the link made beside another copy) takes the latest unmatched earlier
    sighting on another interface: the same packet, held up in the network."""
    free: dict[int, list[tuple[int, int]]] = {}     # interface -> sorted (time, row)
    for row in members:
        t, mine = int(times[row]), int(iface[row])
        best: tuple[float, int, int, int] | None = None   # (error, time, row, interface)
        for other, cands in free.items():
            if other == mine or not cands:
                continue
            pos = bisect.bisect_left(cands, (int(t - want), -1))
            for k in (pos - 1, pos):
                if 0 <= k < len(cands):
                    ct, crow = cands[k]
                    if 0 <= t - ct <= limit:
                        cand = (abs((t - ct) - want), ct, crow, other)
                        if best is None or cand < best:
                            best = cand
        if best is not None:
            cands = free[best[3]]
            cands.pop(bisect.bisect_left(cands, (best[1], best[2])))
            out[row] = best[2]
        else:
            bisect.insort(free.setdefault(mine, []), (t, row))
    if limit >= MAX_GAP_NS or sum(len(c) for c in free.values()) < 2:
        return
    seen = sorted(int(times[r]) for r in members)
    left = sorted((t, row, i) for i, cands in free.items() for t, row in cands)
    taken: set[int] = set()
    for t, row, mine in left:
        if row in taken:
            continue
        pos = bisect.bisect_left(seen, t)
        if pos > 0 and t - seen[pos - 1] <= limit:
            continue                          # beside another sighting: a link copy
        best_e: tuple[int, int, int] | None = None
        for other, cands in free.items():
            if other == mine:
                continue
            k = bisect.bisect_left(cands, (t, -1)) - 1
            if k >= 0 and t - cands[k][0] <= MAX_GAP_NS:
                if best_e is None or cands[k][0] > best_e[0]:
                    best_e = (cands[k][0], cands[k][1], other)
        if best_e is not None:
            cands = free[best_e[2]]
            cands.pop(bisect.bisect_left(cands, (best_e[0], best_e[1])))
            mine_list = free[mine]
            mine_list.pop(bisect.bisect_left(mine_list, (t, row)))
            taken.update((row, best_e[1]))
            out[row] = best_e[1]
