"""RFC 9293 3.10.7 ("SEGMENT ARRIVES") as a pure function: segment -> triggers.

The checks run in the RFC's order: per-state first steps for CLOSED, LISTEN and
SYN_SENT; then, for the other states, the sequence-number (acceptability) test, RST,
SYN, the ACK field, the segment text and FIN. The result is the list of triggers the
segment carries, to be looked up one after another in :mod:`core.tcp.table`.

Rules:
1. No side effects: :class:`Receiver` is a snapshot of what the receiving endpoint knows.
2. A retransmitted SYN or FIN (already received) is recognised by its sequence number
   before the acceptability test, which would otherwise drop it without the right answer.
3. A FIN counts only when it is in order (nothing missing before it).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.tcp.segment import Flag, Segment, seq_add, seq_diff, seq_gt, seq_in_window, seq_le, seq_lt
from core.tcp.states import TcpState, Trigger
from core.tcp.table import FIN_RECEIVED

S = TcpState
T = Trigger


def acks_new(snd_una: int, snd_nxt: int, ack: int) -> bool:
    """SND.UNA < ack <= SND.NXT: the ACK covers something new."""
    return seq_lt(snd_una, ack) and seq_le(ack, snd_nxt)


@dataclass(frozen=True, slots=True, kw_only=True)
class Receiver:
    """What the receiving endpoint knows when a segment arrives."""

    state: TcpState
    iss: int
    irs: int | None
    snd_una: int
    snd_nxt: int
    rcv_nxt: int
    rcv_wnd: int
    fin_seq: int | None
    fin_received: bool
    snd_wnd: int = 0
    snd_shift: int = 0
    dup_acks: int = 0
    rfc1337: bool = False

    def acks_new(self, ack: int) -> bool:
        return acks_new(self.snd_una, self.snd_nxt, ack)

    @property
    def fin_acked(self) -> bool:
        return self.fin_seq is not None and seq_gt(self.snd_una, self.fin_seq)


def is_duplicate_ack(r: Receiver, seg: Segment) -> bool:
    """RFC 5681's duplicate ACK: nothing new acknowledged, no data, no SYN/FIN, the same
    window, while data is outstanding."""
    return (seg.has(Flag.ACK) and seg.ack == r.snd_una and r.snd_nxt != r.snd_una
            and seg.length == 0 and not seg.flags & (Flag.SYN | Flag.FIN | Flag.RST)
            and seg.window << r.snd_shift == r.snd_wnd)


def acceptable(r: Receiver, seg: Segment) -> bool:
    """The segment-acceptability test (RFC 9293 3.10.7.4, its four cases)."""
    wnd, length = r.rcv_wnd, seg.seg_len
    if length == 0:
        return seg.seq == r.rcv_nxt if wnd == 0 else seq_in_window(seg.seq, r.rcv_nxt, wnd)
    if wnd == 0:
        return False
    return (seq_in_window(seg.seq, r.rcv_nxt, wnd)
            or seq_in_window(seq_add(seg.seq, length - 1), r.rcv_nxt, wnd))


def classify(r: Receiver, seg: Segment) -> list[Trigger]:
    """The triggers ``seg`` carries for an endpoint in the situation ``r``."""
    rst, syn, ack = seg.has(Flag.RST), seg.has(Flag.SYN), seg.has(Flag.ACK)
    if r.state is S.CLOSED:
        return [T.RCV_RST] if rst else [T.RCV_SYN] if syn and not ack else [T.RCV_SEGMENT]
    if r.state is S.LISTEN:
        return ([T.RCV_RST] if rst else [T.RCV_BAD_ACK] if ack else
                [T.RCV_SYN] if syn else [T.RCV_SEGMENT])
    if r.state is S.SYN_SENT:
        ack_ok = ack and seq_lt(r.iss, seg.ack) and seq_le(seg.ack, r.snd_nxt)
        if ack and not ack_ok:
            return [T.RCV_RST_IGNORED] if rst else [T.RCV_BAD_ACK]
        if rst:
            return [T.RCV_RST] if ack_ok else [T.RCV_RST_IGNORED]
        if syn:
            return [T.RCV_SYN_ACK] if ack_ok else [T.RCV_SYN]
        return [T.RCV_SEGMENT]
    return _classify_synchronized(r, seg)


def _classify_synchronized(r: Receiver, seg: Segment) -> list[Trigger]:
    rst, syn, ack, fin = (seg.has(Flag.RST), seg.has(Flag.SYN), seg.has(Flag.ACK),
                          seg.has(Flag.FIN))
    in_syn_received = r.state is S.SYN_RECEIVED
    if syn and not rst and seg.seq == r.irs:
        if not in_syn_received:
            return [T.RCV_UNACCEPTABLE]  # an old SYN or SYN+ACK: re-ACK
        if not ack:
            return [T.RCV_SYN_AGAIN]
        return [T.RCV_SYN_ACK] if r.acks_new(seg.ack) else [T.RCV_BAD_ACK]
    if fin and not rst and r.fin_received and seg.end == r.rcv_nxt:
        return [T.RCV_FIN]  # the peer's FIN again: our ACK of it was lost
    if not acceptable(r, seg):
        return [T.RCV_RST_IGNORED] if rst else [T.RCV_UNACCEPTABLE]
    if rst and r.rfc1337 and r.state is S.TIME_WAIT:
        return [T.RCV_RST_IGNORED]  # RFC 1337: TIME_WAIT is not assassinated
    if rst:
        return [T.RCV_RST] if seg.seq == r.rcv_nxt else [T.RCV_RST_IN_WINDOW]
    if syn:
        return [T.RCV_SYN]
    if not ack:
        return [T.RCV_SEGMENT]
    triggers: list[Trigger] = []
    if in_syn_received:
        if not r.acks_new(seg.ack):
            return [T.RCV_BAD_ACK]
        triggers.append(T.RCV_ACK_OF_SYN)
    elif seq_gt(seg.ack, r.snd_nxt):
        return [T.RCV_BAD_ACK]
    acks_fin = r.fin_seq is not None and not r.fin_acked and seq_gt(seg.ack, r.fin_seq)
    ahead = seq_diff(seg.seq, r.rcv_nxt)  # > 0: something is missing before this segment
    old = max(0, -ahead)
    fin_in_order = fin and ahead <= 0 and old <= seg.length and seg.length - old <= r.rcv_wnd
    data = [T.RCV_DATA] if seg.length > old or (seg.length and r.state in FIN_RECEIVED) else []
    if acks_fin and fin_in_order:
        return triggers + data + [T.RCV_FIN_ACK_OF_FIN]
    if acks_fin:
        triggers.append(T.RCV_ACK_OF_FIN)
    elif not in_syn_received:
        third = r.dup_acks == 2 and is_duplicate_ack(r, seg)
        triggers.append(T.RCV_THIRD_DUP_ACK if third else T.RCV_ACK)
    triggers += data
    if fin_in_order and r.state not in FIN_RECEIVED:
        triggers.append(T.RCV_FIN)
    return triggers
