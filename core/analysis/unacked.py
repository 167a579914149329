"""One direction's unacked segments, as Wireshark's list behaves, without walking it.

Positions are relative to the direction's base and below 2**31, so sequence-space
comparisons are plain integer comparisons.

Invariants (``a`` is the last ACK applied while segments were present):
- ``ack(x)`` removes exactly the segments with ``nextseq <= x`` and reports the oldest
  with ``nextseq == x``; every remaining segment that starts below ``x`` now starts at
  ``x`` (Wireshark trims them in place). The trimmed starts are never stored: a segment
  present at the last ACK starts at ``max(seq, a)``, one added since at ``seq``.
- ``last_next`` is the highest ``nextseq`` present: the running maximum since the list
  was last empty (an ACK dropping that segment drops every segment).
- An ACK outside [0, 2**31), or one below ``a`` while segments were added since, is
  applied by a literal walk over the present segments, newest first, as Wireshark does.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

M = 0xFFFFFFFF
H = 0x80000000


class Unacked:
    """The unacked segments of one direction (see the module docstring)."""

    __slots__ = ("count", "last_next", "_by_next", "_by_seq", "_order", "_dead", "_a",
                 "_has_a", "_old_min", "_new_min", "_new_count")

    def __init__(self) -> None:
        self.count = 0
        self.last_next = 0
        self._by_next: list[tuple[int, int, int, int, int]] = []  # nextseq, id, frame, t, seq
        self._by_seq: list[tuple[int, int]] = []              # (seq, id)
        self._order: deque[tuple[int, int, int]] = deque()    # (id, frame, time), send order
        self._dead = bytearray()
        self._a = 0
        self._has_a = False
        self._old_min = -1
        self._new_min = -1
        self._new_count = 0

    def add(self, seq: int, nxt: int, frame: int, now: int) -> None:
        ident = len(self._dead)
        self._dead.append(0)
        heappush(self._by_next, (nxt, ident, frame, now, seq))
        heappush(self._by_seq, (seq, ident))
        self._order.append((ident, frame, now))
        if self.count == 0 or nxt > self.last_next:
            self.last_next = nxt
        self.count += 1
        if self._new_count == 0 or seq < self._new_min:
            self._new_min = seq
        self._new_count += 1

    def first_seq(self) -> int:
        """The lowest (trimmed) start among the present segments (count > 0)."""
        best = -1
        if self._old_min >= 0:
            best = max(self._a, self._old_min)
        if self._new_count and (best < 0 or self._new_min < best):
            best = self._new_min
        return best

    def oldest(self) -> tuple[int, int] | None:
        """(frame, time) of the oldest present segment."""
        order, dead = self._order, self._dead
        while order and dead[order[0][0]]:
            order.popleft()
        if not order:
            return None
        return order[0][1], order[0][2]

    def ack(self, x: int) -> tuple[int, int] | None:
        """Apply an ACK at relative position ``x``; (frame, time) of the oldest match."""
        if x >= H or (self._has_a and x < self._a and self._new_count):
            return self._literal(x)
        if self._has_a and x < self._a:
            return None          # drops nothing, trims nothing (all start at >= a)
        by_next, dead = self._by_next, self._dead
        if by_next[0][0] > x:    # drops nothing: only the trim level moves
            if self._new_count:
                old = self._old_min
                self._old_min = self._new_min if old < 0 else min(old, self._new_min)
                self._new_count = 0
            self._a, self._has_a = x, True
            return None
        match = None
        best = -1
        while by_next and by_next[0][0] <= x:
            nxt, ident, frame, now, _seq = heappop(by_next)
            dead[ident] = 1
            self.count -= 1
            if nxt == x and (best < 0 or ident < best):
                best, match = ident, (frame, now)
        if self.count == 0:                 # the usual end of an ACK
            self._clear()
            return match
        by_seq = self._by_seq
        while dead[by_seq[0][1]]:
            heappop(by_seq)
        self._old_min = by_seq[0][0]
        self._a, self._has_a = x, True
        self._new_count = 0
        return match

    def _clear(self) -> None:
        self._by_next.clear()
        self._by_seq.clear()
        self._order.clear()
        self._old_min = -1
        self._has_a = False
        self._new_count = 0
        self.last_next = 0

    def _present(self) -> list[list[int]]:
        """[seq (trimmed), nextseq, id, frame, time] of the present segments, oldest first."""
        out = []
        for nxt, ident, frame, now, seq in self._by_next:
            if self._has_a and self._old_min >= 0 and not self._is_new(ident):
                seq = max(seq, self._a)
            out.append([seq, nxt, ident, frame, now])
        out.sort(key=lambda s: s[2])
        return out

    def _is_new(self, ident: int) -> bool:
        # segments added since the last applied ACK are the last ``_new_count`` ids
        return ident >= len(self._dead) - self._new_count

    def _literal(self, x: int) -> tuple[int, int] | None:
        segs = self._present()
        match = None
        keep = []
        for seg in reversed(segs):                      # newest first, as Wireshark
            seq, nxt = seg[0], seg[1]
            if x == nxt:
                match = (seg[3], seg[4])
                continue
            if 0 < ((x - seq) & M) < H and ((x - nxt) & M) >= H:
                seg[0] = x
                keep.append(seg)
                continue
            if 0 < ((nxt - x) & M) < H:
                keep.append(seg)
        for ident in range(len(self._dead)):
            self._dead[ident] = 1
        self.count = 0
        self._clear()
        for seq, nxt, _ident, frame, now in sorted(keep, key=lambda s: s[2]):
            self.add(seq, nxt, frame, now)
        return match
