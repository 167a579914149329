"""Ghosts: segments a replayed stream proves were sent, though the capture never shows them.

    find_ghosts(columns, one_way=..., unseen_syn_acks=...) -> list[SegmentRecord]

Rules:
1. Per direction, the sender's captured segments (their ``[seq, seq + SEG.LEN)``) and the
   peer's ACK numbers are walked in frame order on one sequence line; ``hi`` is the
   highest sequence number they reached so far. A segment that starts above ``hi`` skips
   ``[hi, seq)`` (tshark's ``lost_segment``); an ACK above ``hi`` acknowledges
   ``[hi, ack)`` (``ack_lost_segment``): either way those octets were sent, uncaptured,
   and make one ghost (one per gap, whatever the MSS). A one-octet gap at the number a
   captured FIN of the sender occupies (its resend) is a FIN (rule 1c). The first number
   of a direction
   only starts its line. RST segments are no evidence (their numbers are often
   arbitrary), nor is a gap wider than ``MAX_GAP`` (garbage, not missing data).
2. An ACK sent from SYN_SENT proves the peer's SYN+ACK (rule 4 of
   :mod:`core.replay.infer`): a ghost ``[S.]`` with seq ``ack - 1``.
2b. A SYN that :mod:`core.replay.evidence` rule 7 proves arrived (two SYN+ACKs at once
   later: the timer's and an answer) was answered at its arrival by a SYN+ACK with the
   same numbers as those two, which the client never got (it sent the SYN again): a
   ghost ``[S.]``, lost. The network may instead have duplicated the second SYN, the
   first being lost: one loss either way, so a doubt says both (``doubts``).
2c. A FIN the capture proves arrived (:mod:`core.replay.evidence`: a timestamp echo),
   that its sender sent again (another TSval: not a copy the link made) before any
   captured segment of the receiver acknowledged it, was acknowledged at once (a FIN is
   ACKed without delay) by an ACK the capture lacks, lost on the way: a ghost ``[.]``,
   lost, numbered as the receiver's segment that proves the FIN (unless another ghost of
   the receiver's acknowledges it, or its next captured segment is numbered past what it
   had sent: an uncaptured segment, such as its own FIN, carried the ACK). The classic
   lost last ACK.
3. A skipped ghost was sent half-way between its sender's captured neighbours; an
   acknowledged one, or a SYN+ACK, one one-way delay before the ACK that proves it, not
   before the sender's previous packet (for a SYN+ACK: the SYN's arrival), nor before
   the capture's first send when nothing precedes it. A ghost arrives one flight later,
   no later than the first ACK that covers it (nor, when skipped, than the segment that
   skipped it). It is lost when its first octet is sent again, captured, before any ACK
   covers it (as :mod:`core.replay.timing` rule 3); an acknowledged one always arrived.
3a. Without timestamps, a skipped gap whose first octet is captured later (the resend
   of rule 3) may as well be the first copy, overtaken on the way: one loss against
   none. Only feedback can make a sender resend early: when no peer segment sent after
   the skipping one arrived could have reached the sender before that copy left, and
   less than ``RTO_MIN`` passed, it was not resent: no ghost. Otherwise the ghost stays
   (lost, resent) with a doubt: "either ... or reordered" (``doubts``).
4. Ghosts are ordered by send time; ``index`` is the position in that order, ``frame``
   is None, the ack and window come from the nearest captured packet of the sender
   (0 when there is none), and ``labels[0]`` says which frame proves the ghost.
5. Everything up to building the records is vectorised: a 100,000-segment stream with
   no gap costs a few numpy passes (3 ms); each ghost then costs one record (~10 us).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.replay.evidence import unwrap
from core.tcp.segment import Flag, Segment
from core.tcp.states import Side
from core.trace import SegmentRecord, Uncertainty

Arr = np.ndarray[Any, np.dtype[Any]]
M = 0xFFFFFFFF
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
#: A gap wider than this is taken for garbage numbers, not for missing octets.
MAX_GAP = 1 << 30
#: The shortest retransmission timeout a sender uses (Linux's TCP_RTO_MIN, 200 ms).
RTO_MIN = 0.2
#: ``find_ghosts``'s mark of a rule 2b ghost (other ghosts: -1, or rule 3a's resend)
ANSWER = -2
SKIPPED, ACKED = 0, 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Columns:
    """The captured segments of one stream, in timeline (frame) order, as arrays."""

    from_client: Arr        # bool
    flags: Arr              # int64
    seq: Arr                # int64, raw 32-bit
    ack: Arr                # int64, raw 32-bit
    seg_len: Arr            # int64: payload + SYN + FIN
    window: Arr             # int64: the raw window field
    frame: Arr              # int64: frame numbers
    send: Arr               # float64 seconds
    arrive: Arr             # float64 seconds, nan when lost
    rel_seq: Arr            # int64: core.analysis relative seq (for the labels)
    rel_ack: Arr            # int64: core.analysis relative ack, -1 without ACK
    tsval: Arr | None = None   # int64 TSval, -1 without timestamps


@dataclass(frozen=True, slots=True)
class _Gaps:
    """The ghosts of one direction found by rule 1 (one entry each)."""

    kind: Arr               # SKIPPED or ACKED
    at: Arr                 # timeline index of the proving packet
    start: Arr              # sequence line (int64, congruent to the raw number mod 2**32)
    end: Arr
    cover: Arr              # timeline index of the first ACK covering the ghost, or -1
    resent: Arr             # timeline index of a captured resend before cover, or -1


def find_ghosts(c: Columns, *, one_way: float, unseen_syn_acks: Sequence[int] = (),
                answered_syns: Sequence[tuple[int, int]] = (),
                proved_fins: Sequence[tuple[int, int]] = (),
                doubts: list[Uncertainty] | None = None) -> list[SegmentRecord]:
    """The ghosts of one replayed stream (module rules); ``one_way`` is the estimated
    one-way delay, ``unseen_syn_acks`` the segments that prove an uncaptured SYN+ACK,
    ``answered_syns`` the (SYN, SYN+ACK proving it arrived) of rule 2b, ``proved_fins``
    the (FIN, segment proving it arrived) of rule 2c;
    rule 3a's doubts are appended to ``doubts``."""
    n = int(c.send.shape[0])
    if n == 0:
        return []
    start_time = float(np.nanmin(c.send))
    made: list[tuple[float, int, SegmentRecord, int]] = []
    for client in (True, False):
        gaps = _reordered_out(c, _gaps(c, client), client)
        if gaps.at.size:
            made += _gap_records(c, gaps, client, one_way, start_time)
    done: set[int] = set()
    for k in unseen_syn_acks:
        syn_ack = (int(c.ack[k]) - 1) & M
        if syn_ack not in done:
            done.add(syn_ack)
            made.append((*_syn_ack_record(c, k, one_way, start_time), -1))
    for syn, proof in answered_syns:
        if c.arrive[syn] == c.arrive[syn]:
            made.append((*_answer_record(c, syn, proof), ANSWER))
    for fin, proof in proved_fins:
        record = _fin_ack_record(c, fin, proof)
        if record is not None and not any(      # a ghost of the receiver's carries it
                rec.sender is record[2].sender and rec.segment.flags & Flag.ACK
                and ((rec.segment.ack - record[2].segment.ack) & M) < 1 << 31
                for _, _, rec, _ in made):
            made.append((*record, -1))
    made.sort(key=lambda item: (item[0], item[1]))
    out = [replace(rec, index=i) for i, (_, _, rec, _) in enumerate(made)]
    if doubts is not None:
        doubts += [_reorder_doubt(rec, again) for rec, (_, _, _, again)
                   in zip(out, made, strict=True) if again >= 0]
        doubts += [_duplicate_doubt(rec, syn) for rec, (_, syn, _, again)
                   in zip(out, made, strict=True) if again == ANSWER]
    return out


def _gaps(c: Columns, client: bool) -> _Gaps:
    """Rule 1 for the data sent by the client (``client``) or the server, vectorised."""
    mine = c.from_client == client
    usable = (c.flags & RST) == 0
    pos = np.flatnonzero(usable & (mine | ((c.flags & ACK) != 0)))   # frame order
    empty = np.zeros(0, np.int64)
    if pos.size < 2:
        return _Gaps(empty, empty, empty, empty, empty, empty)
    is_y = mine[pos]
    line = unwrap(np.where(is_y, c.seq[pos], c.ack[pos]))
    end = line + np.where(is_y, c.seg_len[pos], 0)
    hi = np.maximum.accumulate(end)
    width = line[1:] - hi[:-1]
    at = np.flatnonzero((width > 0) & (width <= MAX_GAP)) + 1
    if not at.size:
        return _Gaps(empty, empty, empty, empty, empty, empty)
    before = hi[at - 1]
    g_start, g_end, g_pos = before, line[at], pos[at]
    # the first ACK after the proving packet that covers the whole gap
    x_pos, x_line = pos[~is_y], line[~is_y]
    cover = np.full(at.size, -1, np.int64)
    if x_pos.size:
        best = np.maximum.accumulate(x_line)
        j = np.maximum(np.searchsorted(x_pos, g_pos, side="right"),
                       np.searchsorted(best, g_end, side="left"))
        ok = j < x_pos.size
        cover[ok] = x_pos[j[ok]]
    # a captured segment of the sender, after the proving one, starting where the gap does
    y_pos, y_line = pos[is_y], line[is_y]
    resent = np.full(at.size, -1, np.int64)
    if y_pos.size:
        low = int(y_line.min())
        n_plus = int(c.send.shape[0]) + 1
        key = (y_line - low) * n_plus + y_pos
        ordered = np.sort(key)
        idx = np.searchsorted(ordered, (g_start - low) * n_plus + g_pos + 1, side="left")
        ok = idx < ordered.size
        hit = np.full(at.size, -1, np.int64)
        hit[ok] = ordered[idx[ok]]
        same = ok & (hit // n_plus + low == g_start)
        when = hit % n_plus
        before_cover = (cover < 0) | (when < cover)
        resent[same & before_cover] = when[same & before_cover]
    return _Gaps(np.where(is_y[at], SKIPPED, ACKED), g_pos, g_start, g_end, cover, resent)


def _reordered_out(c: Columns, gaps: _Gaps, client: bool) -> _Gaps:
    """Rule 1b: a skipped gap whose first octet comes later (at any time) in a segment
    stamped no later than the one that skipped it (TSval) was not resent: that segment
    is the original, overtaken on the way (reordered, or held up for long), so there is
    no ghost."""
    if c.tsval is None or not gaps.at.size:
        return gaps
    late = np.zeros(gaps.at.size, bool)
    starts = gaps.start & M
    asked = (gaps.kind == SKIPPED) & (c.tsval[gaps.at] >= 0)
    if not asked.any():
        return gaps
    # the sender's stamped segments starting where an asked gap does, by number (one pass)
    cand = np.flatnonzero((c.from_client == client) & (c.tsval >= 0)
                          & np.isin(c.seq, starts[asked]))
    where: dict[int, list[int]] = {}
    for k, number in zip(cand.tolist(), c.seq[cand].tolist(), strict=True):
        where.setdefault(int(number), []).append(k)
    for g in np.flatnonzero(asked).tolist():
        at, ts_at = int(gaps.at[g]), int(c.tsval[gaps.at[g]])
        there = [k for k in where.get(int(starts[g]), ()) if k > at]
        late[g] = any(((ts_at - int(c.tsval[k])) % (1 << 32)) < (1 << 31) for k in there)
    if not late.any():
        return gaps
    keep = ~late
    return _Gaps(gaps.kind[keep], gaps.at[keep], gaps.start[keep], gaps.end[keep],
                 gaps.cover[keep], gaps.resent[keep])


def _gap_records(c: Columns, gaps: _Gaps, client: bool, one_way: float,
                 start_time: float) -> list[tuple[float, int, SegmentRecord, int]]:
    """Rules 3-4 for the ghosts of one direction: (sent, proving segment, ghost, the
    segment that may be its first copy reordered (rule 3a) or -1)."""
    sender = Side.CLIENT if client else Side.SERVER
    mine = np.flatnonzero(c.from_client == client)
    base = _base(c, client)
    prev = np.searchsorted(mine, gaps.at, side="left") - 1
    fin_at = mine[(c.flags[mine] & (FIN | RST)) == FIN]
    fins = {(int(c.seq[k]) + int(c.seg_len[k]) - 1) & M for k in fin_at.tolist()}
    out = []
    feedback: _Feedback | None = None          # made on the first unstamped resend
    for kind, k, start, end, cover, resent, p in zip(
            gaps.kind.tolist(), gaps.at.tolist(), gaps.start.tolist(), gaps.end.tolist(),
            gaps.cover.tolist(), gaps.resent.tolist(), prev.tolist(), strict=True):
        before = int(mine[p]) if p >= 0 else None
        send_k = float(c.send[k])
        lo = float(c.send[before]) if before is not None else start_time
        if kind == SKIPPED:
            sent = (min(lo, send_k) + send_k) / 2
            flight = float(c.arrive[k]) - send_k
            flight = one_way if flight != flight else flight    # nan: k was lost
            limit = [float(c.arrive[k])] if c.arrive[k] == c.arrive[k] else []
            if cover >= 0:
                limit.append(float(c.send[cover]))
            arrived: float | None = max(sent, min([sent + flight, *limit]))
            source = k
        else:
            sent = min(max(lo, send_k - one_way), send_k)
            arrived = max(sent, min(sent + one_way, send_k))
            source = before if before is not None else _first_after(mine, k)
        ack_no, win, has_ack = _numbers(c, source, k)
        a, b = (start - base) & M, (end - base) & M
        frame = int(c.frame[k])
        doubt = -1
        if kind == SKIPPED:
            why = f"not captured: frame {frame} skips bytes {a}:{b}"
            if resent >= 0:
                stamped = c.tsval is not None and int(c.tsval[resent]) >= 0
                if not stamped:
                    if feedback is None:
                        feedback = _Feedback(c, client)
                    if not _could_resend(c, feedback, k, resent, sent, one_way):
                        continue                        # rule 3a: the first copy, late
                    doubt = resent
                arrived = None
                why += f"; lost: sent again in frame {int(c.frame[resent])}"
        else:
            why = f"not captured: frame {frame} acknowledges bytes {a}:{b}"
        flags = Flag.ACK if has_ack else Flag(0)
        length = end - start
        if length == 1 and (start & M) in fins:
            flags |= Flag.FIN           # rule 1c: the octet a captured FIN occupies
            length = 0
            why = why.replace(f"bytes {a}:{b}", "a FIN")
        seg = Segment(seq=start & M, ack=ack_no, flags=flags, window=win, length=length)
        out.append((sent, k, SegmentRecord(index=0, sender=sender, segment=seg, sent=sent,
                                           arrived=arrived, labels=(why,), ghost=True),
                    doubt))
    return out


class _Feedback:
    """The peer's non-RST segments of one direction by send time, with the earliest
    arrival among those sent at or after each: one search per question (rule 3a)."""

    def __init__(self, c: Columns, client: bool) -> None:
        peer = np.flatnonzero((c.from_client != client) & ((c.flags & RST) == 0))
        order = np.argsort(c.send[peer], kind="stable")
        self.send = c.send[peer][order]
        back = c.arrive[peer][order]
        back = np.where(np.isnan(back), np.inf, back)
        self.first_back = np.minimum.accumulate(back[::-1])[::-1]

    def back_by(self, sent_from: float, until: float) -> bool:
        """A peer segment sent at ``sent_from`` or later arrived by ``until``."""
        at = int(np.searchsorted(self.send, sent_from, side="left"))
        return at < self.send.size and bool(self.first_back[at] <= until)


def _could_resend(c: Columns, feedback: _Feedback, k: int, resent: int, sent: float,
                  one_way: float) -> bool:
    """Rule 3a: could the sender have resent, at ``resent``, the octets segment ``k``
    skipped (first sent at ``sent``)? After ``RTO_MIN``, or once a peer segment sent after
    ``k`` arrived can have reached it (estimates get a quarter flight of slack)."""
    left = float(c.send[resent])
    if left - sent >= RTO_MIN:
        return True
    slack = max(0.25 * one_way, 1e-3)
    got = float(c.arrive[k]) if c.arrive[k] == c.arrive[k] else float(c.send[k]) + one_way
    return feedback.back_by(got - slack, left + slack)


def _reorder_doubt(ghost: SegmentRecord, again: int) -> Uncertainty:
    """Rule 3a's doubt about ``ghost``, resent (or not) by the Timeline's segment ``again``."""
    return Uncertainty(
        time=ghost.sent, side=None, segments=(again,),            # no state in doubt
        text=("either the first copy of these bytes was lost before the capture point and "
              "this is its resend (shown), or this is that first copy, overtaken on the "
              "way (reordered): the capture has no timestamps to tell"),
        alternative_unsent=(ghost.index,))


def _syn_ack_record(c: Columns, k: int, one_way: float,
                    start_time: float) -> tuple[float, int, SegmentRecord]:
    """Rule 2: the SYN+ACK that ACK ``k`` (sent from SYN_SENT) acknowledges."""
    client = bool(c.from_client[k])
    sender = Side.SERVER if client else Side.CLIENT
    syns = np.flatnonzero((c.from_client[:k] == client) & ((c.flags[:k] & (SYN | ACK)) == SYN))
    lo, ack_no = start_time, int(c.seq[k])
    if syns.size:
        syn = int(syns[-1])
        ack_no = (int(c.seq[syn]) + 1) & M
        lo = float(c.send[syn]) if c.arrive[syn] != c.arrive[syn] else float(c.arrive[syn])
    send_k = float(c.send[k])
    sent = min(max(lo, send_k - one_way), send_k)
    arrived = max(sent, min(sent + one_way, send_k))
    theirs = np.flatnonzero((c.from_client == (not client)) & ((c.flags & RST) == 0))
    win = int(c.window[theirs[0]]) if theirs.size else 0
    seg = Segment(seq=(int(c.ack[k]) - 1) & M, ack=ack_no, flags=Flag.SYN | Flag.ACK,
                  window=win)
    why = f"not captured: frame {int(c.frame[k])} acknowledges it from SYN_SENT"
    return sent, k, SegmentRecord(index=0, sender=sender, segment=seg, sent=sent,
                                  arrived=arrived, labels=(why,), ghost=True)


def _answer_record(c: Columns, syn: int, proof: int) -> tuple[float, int, SegmentRecord]:
    """Rule 2b: the lost SYN+ACK that answered SYN ``syn`` (``proof`` is a later one)."""
    why = (f"not captured: frame {int(c.frame[proof])} and the SYN+ACK just before it, "
           f"sent at once, are the timer's and an answer: this one answered frame "
           f"{int(c.frame[syn])}; lost: the SYN was sent again")
    return _lost_answer(c, syn, proof, int(c.ack[proof]) & M, Flag.SYN | Flag.ACK, why)


def _fin_ack_record(c: Columns, fin: int, proof: int,
                    ) -> tuple[float, int, SegmentRecord] | None:
    """Rule 2c: the lost ACK of FIN ``fin``, proved arrived by ``proof``."""
    if c.arrive[fin] != c.arrive[fin] or not c.flags[fin] & FIN:
        return None
    mine = c.from_client == c.from_client[fin]
    end = (int(c.seq[fin]) + int(c.seg_len[fin])) & M
    again = np.flatnonzero(mine & ((c.flags & FIN) != 0) & (c.seq == c.seq[fin]))
    again = again[again > fin]
    if not again.size:
        return None
    resend = int(again[0])
    if c.tsval is None or c.tsval[fin] < 0 or c.tsval[resend] == c.tsval[fin]:
        return None                 # a copy the link made, or nothing names the first
    theirs = np.flatnonzero(~mine & ((c.flags & ACK) != 0))
    between = theirs[(theirs > fin) & (theirs < resend)]
    if any(((int(c.ack[j]) - end) & M) < 1 << 31 for j in between.tolist()):
        return None
    peer = np.flatnonzero(~mine & ((c.flags & RST) == 0))
    before, after = peer[peer < fin], peer[peer > fin]
    if before.size and after.size:        # octets of the receiver's never captured:
        high = int(c.seq[before[-1]]) + int(c.seg_len[before[-1]])
        if 0 < ((int(c.seq[after[0]]) - high) & M) < 1 << 31:
            return None                   # a segment that could carry the ACK
    why = (f"not captured: frame {int(c.frame[proof])} shows frame {int(c.frame[fin])} "
           f"arrived, and a FIN is ACKed at once; lost: frame {int(c.frame[resend])} "
           f"sends the FIN again")
    return _lost_answer(c, fin, proof, end, Flag.ACK, why)


def _lost_answer(c: Columns, k: int, proof: int, ack: int, flags: Flag,
                 why: str) -> tuple[float, int, SegmentRecord]:
    """Rules 2b and 2c: the answer to segment ``k``, sent as it arrived and lost on the
    way, numbered as its sender's segment ``proof``."""
    sent = float(c.arrive[k])
    seg = Segment(seq=int(c.seq[proof]) & M, ack=ack, flags=flags,
                  window=int(c.window[proof]))
    return sent, k, SegmentRecord(index=0, sender=Side.SERVER if c.from_client[k]
                                  else Side.CLIENT, segment=seg, sent=sent, arrived=None,
                                  labels=(why,), ghost=True)


def _duplicate_doubt(ghost: SegmentRecord, syn: int) -> Uncertainty:
    """Rule 2b's doubt: the SYN was lost, and the network duplicated the next one."""
    peer = ghost.sender.value
    return Uncertainty(
        time=ghost.sent, side=None, segments=(syn,),
        text=(f"either this SYN arrived and the {peer}'s SYN+ACK to it was lost (shown: "
              f"the {peer} later sends two SYN+ACKs at once, its timer's and the answer "
              f"to the next SYN), or it was lost and the network duplicated the next SYN"),
        alternative_lost=(syn,), alternative_unsent=(ghost.index,))


def _first_after(mine: Arr, k: int) -> int | None:
    j = int(np.searchsorted(mine, k, side="right"))
    return int(mine[j]) if j < mine.size else None


def _numbers(c: Columns, source: int | None, k: int) -> tuple[int, int, bool]:
    """(ack, window, ACK flag) for a ghost: from the sender's packet ``source`` when there
    is one, else (an acknowledged ghost) the seq of the peer's packet ``k`` that ACKs it."""
    if source is None:
        return int(c.seq[k]) & M, 0, True
    has_ack = bool(c.flags[source] & ACK)
    return (int(c.ack[source]) & M if has_ack else 0), int(c.window[source]), has_ack


def _base(c: Columns, client: bool) -> int:
    """The number tshark's relative sequence numbers of ``client``'s data start from."""
    mine = np.flatnonzero(c.from_client == client)
    if mine.size:
        k = int(mine[0])
        return (int(c.seq[k]) - int(c.rel_seq[k])) & M
    theirs = np.flatnonzero((c.from_client != client) & (c.rel_ack >= 0))
    if theirs.size:
        k = int(theirs[0])
        return (int(c.ack[k]) - int(c.rel_ack[k])) & M
    return 0
