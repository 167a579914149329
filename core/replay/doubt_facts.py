"""The facts the doubts reason from: one stream's captured segments as plain lists.

    Stream, near_side(s, side), states_of(inference, initial, side), name, what

Shared by :mod:`core.replay.doubts` and :mod:`core.replay.opening_doubts`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.replay.roles import NEAR
from core.replay.sides import Inference
from core.tcp.states import Side, TcpState
from core.trace import StateChanged

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10

#: another reading's state sequences, walked with some fates changed
Other = Callable[[dict[int, float | None]], tuple[tuple[Side, tuple[TcpState, ...]], ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream:
    """The captured segments of one stream, in timeline order, as plain lists."""

    from_client: Sequence[bool]
    flags: Sequence[int]
    seq_line: Sequence[int]      # evidence.Lines.seq
    end_line: Sequence[int]      # evidence.Lines.end
    ack_line: Sequence[int]      # evidence.Lines.ack
    send: Sequence[float]
    proved_by: Sequence[int]
    timestamps: bool             # the stream carries TCP timestamps
    delta_client: float
    delta_server: float
    same_host: bool = False      # seen at both ends, or both on one host (loopback)
    server_port: int = 0
    syns: Sequence[int] = ()     # the segments with SYN (SYN+ACK too), in order


def name(side: Side) -> str:
    """How the texts name a side."""
    return side.value


def near_side(s: Stream, side: Side) -> bool:
    """True when the capture point is next to ``side``."""
    total = s.delta_client + s.delta_server
    if total <= 0 or s.same_host:
        return True                    # no delay measurable: what is seen, happened
    mine = s.delta_client if side is Side.CLIENT else s.delta_server
    return mine < NEAR * total


def what(flags: int) -> str:
    if flags & RST:
        return "RST"
    if flags & SYN:
        return "SYN+ACK" if flags & ACK else "SYN"
    if flags & FIN:
        return "FIN"
    return "segment"


def states_of(inference: Inference, initial: tuple[TcpState, TcpState],
              side: Side) -> tuple[TcpState, ...]:
    out = [initial[0] if side is Side.CLIENT else initial[1]]
    for ev in inference.sparse:
        if isinstance(ev, StateChanged) and ev.side is side:
            out.append(ev.new)
    return tuple(out)
