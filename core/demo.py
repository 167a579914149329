"""The bundled demo: handshake, "hello" / "OK", four-way close, TIME_WAIT.

Placeholder built by hand; to be replaced by a run of two real endpoints.
"""

from __future__ import annotations

from core.segment import Flag, Segment
from core.states import Side, TcpState, Timer
from core.trace import Peer, StateChanged, Timeline, TimelineBuilder, TimerStarted

C, S = Side.CLIENT, Side.SERVER
A = Flag.ACK
T = TcpState


def demo_timeline() -> Timeline:
    b = TimelineBuilder(title="Demo: handshake, hello/OK, close",
                        client=Peer(side=C, address="10.0.0.1", port=34694),
                        server=Peer(side=S, address="10.0.0.2", port=5000), msl=30.0,
                        initial=(T.CLOSED, T.LISTEN))
    d = 0.010
    state = {C: T.CLOSED, S: T.LISTEN}

    def change(time: float, side: Side, new: TcpState, index: int | None) -> None:
        if new is not state[side]:
            b.add(StateChanged(time=time, side=side, old=state[side], new=new,
                               trigger=None, segment=index))
            state[side] = new

    # (send time, sender, segment, sender's state after sending, receiver's after arrival)
    steps: list[tuple[float, Side, Segment, TcpState | None, TcpState | None]] = [
        (0.000, C, Segment(seq=1000, flags=Flag.SYN, window=64240), T.SYN_SENT, T.SYN_RECEIVED),
        (0.010, S, Segment(seq=5000, ack=1001, flags=Flag.SYN | A, window=65160), None,
         T.ESTABLISHED),
        (0.020, C, Segment(seq=1001, ack=5001, flags=A, window=502), None, T.ESTABLISHED),
        (0.030, C, Segment.with_payload(seq=1001, ack=5001, flags=Flag.PSH | A, window=502,
                                        payload=b"hello"), None, None),
        (0.040, S, Segment(seq=5001, ack=1006, flags=A, window=509), None, None),
        (0.050, S, Segment.with_payload(seq=5001, ack=1006, flags=Flag.PSH | A, window=509,
                                        payload=b"OK"), None, None),
        (0.060, C, Segment(seq=1006, ack=5003, flags=A, window=502), None, None),
        (0.080, C, Segment(seq=1006, ack=5003, flags=Flag.FIN | A, window=502), T.FIN_WAIT_1,
         T.CLOSE_WAIT),
        (0.090, S, Segment(seq=5003, ack=1007, flags=A, window=509), None, T.FIN_WAIT_2),
        (0.100, S, Segment(seq=5003, ack=1007, flags=Flag.FIN | A, window=509), T.LAST_ACK,
         T.TIME_WAIT),
        (0.110, C, Segment(seq=1007, ack=5004, flags=A, window=502), None, T.CLOSED),
    ]
    for sent, sender, seg, sender_new, receiver_new in steps:
        index = b.sent(sent, sender, seg)
        if sender_new is not None:
            change(sent, sender, sender_new, index)
        b.arrived(sent + d, index)
        if receiver_new is not None:
            change(sent + d, sender.peer, receiver_new, index)
            if receiver_new is T.TIME_WAIT:
                b.add(TimerStarted(time=sent + d, side=C, timer=Timer.TIME_WAIT,
                                   deadline=sent + d + 60.0))
    return b.build()
