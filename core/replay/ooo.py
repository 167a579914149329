"""Out-of-order data a receiver holds beyond RCV.NXT, released as RCV.NXT reaches it.

    held = OutOfOrder()            # a dict start -> end, plus a heap of the starts
    held.hold(seq, end, rcv_nxt)   # a block arrived ahead of RCV.NXT
    rcv_nxt = held.release(end)    # in-order data reached ``end``: the new RCV.NXT

Rules:
1. The decisions are exactly those of the former loop (``release`` rescanned every held
   block until none started at or before RCV.NXT): the same blocks are dropped, RCV.NXT
   lands on the same number, the dict keeps the same entries in the same order
   (tests/replay/test_ooo.py compares the two). That loop was quadratic in the number of
   blocks (descending arrivals: 8,000 segments took 5.5 s); here a segment costs
   O(log n) amortised.
2. Heap keys are the starts' distances from ``_anchor`` (mod 2**32): plain integers on one
   line, in sequence order while the blocks and RCV.NXT lie within 2**31 of each other, as
   a receive window keeps them. ``release`` checks that they do for the span RCV.NXT
   moves over; when they do not (RCV.NXT jumped: a new connection on the same ports,
   say), sequence order is not a line, the former loop's answer depends on the order
   blocks arrived in, and ``release`` runs that loop itself, then re-keys the heap.
3. The dict and the heap hold the same starts. ``clear`` empties both; the dict is a dict
   so that ``if held`` costs what it did on the hot path.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

_MOD = 1 << 32
_MASK = _MOD - 1
_HALF = 1 << 31
#: re-key the heap (shift every key down) once RCV.NXT is this far past the anchor
_REBASE = 1 << 30


class OutOfOrder(dict[int, int]):
    """Held blocks: start -> end (sequence numbers mod 2**32); see the module rules."""

    __slots__ = ("_heap", "_anchor", "_top")

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[int] = []   # (start - _anchor) mod 2**32 of every held start
        self._anchor = 0
        self._top = 0                # no key in the heap is above this

    def clear(self) -> None:
        super().clear()
        self._heap.clear()
        self._top = 0

    def hold(self, seq: int, end: int, nxt: int) -> None:
        """A block ``seq``..``end`` arrived ahead of RCV.NXT ``nxt``: keep the farther end
        of this block and any other held at ``seq``."""
        known = self.get(seq)
        if known is None:
            if not self:
                self._heap.clear()
                self._anchor, self._top = nxt, 0
            key = (seq - self._anchor) & _MASK
            heappush(self._heap, key)
            if key > self._top:
                self._top = key
            self[seq] = end
        elif (end - known + _HALF) % _MOD - _HALF > 0:
            self[seq] = end

    def release(self, nxt: int) -> int:
        """RCV.NXT reached ``nxt``: drop every held block starting at or before it, moving
        it over their ends as far as they reach; returns the new RCV.NXT."""
        heap, anchor = self._heap, self._anchor
        first = (nxt - anchor) & _MASK
        low = heap[0] if heap else first
        reach = first
        taken: list[int] = []
        line = True
        while heap and heap[0] <= reach:
            key = heappop(heap)
            taken.append(key)
            span = (self[(key + anchor) & _MASK] - key - anchor) & _MASK
            if span >= _HALF:
                line = False
                break
            if key + span > reach:
                reach = key + span
        if line and low >= reach - _HALF and self._top < first + _HALF:
            for key in taken:
                del self[(key + anchor) & _MASK]
            if heap and reach >= _REBASE:
                self._heap = [key - reach for key in heap]   # still a heap
                self._anchor = (anchor + reach) & _MASK
                self._top -= reach
            return (reach + anchor) & _MASK
        heap.extend(taken)
        return self._rescan(nxt)

    def _rescan(self, nxt: int) -> int:
        """The former loop (rule 2's fallback), then the heap re-keyed from its answer."""
        while self:
            moved = False
            for start in list(self):
                if (start - nxt + _HALF) % _MOD - _HALF <= 0:
                    stop = self.pop(start)
                    if (stop - nxt + _HALF) % _MOD - _HALF > 0:
                        nxt = stop
                    moved = True
            if not moved:
                break
        self._anchor = nxt
        self._heap = [(start - nxt) & _MASK for start in self]
        heapify(self._heap)
        self._top = max(self._heap, default=0)
        return nxt
