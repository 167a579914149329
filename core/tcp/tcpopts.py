"""TCP timestamps (RFC 7323) and selective acknowledgements (RFC 2018, D-SACK RFC 2883).

The bookkeeping one endpoint keeps for both options, as Linux keeps it; the endpoint
(:mod:`core.tcp.machine`) decides when to call it.

Rules:
1. Both options are negotiated in the SYNs: an option is used on a connection only when
   both SYNs carried it (the TS option in both; SACK-permitted in both).
2. TSval is the endpoint's millisecond clock plus a per-connection offset (Linux draws
   the offset at random for every connection), modulo 2**32. TSecr echoes TS.Recent,
   which an acceptable segment updates when SEG.TSval >= TS.Recent and SEG.SEQ <=
   Last.ACK.sent (RFC 7323 4.3); a SYN echoes 0.
3. The receiver remembers at most :data:`MAX_SACK_BLOCKS` blocks of out-of-order data,
   the most recently changed first (RFC 2018 4); a block goes once RCV.NXT reaches it.
4. A D-SACK (RFC 2883) reports one range of duplicate data in the next ACK only, as its
   first block, before the SACK blocks.
5. The options fit in 40 bytes: ``NOP NOP TS`` takes 12, ``NOP NOP SACK`` 4 + 8 a block,
   so an ACK carries at most 3 blocks with timestamps, 4 without.
6. The sender's scoreboard holds the SACKed ranges above SND.UNA, merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.tcp.segment import SEQ_MOD, Segment, seq_diff, seq_ge, seq_gt, seq_le, seq_lt

MAX_OPTION_SPACE = 40
TS_SPACE = 12  # NOP NOP kind len TSval TSecr
SACK_BASE = 4  # NOP NOP kind len
SACK_BLOCK = 8
MAX_SACK_BLOCKS = 4  # what Linux remembers (TCP_NUM_SACKS)

Block = tuple[int, int]


def ts_clock(now: float, offset: int) -> int:
    """TSval at ``now`` seconds: whole milliseconds plus ``offset``, modulo 2**32."""
    return (int(now * 1000 + 1e-6) + offset) % SEQ_MOD  # 1e-6: 10.06 s is 10060 ms


def sack_room(timestamps: bool) -> int:
    """How many SACK blocks fit next to the other options of an established segment."""
    rest = MAX_OPTION_SPACE - (TS_SPACE if timestamps else 0) - SACK_BASE
    return min(MAX_SACK_BLOCKS, rest // SACK_BLOCK)


@dataclass(slots=True)
class Timestamps:
    """One connection's timestamp state (RFC 7323 3 and 4.3)."""

    offset: int = 0
    enabled: bool = False  # both SYNs carried the option
    recent: int = 0  # TS.Recent

    def value(self, now: float) -> int:
        return ts_clock(now, self.offset)

    def on_syn(self, seg: Segment, offered: bool) -> None:
        """The peer's SYN (or SYN+ACK): negotiate, and remember its TSval."""
        stamp = seg.options.timestamp
        self.enabled = offered and stamp is not None
        if stamp is not None and self.enabled:
            self.recent = stamp[0]

    def on_arrival(self, seg: Segment, last_ack_sent: int) -> None:
        """An acceptable segment arrived: update TS.Recent as RFC 7323 4.3 says."""
        stamp = seg.options.timestamp
        if (self.enabled and stamp is not None and seq_ge(stamp[0], self.recent)
                and seq_le(seg.seq, last_ack_sent)):
            self.recent = stamp[0]


@dataclass(slots=True)
class ReceivedBlocks:
    """The receiver's SACK blocks, most recently changed first, and a pending D-SACK."""

    blocks: list[Block] = field(default_factory=list)
    dsack: Block | None = None

    def add(self, start: int, end: int) -> None:
        """Out-of-order data [start, end) arrived (or arrived again): its block first."""
        if seq_le(end, start):
            return
        rest: list[Block] = []
        for left, right in self.blocks:
            if seq_le(left, end) and seq_le(start, right):  # overlaps or touches: merge
                start = left if seq_lt(left, start) else start
                end = right if seq_gt(right, end) else end
            else:
                rest.append((left, right))
        self.blocks = [(start, end), *rest][:MAX_SACK_BLOCKS]

    def advance(self, rcv_nxt: int) -> None:
        """RCV.NXT moved: forget the blocks it reached."""
        self.blocks = [(a, b) for a, b in self.blocks if seq_gt(a, rcv_nxt)]

    def duplicate(self, start: int, end: int) -> None:
        self.dsack = (start, end)

    def clear(self) -> None:
        self.blocks.clear()
        self.dsack = None

    def pending(self, room: int) -> int:
        """How many blocks the next segment will carry."""
        return min(room, len(self.blocks) + (self.dsack is not None))

    def take(self, room: int) -> tuple[Block, ...]:
        """The blocks for the next ACK (at most ``room``); the D-SACK goes with it."""
        out = ([self.dsack] if self.dsack is not None else []) + self.blocks
        self.dsack = None
        return tuple(out[:room])


def duplicate_range(seg: Segment, rcv_nxt: int, held: dict[int, bytes]) -> Block | None:
    """The data of ``seg`` that already arrived (RFC 2883): the part below RCV.NXT, else
    its first overlap with data held out of order, extended over held data that follows
    (as Linux extends a D-SACK); None if all of it is new."""
    if not seg.length:
        return None
    start, end = seg.seq, (seg.seq + seg.length) % SEQ_MOD
    if seq_lt(start, rcv_nxt):
        return start, end if seq_le(end, rcv_nxt) else rcv_nxt
    # held data lies ahead of RCV.NXT, within the window: plain offsets from RCV.NXT
    lo_seg = (start - rcv_nxt) % SEQ_MOD
    hi_seg = lo_seg + seg.length
    overlaps = []
    for left, data in held.items():
        lo = (left - rcv_nxt) % SEQ_MOD
        hi = lo + len(data)
        if lo < hi_seg and lo_seg < hi:
            overlaps.append((max(lo, lo_seg), min(hi, hi_seg)))
    if not overlaps:
        return None
    overlaps.sort()
    lo, hi = overlaps[0]
    for left, right in overlaps[1:]:
        if left > hi:
            break
        hi = max(hi, right)
    return (rcv_nxt + lo) % SEQ_MOD, (rcv_nxt + hi) % SEQ_MOD


@dataclass(slots=True)
class Scoreboard:
    """The sender's record of SACKed ranges above SND.UNA (merged, in sequence order)."""

    ranges: list[Block] = field(default_factory=list)

    def update(self, blocks: tuple[Block, ...], snd_una: int, snd_nxt: int) -> None:
        """Take the SACK blocks of an arriving ACK; D-SACK and stale blocks add nothing."""
        merged = list(self.ranges)
        for left, right in blocks:
            if seq_lt(left, right) and seq_gt(left, snd_una) and seq_le(right, snd_nxt):
                merged.append((left, right))
        merged.sort(key=lambda block: seq_diff(block[0], snd_una))
        out: list[Block] = []
        for left, right in merged:
            if out and seq_le(left, out[-1][1]):
                if seq_gt(right, out[-1][1]):
                    out[-1] = (out[-1][0], right)
            else:
                out.append((left, right))
        self.ranges = out
        self.acked(snd_una)

    def acked(self, snd_una: int) -> None:
        """SND.UNA moved: forget what it covers."""
        self.ranges = [(a, b) for a, b in self.ranges if seq_gt(b, snd_una)]

    def next_sacked(self, seq: int) -> int | None:
        """Where the first SACKed range at or after ``seq`` starts (None: none)."""
        for left, right in self.ranges:
            if seq_gt(right, seq):
                return left if seq_gt(left, seq) else seq
        return None
