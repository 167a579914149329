"""When each captured segment left its sender and reached its receiver.

Rules:
1. A segment seen at time t was sent ``delta_sender`` before t and arrives
   ``delta_receiver`` after it (see :mod:`core.replay.roles`). A segment seen at two
   capture points (a merged capture) left at the first sighting and arrived at the
   second; one seen only at its sender's point was lost between them, one seen only at
   its receiver's point (a copy the link made) arrived there.
2. Ack numbers are evidence and win over the delay estimate: a segment arrives no later
   than the peer sends the first ACK that covers it; a SYN or FIN arrives after the
   peer sent anything that does not acknowledge it (a FIN that does not ACK the peer's
   FIN was sent before that FIN arrived).
3. A segment with sequence space is lost when the same bytes are sent again before any
   ACK covers them, unless the capture point is next to the receiver (``CapturePoint.
   next_to``; there, what is seen has arrived), or the capture proves it arrived
   (:mod:`core.replay.evidence`: timestamps, SACK, D-SACK, ack coverage, a simultaneous
   open); a proved segment arrives no later than the proving segment was sent, and the
   proving segment is sent after it (no later than it was seen). A side's SYN+ACK after
   its own SYN is not a resend of that SYN (``_mark_lost`` says when it counts as one).
4. Per direction the link is first-in first-out: nothing arrives after a later segment
   of the same direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.replay.evidence import Lines, Proofs
from core.replay.roles import CapturePoint

Arr = np.ndarray[Any, np.dtype[Any]]
SYN, FIN, ACK = 0x02, 0x01, 0x10
#: How much later than the evidence an arrival is placed when it must come after it.
EPSILON = 1e-9
#: A flight longer than LATE times the one-way delay plus LATE_SLACK (seconds: jitter
#: and queueing on a quiet path) is not plausible (core.replay.explain uses the same)
LATE, LATE_SLACK = 3.0, 0.005


def schedule(time: Arr, from_client: Arr, flags: Arr, lines: Lines, seg_len: Arr,
             point: CapturePoint, copy_time: Arr | None = None,
             proofs: Proofs | None = None,
             at_receiver: Arr | None = None, tsval: Arr | None = None) -> tuple[Arr, Arr]:
    """``(send, arrive)`` per segment (capture order); ``arrive`` is nan when lost."""
    n = time.shape[0]
    d_send = np.where(from_client, point.delta_client, point.delta_server)
    d_recv = np.where(from_client, point.delta_server, point.delta_client)
    send = time - d_send
    arrive = time + d_recv
    if copy_time is not None and bool(np.any(~np.isnan(copy_time))):
        send = time.copy()
        arrive = copy_time.copy()            # nan where not seen again: lost on the way
        if at_receiver is not None and at_receiver.any():
            # seen once, at its receiver's end: it arrived; it left one flight earlier
            arrive[at_receiver] = time[at_receiver]
            send[at_receiver] = time[at_receiver] - point.one_way
        _ties(from_client, flags, lines, seg_len, send, arrive)
        return send, arrive
    if n == 0:
        return send, arrive
    s_seq, s_ack = lines.seq, lines.ack
    end = s_seq + seg_len
    lost = np.zeros(n, bool)
    for side in (True, False):
        _direction(np.flatnonzero(from_client == side), np.flatnonzero(
            (from_client != side) & ((flags & ACK) != 0)), np.flatnonzero(from_client != side),
            flags, s_seq, s_ack, end, seg_len, send, arrive, lost,
            near_receiver=point.next_to(not side),
            proved=None if proofs is None else proofs.by, tsval=tsval,
            flight=max(LATE * point.one_way, point.one_way + LATE_SLACK))
    if proofs is not None:
        proved = np.flatnonzero(proofs.by >= 0)
        by = proofs.by[proved]
        # the proving segment left after the proved one arrived: where the delay estimate
        # puts it earlier (jitter), it left as late as its sighting allows
        np.maximum.at(send, by, np.minimum(time[by], send[proved] + 2 * EPSILON))
        arrive[proved] = np.minimum(arrive[proved], send[by])
    arrive[lost] = np.nan
    arrive = np.maximum(arrive, send)
    return send, arrive


def _direction(mine: Arr, acks: Arr, theirs: Arr, flags: Arr, s_seq: Arr, s_ack: Arr,
               end: Arr, seg_len: Arr, send: Arr, arrive: Arr, lost: Arr, *,
               near_receiver: bool, proved: Arr | None, tsval: Arr | None = None,
               flight: float = 0.0) -> None:
    """Rules 2-4 for the segments ``mine`` (one direction), against the peer's ``acks``."""
    if not mine.size:
        return
    carries = mine[seg_len[mine] > 0]
    if acks.size and carries.size:
        best = np.maximum.accumulate(s_ack[acks])
        after = np.searchsorted(acks, carries, side="right")
        first = np.searchsorted(best, end[carries], side="left")
        k = np.maximum(after, first)
        ok = k < acks.size
        cover = np.full(carries.size, -1, np.int64)
        cover[ok] = acks[k[ok]]
    else:
        cover = np.full(carries.size, -1, np.int64)
    if not near_receiver and carries.size:
        _mark_lost(carries, cover, s_seq, end, lost, send, flags, theirs, tsval, flight)
        if proved is not None:
            lost[carries[proved[carries] >= 0]] = False
    has_cover = cover >= 0
    idx = carries[has_cover]
    arrive[idx] = np.minimum(arrive[idx], send[cover[has_cover]])
    # SYN and FIN: after the peer's last packet that does not acknowledge them
    special = np.flatnonzero((flags[carries] & (SYN | FIN)) != 0)
    for pos in special.tolist():
        i = int(carries[pos])
        if lost[i]:
            continue
        limit = int(cover[pos]) if cover[pos] >= 0 else None
        later = theirs[theirs > i]
        if limit is not None:
            later = later[later < limit]
        if later.size:
            j = int(later[-1])
            before = not flags[j] & ACK or s_ack[j] < end[i]
            if before:
                arrive[i] = max(arrive[i], send[j] + EPSILON)
        if limit is not None:
            if arrive[i] - TIE <= send[limit] < arrive[i]:
                send[limit] = arrive[i] + EPSILON   # one instant: the ACK of it came after
            arrive[i] = min(arrive[i], send[limit])
    # first in, first out per direction (lost segments do not hold others back)
    alive = mine[~lost[mine]]
    if alive.size:
        arrive[alive] = np.minimum.accumulate(arrive[alive][::-1])[::-1]


#: Two times this close are one instant for a capture's clock (microsecond stamps).
TIE = 1e-6


def _ties(from_client: Arr, flags: Arr, lines: Lines, seg_len: Arr, send: Arr,
          arrive: Arr) -> None:
    """Rule 2 for measured times: a SYN or FIN that arrives at the very instant its
    receiver sends a segment not acknowledging it arrived just after that send, and the
    receiver's segments of that instant that acknowledge it left just after it arrived."""
    special = np.flatnonzero(((flags & (SYN | FIN)) != 0) & ~np.isnan(arrive))
    for i in special.tolist():
        peer = from_client != from_client[i]
        near = np.flatnonzero(peer & (np.abs(send - arrive[i]) <= TIE))
        answers = []
        for k in near.tolist():
            if not flags[k] & ACK or lines.ack[k] < lines.seq[i] + seg_len[i]:
                arrive[i] = max(arrive[i], send[k] + EPSILON)
            else:
                answers.append(k)
        # ... and one that acknowledges it, sent in that instant, left after it arrived
        for k in answers:
            if send[k] <= arrive[i]:
                send[k] = arrive[i] + EPSILON
                arrive[k] = max(arrive[k], send[k])


#: An identical segment this soon after another, with nothing from the peer between, is
#: the link's duplicate: no TCP resends that fast (Linux's quickest, a tail loss probe,
#: waits 10 ms; a fast retransmit waits for the peer's duplicate ACKs). With timestamps,
#: the same TSval says so at any distance: a resend carries a new one.
LINK_COPY = 0.001


def _mark_lost(carries: Arr, cover: Arr, s_seq: Arr, end: Arr, lost: Arr, send: Arr,
               flags: Arr, theirs: Arr, tsval: Arr | None = None,
               flight: float = 0.0) -> None:
    """Rule 3: sent again (same start) before an ACK covered it; a duplicate the link
    made (``LINK_COPY``) is not a resend. Nor is the SYN+ACK a side sends after its SYN
    (a simultaneous open: the peer's SYN reached it, whatever became of its own),
    unless the peer ACKs that SYN+ACK before any copy of it (from SYN_SENT, which
    answers a SYN+ACK at once; from SYN_RECEIVED, where our SYN took it, a TCP sends
    nothing for it, so only a copy of it gets an ACK), or sends its SYN again, still
    in SYN_SENT, longer after our SYN than any plausible ``flight``."""
    starts = s_seq[carries]
    order = np.lexsort((carries, starts))
    sorted_starts = starts[order]
    same_next = np.zeros(carries.size, bool)
    same_next[:-1] = sorted_starts[1:] == sorted_starts[:-1]
    for pos in np.flatnonzero(same_next).tolist():
        here, again = order[pos], order[pos + 1]
        i, i2 = int(carries[here]), int(carries[again])
        covered_at = int(cover[here])
        if 0 <= covered_at <= i2:
            continue
        if (flags[i] & (SYN | ACK) == SYN and flags[i2] & (SYN | ACK) == SYN | ACK
                and not _acked_at_once(pos, order, sorted_starts, carries, cover)
                and not any(flags[j] & (SYN | ACK) == SYN and send[j] > send[i] + flight
                            for j in theirs[theirs > i].tolist())):
            continue        # a simultaneous open's SYN+ACK answers the peer's SYN
        if end[i2] == end[i] and flags[i2] == flags[i]:
            if tsval is not None and tsval[i] >= 0:
                if tsval[i2] == tsval[i]:
                    continue
            elif (abs(send[i2] - send[i]) < LINK_COPY       # nothing from the peer between
                    and np.searchsorted(theirs, i, "right") == np.searchsorted(theirs, i2)):
                continue
        lost[i] = True


def _acked_at_once(pos: int, order: Arr, sorted_starts: Arr, carries: Arr,
                   cover: Arr) -> bool:
    """The SYN+ACK at sorted position ``pos + 1`` is ACKed before any copy of it."""
    answered = int(cover[order[pos + 1]])
    if answered < 0:
        return False
    nxt = pos + 2
    return not (nxt < order.size and sorted_starts[nxt] == sorted_starts[pos]
                and int(carries[order[nxt]]) < answered)
