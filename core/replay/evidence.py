"""What a capture proves about arrivals: ack coverage, TCP timestamps, SACK and D-SACK.

    number_lines(from_client, flags, seq, ack, seg_len) -> Lines
    arrival_proofs(lines, from_client, flags, seg_len, tsval, tsecr, sack) -> Proofs

Rules (each proof names, for a segment ``i`` sent by X, the segment ``m`` of the peer Y
that could not have been sent without some copy of ``i`` having reached Y):
1. **Timestamps** (RFC 7323). Y's TSecr is the TSval of a segment of X that Y had
   received. When exactly one captured segment of X carries that TSval (copies of the
   same packet count once), that segment arrived before ``m`` was sent.
2. **D-SACK** (RFC 2883). A first SACK block below the ACK number, or inside the second
   block, reports octets that arrived twice. When exactly two captured segments of X
   carry those octets before ``m``, both arrived.
3. **SACK** (RFC 2018). Octets inside a SACK block arrived. When one captured segment
   of X alone carried them before ``m``, it arrived.
4. **Ack coverage.** The first ACK of Y covering the end of ``i`` proves ``i`` arrived
   when ``i`` is the only captured segment of X carrying its first octet before that ACK.
   An RST with ACK counts: its ACK number is its sender's RCV.NXT, or, from a port with
   no connection, SEG.SEQ + SEG.LEN of the segment it answers (RFC 9293 3.10.7.1).
5. **The state machine.** A SYN+ACK sent by Y after its own SYN (a simultaneous open)
   comes from SYN_RECEIVED: Y received X's SYN. When one captured SYN of X precedes it,
   that SYN arrived. An RST without ACK from Y numbered with the ACK number of X's
   segments is a TCP without the connection answering one of them (<SEQ=SEG.ACK><CTL=
   RST>, RFC 9293 3.10.7.1): the last one captured before it, with nothing of Y's in
   between, arrived (earlier copies, had they arrived, would have had RSTs of their own).
   Not a SYN or FIN: one that reached a TCP without the connection changed no state,
   and a proof would make the walk apply it to the state Y had before it forgot.
6. **Old copies** (:func:`old_copies`). A segment identical to an earlier one of the same
   sender (numbers, flags, window) is that segment again, held up in the network, when
   it carries the same TSval, or an ACK number below one its sender already sent (a
   sender's ACK numbers never go back): it left when the earlier one did. A segment
   whose TSval is below one its sender already sent, seen more than ``STALE`` after the
   sender's latest earlier segment with a TSval not above its own, is old too (a
   sender's TSvals never go back, RFC 7323 section 5.4): it left right after that one.
   Without TSvals, an ACK number below one its sender already sent does the same, after
   the latest earlier segment acknowledging no more.
7. **A SYN+ACK resent by its timer.** A TCP in SYN_RECEIVED sends a SYN+ACK when a SYN
   arrives, or when its retransmission timer fires, at least ``RTO_MIN`` after its
   previous one. Two SYN+ACKs of Y less than ``RTO_MIN`` apart (the capture sees a
   sender's gaps as it made them), with the same numbers, after exactly two captured
   SYNs of X: one answers the second SYN, the other is the timer's, or answers another
   arrival, so Y was in SYN_RECEIVED before: the first SYN arrived (its SYN+ACK was
   lost before the capture point). Both SYNs at Linux's initial RTO of 1 s and a
   SYN+ACK lost on the way make exactly this: the timer fires as the second SYN arrives.
   A network duplicate of the second SYN would do the same, so the replay says both
   (:mod:`core.replay.ghosts` rule 2b).
Everything is per captured segment, in capture (timeline) order; ``-1`` means no proof.
Numbers are put on one line per side (``Lines``: 32-bit wrap-around removed) first.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np

Arr = np.ndarray[Any, np.dtype[Any]]
SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
M32 = 1 << 32
HALF = 1 << 31
#: Segments sharing one TSval beyond this many are a burst: no one of them is named.
_MAX_GROUP = 4
#: An old segment by its TSval alone (rule 6) is seen at least this long (seconds) after
#: the segment it left after: held up in the network, not merely reordered.
STALE = 1.0
#: The shortest retransmission timeout (Linux's TCP_RTO_MIN; RFC 6298 asks for 1 s)
RTO_MIN = 0.2
#: ``Proofs.how`` of rule 7
TIMER_SYN_ACK = "SYN+ACK timer"


def unwrap(values: Arr) -> Arr:
    """32-bit sequence numbers as int64 on one line (wrap-around removed, first kept)."""
    v = values.astype(np.int64)
    if v.size < 2:
        return v
    step = np.diff(v)
    step = (step + HALF) % M32 - HALF
    out = np.empty_like(v)
    out[0] = v[0]
    np.cumsum(step, out=out[1:])
    out[1:] += v[0]
    return out


@dataclass(frozen=True, slots=True)
class Lines:
    """Each side's sequence space as one line, 0 at its first captured number."""

    seq: Arr        # int64: the segment's seq on its sender's line
    end: Arr        # seq + SEG.LEN
    ack: Arr        # int64: the ACK number on the peer's line (0 without ACK)
    base: tuple[int, int]   # raw first seq of the client, of the server (-1: none)


def number_lines(from_client: Arr, flags: Arr, seq: Arr, ack: Arr, seg_len: Arr) -> Lines:
    n = from_client.shape[0]
    s_seq = np.zeros(n, np.int64)
    s_ack = np.zeros(n, np.int64)
    bases = [-1, -1]
    for pos, side in enumerate((True, False)):
        mine = from_client == side
        if not mine.any():
            continue
        base = int(seq[mine][0])
        bases[pos] = base
        s_seq[mine] = unwrap(seq[mine]) - base
        theirs = (~mine) & ((flags & ACK) != 0)
        if theirs.any():
            s_ack[theirs] = unwrap((ack[theirs].astype(np.int64) - base) % M32)
    return Lines(seq=s_seq, end=s_seq + seg_len, ack=s_ack, base=(bases[0], bases[1]))


@dataclass(frozen=True, slots=True)
class Proofs:
    """Per captured segment: the peer's segment that proves it arrived (or -1), and why."""

    by: Arr                 # int64 index of the proving segment, -1 when none
    how: list[str]          # "" or "timestamp", "D-SACK", "SACK", "ack", "SYN+ACK", "RST",
    #                         "SYN+ACK timer"
    dsack: Arr              # bool: this segment carries a D-SACK block
    dsack_range: Arr        # int64 (n, 2): the D-SACK octets on the sender's peer line

    def prove(self, i: int, m: int, how: str) -> None:
        if self.by[i] < 0 or m < self.by[i]:
            self.by[i] = m
            self.how[i] = how


def arrival_proofs(lines: Lines, from_client: Arr, flags: Arr, seg_len: Arr, tsval: Arr,
                   tsecr: Arr, sack_blocks: Arr, sack_edges: Arr, ack_raw: Arr,
                   time: Arr | None = None) -> Proofs:
    """Rules 1-5 and 7 (with the capture ``time`` of each segment) for every captured
    segment (arrays in timeline order)."""
    n = from_client.shape[0]
    proofs = Proofs(by=np.full(n, -1, np.int64), how=[""] * n, dsack=np.zeros(n, bool),
                    dsack_range=np.zeros((n, 2), np.int64))
    if n == 0:
        return proofs
    carries = seg_len > 0
    for side in (True, False):
        mine = np.flatnonzero(from_client == side)
        theirs = np.flatnonzero(from_client != side)
        if not mine.size or not theirs.size:
            continue
        _timestamps(proofs, mine, theirs, tsval, tsecr, lines, seg_len, flags)
        _sacks(proofs, mine, theirs, lines, carries, sack_blocks, sack_edges, ack_raw, flags)
        _coverage(proofs, mine, theirs, lines, carries, flags)
        _simultaneous_open(proofs, mine, theirs, flags, lines)
        _stray_reset(proofs, mine, theirs, flags, lines)
        if time is not None:
            _timer_syn_ack(proofs, mine, theirs, flags, lines, time)
    return proofs


def _timestamps(proofs: Proofs, mine: Arr, theirs: Arr, tsval: Arr, tsecr: Arr,
                lines: Lines, seg_len: Arr, flags: Arr) -> None:
    """Rule 1: the peer's TSecr names one of our segments."""
    vals = tsval[mine]
    has = vals >= 0
    if not has.any():
        return
    echoes = theirs[(tsecr[theirs] > 0) & ((flags[theirs] & ACK) != 0)]
    if not echoes.size:
        return
    # per TSval: the captured segments that carry it, told apart by their numbers
    groups: dict[int, list[int]] = {}
    for i, v in zip(mine[has].tolist(), vals[has].tolist(), strict=True):
        groups.setdefault(v, []).append(i)
    for m, echo in zip(echoes.tolist(), tsecr[echoes].tolist(), strict=True):
        group = groups.get(echo)
        if not group:
            continue
        count = bisect.bisect_left(group, m)       # the group is in capture order
        if count == 0 or count > _MAX_GROUP:
            continue
        first = group[0]
        key = (int(lines.seq[first]), int(seg_len[first]), int(flags[first]))
        if all((int(lines.seq[i]), int(seg_len[i]), int(flags[i])) == key
               for i in group[1:count]):
            proofs.prove(first, m, "timestamp")


def _shared(starts: Arr, ends: Arr) -> Arr:
    """Per segment: another segment also carries its first octet (at any time)."""
    n = starts.shape[0]
    out = np.zeros(n, bool)
    if n < 2:
        return out
    order = np.lexsort((-ends, starts))
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    before = np.empty(n, np.int64)
    before[0] = np.iinfo(np.int64).min
    before[1:] = reach[:-1]
    hit = before > s                               # an earlier start reaches past ours
    tie = np.zeros(n, bool)
    tie[1:] = s[1:] == s[:-1]
    tie[:-1] |= s[:-1] == s[1:]                    # another segment starts where we do
    out[order] = hit | tie
    return out


def _repeats(by_start: Arr, sorted_starts: Arr) -> Arr:
    """Per sender position: an earlier-captured segment starts at the same number."""
    out = np.zeros(by_start.size, bool)
    out[by_start[1:]] = sorted_starts[1:] == sorted_starts[:-1]   # stable: capture order
    return out


def _copies_before(i: int, limit: int, senders: Arr, starts: Arr, ends: Arr,
                   by_start: Arr, sorted_starts: Arr, widest: int, repeats: Arr) -> int:
    """How many of our segments other than ``i`` (sender position) carry its first octet
    and were captured before segment ``limit`` (which comes after ``i``); 1 at once when
    an earlier segment starts where ``i`` does (``repeats``): the callers only ask
    whether there is none, and g identical resends would otherwise cost g squared."""
    if repeats[i]:
        return 1
    s = int(starts[i])
    lo = int(np.searchsorted(sorted_starts, s - widest, side="left"))
    hi = int(np.searchsorted(sorted_starts, s, side="right"))
    cand = by_start[lo:hi]
    cand = cand[(ends[cand] > s) & (cand != i) & (senders[cand] < limit)]
    return int(cand.size)


def _sacks(proofs: Proofs, mine: Arr, theirs: Arr, lines: Lines, carries: Arr,
           sack_blocks: Arr, sack_edges: Arr, ack_raw: Arr, flags: Arr) -> None:
    """Rules 2 and 3: the peer's SACK blocks name octets that arrived (twice: D-SACK)."""
    reporters = theirs[(sack_blocks[theirs] > 0) & ((flags[theirs] & ACK) != 0)]
    senders = mine[carries[mine]]
    if not reporters.size or not senders.size:
        return
    starts, ends = lines.seq[senders], lines.end[senders]
    by_start = np.argsort(starts, kind="stable")
    sorted_starts = starts[by_start]
    repeats = _repeats(by_start, sorted_starts)
    widest = int((ends - starts).max())
    shared = _shared(starts, ends)
    for m in reporters.tolist():
        ack_line = int(lines.ack[m])
        raw_ack = int(ack_raw[m])
        blocks = []
        for b in range(int(sack_blocks[m])):
            left = ack_line + ((int(sack_edges[m, b, 0]) - raw_ack + HALF) % M32 - HALF)
            right = ack_line + ((int(sack_edges[m, b, 1]) - raw_ack + HALF) % M32 - HALF)
            if right > left:
                blocks.append((left, right))
        if not blocks:
            continue
        first = blocks[0]
        if first[1] <= ack_line or (
                len(blocks) > 1 and blocks[1][0] <= first[0] and first[1] <= blocks[1][1]):
            proofs.dsack[m] = True
            proofs.dsack_range[m] = first
            lo = int(np.searchsorted(sorted_starts, first[0] - widest, side="left"))
            hi = int(np.searchsorted(sorted_starts, first[1], side="left"))
            cand = by_start[lo:hi]
            cand = cand[(ends[cand] > first[0]) & (senders[cand] < m)]
            if cand.size == 2:
                for pos in cand.tolist():
                    proofs.prove(int(senders[pos]), m, "D-SACK")
            blocks = blocks[1:]
        for left, right in blocks:
            lo = int(np.searchsorted(sorted_starts, left, side="left"))
            hi = int(np.searchsorted(sorted_starts, right, side="left"))
            cand = by_start[lo:hi]
            cand = cand[(ends[cand] <= right) & (senders[cand] < m)]
            cand = cand[proofs.by[senders[cand]] < 0]
            for pos in cand.tolist():
                if not shared[pos] or _copies_before(pos, m, senders, starts, ends, by_start,
                                                     sorted_starts, widest, repeats) == 0:
                    proofs.prove(int(senders[pos]), m, "SACK")


def _coverage(proofs: Proofs, mine: Arr, theirs: Arr, lines: Lines, carries: Arr,
              flags: Arr) -> None:
    """Rule 4: the first covering ACK, when no other copy of the first octet preceded it."""
    acks = theirs[(flags[theirs] & ACK) != 0]
    senders = mine[carries[mine]]
    if not acks.size or not senders.size:
        return
    best = np.maximum.accumulate(lines.ack[acks])
    after = np.searchsorted(acks, senders, side="right")
    first = np.searchsorted(best, lines.end[senders], side="left")
    k = np.maximum(after, first)
    ok = k < acks.size
    cover = np.full(senders.size, -1, np.int64)
    cover[ok] = acks[k[ok]]
    starts, ends = lines.seq[senders], lines.end[senders]
    shared = _shared(starts, ends)
    alone = np.flatnonzero(ok & ~shared)
    better = (proofs.by[senders[alone]] < 0) | (cover[alone] < proofs.by[senders[alone]])
    proofs.by[senders[alone[better]]] = cover[alone[better]]
    for i in senders[alone[better]].tolist():
        proofs.how[i] = "ack"
    rest = np.flatnonzero(ok & shared)
    if not rest.size:
        return
    by_start = np.argsort(starts, kind="stable")
    sorted_starts = starts[by_start]
    repeats = _repeats(by_start, sorted_starts)
    widest = int((ends - starts).max())
    for pos in rest.tolist():
        c = int(cover[pos])
        if _copies_before(pos, c, senders, starts, ends, by_start, sorted_starts,
                          widest, repeats) == 0:
            proofs.prove(int(senders[pos]), c, "ack")
def _simultaneous_open(proofs: Proofs, mine: Arr, theirs: Arr, flags: Arr,
                       lines: Lines) -> None:
    """Rule 5: the peer's SYN+ACK after its own SYN proves our SYN arrived."""
    fl = flags & (SYN | ACK | RST)
    my_syns = mine[fl[mine] == SYN]
    their_syns = theirs[fl[theirs] == SYN]
    if not my_syns.size or not their_syns.size:
        return
    for m in theirs[fl[theirs] == SYN | ACK].tolist():
        if not (their_syns < m).any():
            continue
        before = my_syns[my_syns < m]
        if before.size == 1:
            proofs.prove(int(before[0]), m, "SYN+ACK")


def _stray_reset(proofs: Proofs, mine: Arr, theirs: Arr, flags: Arr, lines: Lines) -> None:
    """Rule 5, its RST: the peer's RST without ACK answers our last segment before it."""
    fl = flags & (SYN | ACK | RST)
    for m in theirs[fl[theirs] == RST].tolist():
        before = mine[mine < m]
        if not before.size:
            continue
        i = int(before[-1])
        if (theirs[(theirs > i) & (theirs < m)].size or not flags[i] & ACK
                or flags[i] & (RST | SYN | FIN) or lines.ack[i] != lines.seq[m]):
            continue
        proofs.prove(i, m, "RST")


def _timer_syn_ack(proofs: Proofs, mine: Arr, theirs: Arr, flags: Arr, lines: Lines,
                   time: Arr) -> None:
    """Rule 7: two SYN+ACKs of the peer too close for its timer prove our first SYN."""
    fl = flags & (SYN | ACK | RST | FIN)
    syns = mine[fl[mine] == SYN]
    answers = theirs[fl[theirs] == SYN | ACK]
    if syns.size < 2 or answers.size < 2:
        return
    for a, b in zip(answers[:-1].tolist(), answers[1:].tolist(), strict=True):
        if (time[b] - time[a] >= RTO_MIN or lines.seq[a] != lines.seq[b]
                or lines.ack[a] != lines.ack[b]):
            continue
        before = syns[syns < b]
        if (before.size == 2 and lines.seq[before[0]] == lines.seq[before[1]]
                and not (answers < before[1]).any()):
            proofs.prove(int(before[0]), b, TIMER_SYN_ACK)
        return


def old_copies(from_client: Arr, flags: Arr, seq: Arr, ack: Arr, length: Arr, window: Arr,
               ack_line: Arr, tsval: Arr, time: Arr | None = None) -> Arr:
    """Rule 6: per captured segment, the earlier segment it is a delayed copy of, or -1."""
    n = from_client.shape[0]
    out = np.full(n, -1, np.int64)
    if n < 2:
        return out
    has_ack = (flags & ACK) != 0
    for side in (True, False):
        mine = np.flatnonzero(from_client == side)
        if mine.size < 2:
            continue
        acks = np.where(has_ack[mine], ack_line[mine], np.iinfo(np.int64).min)
        before = np.maximum.accumulate(acks)
        behind = np.zeros(mine.size, bool)
        behind[1:] = has_ack[mine][1:] & (acks[1:] < before[:-1])
        # identical rows (numbers, flags, window) grouped; each row's first sighting
        cols = (window[mine], length[mine], flags[mine], ack[mine], seq[mine])
        order = np.lexsort((np.arange(mine.size), *cols))
        same = np.ones(mine.size, bool)
        for col in cols:
            c = col[order]
            same[1:] &= c[1:] == c[:-1]
        same[0] = False
        if not same.any():
            continue
        group_start = np.maximum.accumulate(np.where(same, 0, np.arange(mine.size)))
        again = np.flatnonzero(same)
        pos, first = order[again], order[group_start[again]]
        k, j = mine[pos], mine[first]
        stamped = (tsval[k] >= 0) & (tsval[k] == tsval[j])
        hit = stamped | behind[pos]
        out[k[hit]] = j[hit]
    if time is not None:
        for side in (True, False):
            _stale(np.flatnonzero((from_client == side) & (tsval >= 0)), tsval, time, out)
            _behind(np.flatnonzero((from_client == side) & (tsval < 0) & has_ack),
                    ack_line, time, out)
    return out


def _behind(mine: Arr, ack_line: Arr, time: Arr, out: Arr) -> None:
    """Rule 6 by the ACK number alone (no TSval): ``mine`` are one sender's unstamped
    segments with an ACK, in capture order; an ACK number below one the sender already
    sent marks an old segment, when it was seen more than ``STALE`` after the sender's
    latest earlier segment acknowledging no more: it left right after that one."""
    if mine.size < 2:
        return
    acks = ack_line[mine]
    before = np.maximum.accumulate(acks)
    for pos in (np.flatnonzero(acks[1:] < before[:-1]) + 1).tolist():
        k = int(mine[pos])
        if out[k] >= 0:
            continue
        # the latest earlier one acknowledging no more: nearly always close behind
        low = max(0, pos - 64)
        fit = np.flatnonzero(acks[low:pos] <= acks[pos]) + low
        if not fit.size and low:
            fit = np.flatnonzero(acks[:low] <= acks[pos])
        if fit.size and time[k] - time[mine[fit[-1]]] > STALE:
            out[k] = mine[fit[-1]]


def _stale(mine: Arr, tsval: Arr, time: Arr, out: Arr) -> None:
    """Rule 6 by TSval alone: ``mine`` are one sender's stamped segments in capture
    order; a TSval below the largest before it marks an old segment, when it was seen
    more than ``STALE`` after the segment it is placed after (nearer, it is reordering,
    which the timing's per-direction rules place)."""
    if mine.size < 2:
        return
    ts = unwrap(tsval[mine])
    before = np.maximum.accumulate(ts)
    stale = np.zeros(mine.size, bool)
    stale[1:] = ts[1:] < before[:-1]
    if not stale.any():
        return
    fresh = np.flatnonzero(~stale)           # their TSvals never go down
    fresh_ts = ts[fresh]
    for pos in np.flatnonzero(stale).tolist():
        k = int(mine[pos])
        if out[k] >= 0:
            continue                          # an identical copy: already placed
        upto = int(np.searchsorted(fresh, pos))
        at = int(np.searchsorted(fresh_ts[:upto], ts[pos], side="right")) - 1
        if at >= 0 and time[k] - time[mine[fresh[at]]] > STALE:
            out[k] = mine[fresh[at]]
