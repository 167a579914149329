"""tcp.stream numbers exactly as Wireshark 4.0 (the corpus's tshark 4.0.17) gives them.

Wireshark's rule (epan/dissectors/packet-tcp.c, dissect_tcp, 4.0):
- A conversation is keyed by the unordered (address, port, address, port) pair; each new
  conversation gets the next stream number, in frame order.
- Each direction of a conversation has a ``base_seq``, set by the first TCP packet whose
  segment length is known (``tcp_analyze_sequence_number``): the sender's direction takes
  ``seq`` (a SYN) or ``seq - 1`` (anything else); if that packet has ACK set and the other
  direction has no base yet, the other direction takes ``ack - 1``.
- A SYN without ACK whose sender direction already has a base, and whose ``seq`` differs
  from it, starts a new conversation (port reuse). Same ``seq``: a retransmission, same
  stream. FIN or RST seen before does not matter in 4.0 (later releases also split on a
  SYN after FIN/RST; the corpus truth is 4.0.17, and probing that tshark confirmed this).
- A SYN+ACK whose ``seq`` differs from its direction's base overwrites that base.
- Directions: "flow1" is used when (src address, src port) > (dst address, dst port),
  "flow2" otherwise; a packet to its own address and port uses flow2 both ways.

``StreamTracker`` is that rule one packet at a time (the definition, used by the scapy
reference path); ``assign_streams`` is the vectorized version: it only walks packets one
by one for conversation keys that contain a SYN after their first packet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from core.progress import TICK, TICK_MASK

Arr = np.ndarray[Any, np.dtype[Any]]

SYN, ACK = 0x02, 0x10
_MASK = 0xFFFFFFFF


class _Conv:
    __slots__ = ("base", "stream")

    def __init__(self, stream: int) -> None:
        self.stream = stream
        self.base: list[int | None] = [None, None]


class StreamTracker:
    """Assigns tcp.stream one packet at a time, in frame order (see module docstring)."""

    def __init__(self) -> None:
        self._convs: dict[tuple[tuple[int, int], tuple[int, int]], _Conv] = {}
        self.count = 0

    def _new(self, key: tuple[tuple[int, int], tuple[int, int]]) -> _Conv:
        conv = self._convs[key] = _Conv(self.count)
        self.count += 1
        return conv

    def add(self, src: int, sport: int, dst: int, dport: int, flags: int, seq: int,
            ack: int, analyzed: bool) -> int:
        """The stream of this packet; ``src``/``dst`` are comparable address ids."""
        a, b = (src, sport), (dst, dport)
        key = (a, b) if a <= b else (b, a)
        d = 1 if a > b else 0
        r = d if a == b else 1 - d
        conv = self._convs.get(key)
        if conv is None:
            conv = self._new(key)
        else:
            base = conv.base[d]
            syn_ack = flags & (SYN | ACK)
            if syn_ack == SYN and base is not None and seq != base:
                conv = self._new(key)
            elif syn_ack == SYN | ACK and base is not None and seq != base:
                conv.base[d] = seq
        if analyzed:
            if conv.base[d] is None:
                conv.base[d] = seq if flags & SYN else (seq - 1) & _MASK
            if flags & ACK and conv.base[r] is None:
                conv.base[r] = (ack - 1) & _MASK
        return conv.stream


def conversation_order(ep_a: Arr, ep_b: Arr,
                       check: Callable[[], None] | None = None) -> tuple[Arr, Arr]:
    """Packet indices grouped by unordered endpoint pair, frame order within a group.

    ``ep_a``/``ep_b`` are the uint64 endpoints (address number << 16 | port). Returns
    ``order`` and ``first`` (True where a group starts, in ``order``'s positions);
    ``check()`` is called between the array passes (it may raise).
    """
    told = check if check is not None else _nothing
    n = ep_a.shape[0]
    lo = np.minimum(ep_a, ep_b)
    hi = np.maximum(ep_a, ep_b)
    idx_bits = max(1, int(n - 1).bit_length())
    first = np.ones(n, bool)
    if idx_bits <= 40:
        # One sort of (hash of the pair, index): exact order if no two pairs share a hash,
        # which is checked below (a collision falls back to an exact lexsort).
        key = (_pair_hash(lo, hi) >> np.uint64(idx_bits)) << np.uint64(idx_bits)
        told()
        packed = np.sort(key | np.arange(n, dtype=np.uint64))
        told()
        order = (packed & np.uint64((1 << idx_bits) - 1)).astype(np.int64)
        h = packed >> np.uint64(idx_bits)
        first[1:] = h[1:] != h[:-1]
        s_lo, s_hi = lo[order], hi[order]
        same = (s_lo[1:] == s_lo[:-1]) & (s_hi[1:] == s_hi[:-1])
        if bool(np.all(same | first[1:])):
            return order, first
    told()
    order = np.lexsort((np.arange(n), hi, lo))
    s_lo, s_hi = lo[order], hi[order]
    first[1:] = (s_lo[1:] != s_lo[:-1]) | (s_hi[1:] != s_hi[:-1])
    return order, first


def _nothing() -> None:
    """No check."""


def _pair_hash(lo: Arr, hi: Arr) -> Arr:
    """A well-mixed 64-bit hash of an endpoint pair (wrapping multiplications)."""
    with np.errstate(over="ignore"):
        mixed: Arr = lo * np.uint64(0x9E3779B97F4A7C15) + hi * np.uint64(0xC2B2AE3D27D4EB4F)
        mixed ^= mixed >> np.uint64(29)
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
    return mixed


def assign_streams(order: Arr, first: Arr, ep_a: Arr, ep_b: Arr, flags: Arr, seq: Arr,
                   ack: Arr, analyzed: Arr, check: Callable[[], None] | None = None) -> Arr:
    """tcp.stream of every packet (arrays in frame order), as ``StreamTracker`` would;
    ``check()`` is called every ``TICK`` packets walked one by one (it may raise)."""
    n = ep_a.shape[0]
    if n == 0:
        return np.zeros(0, np.int32)
    starts = first.copy()                       # conversation starts, in group order
    pure_syn = (flags[order] & (SYN | ACK)) == SYN
    group = np.cumsum(first) - 1
    complex_groups = np.unique(group[pure_syn & ~first])
    if complex_groups.size:
        bounds = np.flatnonzero(first).tolist() + [n]
        walked = 0
        for g in complex_groups.tolist():
            lo_i, hi_i = bounds[g], bounds[g + 1]
            walked += hi_i - lo_i
            if check is not None and walked >= TICK:
                check()
                walked = 0
            idx = order[lo_i:hi_i]
            starts[lo_i:hi_i] = _splits(ep_a[idx] > ep_b[idx], ep_a[idx] == ep_b[idx],
                                        flags[idx], seq[idx], ack[idx], analyzed[idx], check)
    conv_of_sorted = np.cumsum(starts) - 1
    start_frames = order[starts]                # first packet (frame order) of each conv
    number = np.empty(start_frames.size, np.int32)
    number[np.argsort(start_frames)] = np.arange(start_frames.size, dtype=np.int32)
    stream = np.empty(n, np.int32)
    stream[order] = number[conv_of_sorted]
    return stream


def _splits(greater: Arr, same: Arr, flags: Arr, seq: Arr, ack: Arr, analyzed: Arr,
            check: Callable[[], None] | None = None) -> Arr:
    """Which packets of one conversation key start a new conversation (first one does)."""
    out = np.zeros(greater.shape[0], bool)
    out[0] = True
    base: list[int | None] = [None, None]
    for i, (g, s, f, q, k, an) in enumerate(zip(greater.tolist(), same.tolist(),
                                                  flags.tolist(), seq.tolist(), ack.tolist(),
                                                  analyzed.tolist(), strict=True)):
        d = 1 if g else 0
        r = d if s else 1 - d
        if i and not i & TICK_MASK and check is not None:
            check()
        if i:
            b = base[d]
            syn_ack = f & (SYN | ACK)
            if syn_ack == SYN and b is not None and q != b:
                out[i] = True
                base = [None, None]
            elif syn_ack == SYN | ACK and b is not None and q != b:
                base[d] = q
        if an:
            if base[d] is None:
                base[d] = q if f & SYN else (q - 1) & _MASK
            if f & ACK and base[r] is None:
                base[r] = (k - 1) & _MASK
    return out
