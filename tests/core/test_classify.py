"""The segment classifier on its own: RFC 9293's acceptability table and check order."""

from __future__ import annotations

import pytest

from core.tcp.classify import Receiver, acceptable, classify
from core.tcp.segment import SEQ_MOD, Flag, Segment
from core.tcp.states import TcpState, Trigger

A = Flag.ACK
T = Trigger


def receiver(state: TcpState = TcpState.ESTABLISHED, *, rcv_nxt: int = 1000,
             rcv_wnd: int = 100, fin_seq: int | None = None, fin_received: bool = False,
             snd_una: int = 500, snd_nxt: int = 500) -> Receiver:
    return Receiver(state=state, iss=499, irs=999, snd_una=snd_una, snd_nxt=snd_nxt,
                    rcv_nxt=rcv_nxt, rcv_wnd=rcv_wnd, fin_seq=fin_seq,
                    fin_received=fin_received)


@pytest.mark.parametrize(("seq", "length", "wnd", "ok"), [
    (1000, 0, 0, True), (1001, 0, 0, False),          # SEG.LEN 0, RCV.WND 0
    (1000, 0, 100, True), (1099, 0, 100, True), (1100, 0, 100, False), (999, 0, 100, False),
    (1000, 10, 0, False),                              # data into a zero window
    (990, 20, 100, True), (990, 10, 100, False),       # tail inside / entirely old
    (1095, 10, 100, True), (1100, 10, 100, False),     # head inside / beyond the window
])
def test_acceptability_cases(seq: int, length: int, wnd: int, ok: bool) -> None:
    seg = Segment(seq=seq, ack=500, flags=A, length=length)
    assert acceptable(receiver(rcv_wnd=wnd), seg) is ok


def test_acceptability_across_wraparound() -> None:
    r = receiver(rcv_nxt=SEQ_MOD - 10, rcv_wnd=100)
    assert acceptable(r, Segment(seq=5, ack=500, flags=A))
    assert not acceptable(r, Segment(seq=SEQ_MOD - 11, ack=500, flags=A))


def test_check_order_in_synchronized_states() -> None:
    r = receiver()
    assert classify(r, Segment(seq=10, flags=Flag.RST)) == [T.RCV_RST_IGNORED]
    assert classify(r, Segment(seq=1000, flags=Flag.RST)) == [T.RCV_RST]
    assert classify(r, Segment(seq=1050, flags=Flag.RST)) == [T.RCV_RST_IN_WINDOW]
    assert classify(r, Segment(seq=1010, flags=Flag.SYN)) == [T.RCV_SYN]
    assert classify(r, Segment(seq=999, flags=Flag.SYN | A, ack=500)) == [T.RCV_UNACCEPTABLE]
    assert classify(r, Segment(seq=1000, ack=600, flags=A)) == [T.RCV_BAD_ACK]
    data_fin = Segment(seq=1000, ack=500, flags=A | Flag.FIN, length=5)
    assert classify(r, data_fin) == [T.RCV_ACK, T.RCV_DATA, T.RCV_FIN]
    early_fin = Segment(seq=1010, ack=500, flags=A | Flag.FIN, length=5)
    assert classify(r, early_fin) == [T.RCV_ACK, T.RCV_DATA]  # out of order: FIN waits


def test_fin_that_acks_our_fin() -> None:
    r = receiver(TcpState.FIN_WAIT_1, fin_seq=500, snd_nxt=501)
    assert classify(r, Segment(seq=1000, ack=501, flags=A | Flag.FIN)) == [
        T.RCV_FIN_ACK_OF_FIN]
    assert classify(r, Segment(seq=1000, ack=500, flags=A | Flag.FIN)) == [T.RCV_ACK, T.RCV_FIN]
    assert classify(r, Segment(seq=1000, ack=501, flags=A)) == [T.RCV_ACK_OF_FIN]


def test_retransmitted_fin_is_recognised() -> None:
    r = receiver(TcpState.TIME_WAIT, rcv_nxt=1001, fin_received=True)
    assert classify(r, Segment(seq=1000, ack=500, flags=A | Flag.FIN)) == [T.RCV_FIN]
