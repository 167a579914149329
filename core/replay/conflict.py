"""Rule 7 of :mod:`core.replay.infer`: what a side may send in its state, and the
:class:`Conflict` a forbidden send is (:mod:`core.replay.explain` repairs the fates
behind it).

A CLOSED side sends nothing but RST or a new SYN, a SYN+ACK comes from SYN_RECEIVED,
nothing is resent once the peer's ACK of it arrived (data of more than one octet, or a
FIN, wholly below SND.UNA; a one-octet keep-alive probe ends at SND.UNA and is allowed),
no SYN is sent once synchronized.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.tcp.segment import Flag, flags_text, seq_diff
from core.tcp.states import Side, TcpState

S = TcpState
SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
_MASK = 0xFFFFFFFF

TOO_FAR, MISSING_SYN, MISSING_SYN_ACK, UNANSWERED, PROMPTED, ELIMINATED = (
    "too far", "missing SYN", "missing SYN+ACK", "unanswered probe", "prompted",
    "prompted, by elimination")


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """Rule 7 broken: segment ``segment`` could not be sent from ``state``."""

    segment: int
    side: Side
    state: TcpState
    kind: str                   # TOO_FAR: an arrival moved the side on too early;
    #                             MISSING_SYN: it must have received the peer's SYN
    culprit: int | None         # TOO_FAR: the arrival behind the side's last change
    reason: str


def send_conflict(state: TcpState, flags: int, seq: int, length: int, iss: int | None,
                  snd_una: int | None, cause: int | None,
                  answered: bool = True) -> str | None:
    """Rule 7: None when a side in ``state`` may send this segment, else the conflict kind;
    ``answered``: the side sent a SYN+ACK since it entered SYN_RECEIVED."""
    if flags & RST:
        return None
    syn, ack = flags & SYN, flags & ACK
    if state is S.CLOSED or state is S.LISTEN:
        fresh = iss is None or seq != iss
        if syn and fresh and (state is S.CLOSED or ack):
            return None                       # connect(), or a SYN+ACK to an unseen SYN
        return TOO_FAR if cause is not None else None
    if state is S.SYN_SENT:
        if syn:
            return MISSING_SYN if ack else None
        # an ACK from SYN_SENT: the peer's SYN+ACK came (a captured one, if there is
        # one, arrived; otherwise rule 4 infers an uncaptured one)
        return MISSING_SYN_ACK if ack else None
    if state is S.SYN_RECEIVED:
        # a SYN taken in SYN_SENT is answered by SYN+ACK before anything else
        return None if syn or answered or cause is None else TOO_FAR
    if syn:
        return TOO_FAR                        # the handshake is not over for this side
    if state is S.FIN_WAIT_2 or state is S.TIME_WAIT:
        end = (seq + length + (1 if flags & FIN else 0)) & _MASK
        if (length or flags & FIN) and snd_una is not None and seq_diff(end, snd_una) > 0:
            return TOO_FAR                    # resends what the peer's ACK covered
    return None


def conflict_of(k: int, side: Side, state: TcpState, kind: str, culprit: int | None,
                flags: int) -> Conflict:
    """The conflict of segment ``k`` (with ``flags``) sent by ``side`` in ``state``."""
    return Conflict(segment=k, side=side, state=state, kind=kind, culprit=culprit,
                    reason=f"{side.value} sends {flags_text(Flag(flags & 0x1FF))} in "
                           f"{state.value}")
