"""The same packet seen at two capture points (pcapng with one interface per side).

Invariants:
- A packet is a copy of an earlier one when both are in the same stream and direction,
  with the same seq, ack, flags, payload length and raw window, captured on a different
  interface, at most ``MAX_GAP_NS`` later.
- Identical packets (a retransmission, a run of duplicate ACKs) are paired by the path
  delay: each direction's delay is the median gap of its unambiguous pairs, and a copy
  takes the unmatched earlier sighting whose gap is closest to it.
- A packet is either an original or a copy; an original has at most one copy;
  ``duplicate_of`` is -1 for originals. Captures with one interface have no copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Arr = np.ndarray[Any, np.dtype[Any]]

#: Longest time between two sightings of one packet (path delay plus queueing).
MAX_GAP_NS = 1_000_000_000
_KEYS = ("stream", "src", "sport", "seq", "ack", "flags", "payload_len", "window")


def find_copies(packets: Arr) -> Arr:
    """``duplicate_of`` for every packet: the row of the first sighting, or -1."""
    n = int(packets.shape[0])
    out = np.full(n, -1, np.int64)
    if n == 0:
        return out
    iface = packets["interface"].astype(np.int64)
    if int(iface.min()) == int(iface.max()):
        return out
    order = np.lexsort([np.arange(n)] + [packets[k] for k in reversed(_KEYS)])
    sp = packets[order]
    same = np.ones(n - 1, bool)
    for k in _KEYS:
        same &= sp[k][1:] == sp[k][:-1]
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    sizes = np.diff(np.append(starts, n))
    times = packets["time_ns"].astype(np.int64)
    direction = (packets["stream"].astype(np.int64), packets["src"].astype(np.int64),
                 packets["sport"].astype(np.int64))
    # Unambiguous pairs first: they give each direction's delay.
    pair = starts[sizes == 2]
    a, b = order[pair], order[pair + 1]
    ok = (iface[a] != iface[b]) & (times[b] - times[a] <= MAX_GAP_NS)
    out[b[ok]] = a[ok]
    gaps: dict[tuple[int, int, int], list[int]] = {}
    for row, gap in zip(b[ok].tolist(), (times[b[ok]] - times[a[ok]]).tolist(), strict=True):
        gaps.setdefault((int(direction[0][row]), int(direction[1][row]),
                         int(direction[2][row])), []).append(gap)
    delay = {k: float(np.median(v)) for k, v in gaps.items()}
    every = float(np.median(times[b[ok]] - times[a[ok]])) if ok.any() else 0.0
    for s, size in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist(), strict=True):
        members: list[int] = order[s:s + size].tolist()   # file order within the group
        key = (int(direction[0][members[0]]), int(direction[1][members[0]]),
               int(direction[2][members[0]]))
        want = delay.get(key, every)
        free: list[int] = []
        for row in members:
            best, best_err = -1, 0.0
            for pos, cand in enumerate(free):
                gap = int(times[row] - times[cand])
                if iface[cand] != iface[row] and 0 <= gap <= MAX_GAP_NS:
                    err = abs(gap - want)
                    if best < 0 or err < best_err:
                        best, best_err = pos, err
            if best >= 0:
                out[row] = free.pop(best)
            else:
                free.append(row)
    return out
