"""Endpoint pairs on a fake link, one function per situation the classic material teaches.

Each scenario drives a :class:`core.simulate.pair.Pair` step by step and asserts both sides'
states together after every step that matters. ``test_rows.py`` runs each one as a
test and all of them together to check that every row of the transition table is
exercised.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.simulate.pair import Pair
from core.tcp.machine import EndpointConfig
from core.tcp.segment import Flag, Segment, seq_add
from core.tcp.states import Side, TcpState, Timer, Trigger
from core.tcp.table import Row

C, S = Side.CLIENT, Side.SERVER
T = TcpState
RowHook = Callable[[TcpState, Trigger, Row], None] | None
A = Flag.ACK

#: ISS values close to 2**32, so every scenario also crosses the sequence-space wrap
CLIENT_ISS = 2**32 - 3
SERVER_ISS = 2**32 - 1000


def make_pair(on_row: RowHook, *, client: dict[str, object] | None = None,
              server: dict[str, object] | None = None) -> Pair:
    return Pair(EndpointConfig(**{"iss": CLIENT_ISS, **(client or {})}),  # type: ignore[arg-type]
                EndpointConfig(**{"iss": SERVER_ISS, **(server or {})}),  # type: ignore[arg-type]
                on_row=on_row)


def check(pair: Pair, client: TcpState, server: TcpState) -> None:
    assert pair.states == (client, server), f"expected {client.value}/{server.value}, " \
        f"got {pair.states[0].value}/{pair.states[1].value}"


def established(on_row: RowHook, *, client: dict[str, object] | None = None,
                server: dict[str, object] | None = None) -> Pair:
    pair = make_pair(on_row, client=client, server=server)
    pair.app(S, "passive_open")
    check(pair, T.CLOSED, T.LISTEN)
    pair.app(C, "active_open")
    check(pair, T.SYN_SENT, T.LISTEN)
    syn = pair.deliver(C)
    assert syn.flags == Flag.SYN
    check(pair, T.SYN_SENT, T.SYN_RECEIVED)
    syn_ack = pair.deliver(S)
    assert syn_ack.flags == Flag.SYN | A and syn_ack.ack == seq_add(CLIENT_ISS, 1)
    check(pair, T.ESTABLISHED, T.SYN_RECEIVED)
    pair.deliver(C)
    check(pair, T.ESTABLISHED, T.ESTABLISHED)
    assert not pair.flights
    return pair


def forge(pair: Pair, sender: Side, flags: Flag, *, seq_offset: int = 0, ack_offset: int = 0,
          payload: bytes = b"", seq: int | None = None, ack: int | None = None) -> None:
    """Inject a segment from ``sender`` numbered relative to what its peer expects.

    Each forged segment comes a second after the last, past the re-ACK rate limit."""
    pair.at(pair.now + 1.0)
    receiver = pair.endpoints[sender.peer]
    seg_seq = seq if seq is not None else seq_add(receiver.rcv_nxt, seq_offset)
    seg_ack = ack if ack is not None else seq_add(receiver.snd_nxt, ack_offset)
    pair.inject(sender, Segment(seq=seg_seq, ack=seg_ack if flags & A else 0, flags=flags,
                                window=1000, length=len(payload), payload=payload))


# ----- opening ---------------------------------------------------------------------------

def handshake(on_row: RowHook) -> None:
    established(on_row)


def hello_ok(on_row: RowHook) -> None:
    pair = established(on_row)
    pair.app(C, "send", b"hello")
    data = pair.deliver(C)
    assert data.flags == Flag.PSH | A and data.length == 5
    assert pair.deliver(S).ack == seq_add(CLIENT_ISS, 6)
    pair.app(S, "send", b"OK")
    pair.deliver(S)
    pair.deliver(C)
    check(pair, T.ESTABLISHED, T.ESTABLISHED)
    assert pair.client.snd_una == seq_add(CLIENT_ISS, 6)  # across 2**32


def simultaneous_open(on_row: RowHook) -> None:
    pair = make_pair(on_row)
    pair.app(C, "active_open")
    pair.app(S, "active_open")
    check(pair, T.SYN_SENT, T.SYN_SENT)
    pair.deliver(C)  # client's SYN reaches the server
    check(pair, T.SYN_SENT, T.SYN_RECEIVED)
    pair.deliver(S)  # server's SYN reaches the client
    check(pair, T.SYN_RECEIVED, T.SYN_RECEIVED)
    pair.deliver(S)  # server's SYN+ACK
    check(pair, T.ESTABLISHED, T.SYN_RECEIVED)
    pair.deliver(C)  # client's SYN+ACK
    check(pair, T.ESTABLISHED, T.ESTABLISHED)


def syn_ack_lost(on_row: RowHook) -> None:
    pair = make_pair(on_row)
    pair.app(S, "passive_open")
    pair.app(C, "active_open")
    pair.deliver(C)
    pair.drop(S)  # the SYN+ACK is lost
    check(pair, T.SYN_SENT, T.SYN_RECEIVED)
    pair.fire_timers()  # the client's RTO (1 s): SYN again
    pair.fire_timers()  # the server's RTO (1.01 s): SYN+ACK again
    assert {f.segment.flags for f in pair.flights} == {Flag.SYN, Flag.SYN | A}
    pair.deliver(C)  # the retransmitted SYN: server sends SYN+ACK again
    check(pair, T.SYN_SENT, T.SYN_RECEIVED)
    pair.deliver(S)
    check(pair, T.ESTABLISHED, T.SYN_RECEIVED)
    pair.deliver(S)  # the duplicate SYN+ACK: client re-ACKs
    pair.deliver_all()
    check(pair, T.ESTABLISHED, T.ESTABLISHED)


def old_duplicate_syn(on_row: RowHook) -> None:
    """RFC 9293 figure 9: an old SYN reaches the server; the client's RST undoes it."""
    pair = make_pair(on_row)
    pair.app(S, "passive_open")
    pair.inject(C, Segment(seq=90, flags=Flag.SYN, window=1000))
    check(pair, T.CLOSED, T.SYN_RECEIVED)
    pair.deliver(S)  # SYN+ACK reaches a client with no connection: RST
    assert pair.pending(C)[0].segment.flags == Flag.RST
    pair.deliver(C)
    check(pair, T.CLOSED, T.LISTEN)
    pair.inject(C, Segment(seq=1, flags=Flag.RST, window=0))  # dropped by a listener
    check(pair, T.CLOSED, T.LISTEN)


def connect_closed_port(on_row: RowHook) -> None:
    pair = make_pair(on_row)
    pair.app(C, "active_open")
    pair.deliver(C)
    rst = pair.pending(S)[0].segment
    assert rst.flags == Flag.RST | A and rst.ack == seq_add(CLIENT_ISS, 1)
    pair.deliver(S)
    check(pair, T.CLOSED, T.CLOSED)
    assert pair.client.error == "connection refused"


def listener_odd_segments(on_row: RowHook) -> None:
    pair = make_pair(on_row)
    pair.app(S, "passive_open")
    pair.inject(C, Segment(seq=7, ack=99, flags=A, window=10))  # an ACK: answered by RST
    assert pair.pending(S)[0].segment == Segment(seq=99, flags=Flag.RST)
    pair.drop(S)
    pair.inject(C, Segment(seq=7, flags=Flag(0), window=10))  # no flags at all: dropped
    check(pair, T.CLOSED, T.LISTEN)
    assert not pair.flights
    pair.app(S, "close")
    check(pair, T.CLOSED, T.CLOSED)


def syn_sent_odd_segments(on_row: RowHook) -> None:
    pair = make_pair(on_row)
    pair.app(C, "active_open")
    pair.drop(C)
    iss1 = seq_add(CLIENT_ISS, 1)
    pair.inject(S, Segment(seq=500, ack=seq_add(CLIENT_ISS, 77), flags=Flag.SYN | A))
    assert pair.pending(C)[0].segment.flags == Flag.RST  # old SYN+ACK: RST, keep waiting
    pair.drop(C)
    pair.inject(S, Segment(seq=500, ack=seq_add(CLIENT_ISS, 77), flags=Flag.RST | A))
    pair.inject(S, Segment(seq=500, flags=Flag.RST))  # RST without ACK: ignored
    pair.inject(S, Segment(seq=500, ack=iss1, flags=A))  # acceptable ACK, no SYN: dropped
    check(pair, T.SYN_SENT, T.CLOSED)
    assert not pair.flights
    pair.app(C, "send", b"early")  # waits in the buffer
    pair.app(C, "close")
    check(pair, T.CLOSED, T.CLOSED)


def syn_received_odd_segments(on_row: RowHook) -> None:
    pair = make_pair(on_row)
    pair.app(S, "passive_open")
    pair.app(C, "active_open")
    pair.deliver(C)
    pair.drop(S)
    check(pair, T.SYN_SENT, T.SYN_RECEIVED)
    pair.app(S, "send", b"queued")  # data waits for the handshake
    forge(pair, C, A, ack_offset=5)  # ACK of something never sent: RST
    assert pair.pending(S)[0].segment.flags == Flag.RST
    pair.drop(S)
    forge(pair, C, A | Flag.RST, seq_offset=3)  # RST in window, not exact: challenge ACK
    forge(pair, C, A | Flag.RST, seq_offset=100_000)  # outside the window: dropped
    forge(pair, C, Flag.PSH, payload=b"x")  # no ACK bit: dropped
    forge(pair, C, A, seq_offset=-50)  # out of window: re-ACK
    check(pair, T.SYN_SENT, T.SYN_RECEIVED)
    assert [f.segment.flags for f in pair.pending(S)] == [A, A]
    for _ in range(2):
        pair.drop(S)
    forge(pair, C, Flag.SYN, seq_offset=10)  # a new SYN in the window: back to LISTEN
    check(pair, T.SYN_SENT, T.LISTEN)


def syn_received_reset(on_row: RowHook) -> None:
    """After a passive open an RST returns to LISTEN; after an active open it closes."""
    pair = make_pair(on_row)
    pair.app(S, "passive_open")
    pair.app(C, "active_open")
    pair.deliver(C)
    pair.drop(S)
    forge(pair, C, Flag.RST)
    check(pair, T.SYN_SENT, T.LISTEN)

    pair = make_pair(on_row)
    pair.app(C, "active_open")
    pair.app(S, "active_open")
    pair.deliver(S)  # the server's SYN reaches the client first: simultaneous open
    check(pair, T.SYN_RECEIVED, T.SYN_SENT)
    forge(pair, S, Flag.SYN, seq_offset=10)  # a new SYN after an active open: challenge ACK
    check(pair, T.SYN_RECEIVED, T.SYN_SENT)
    assert pair.pending(C)[-1].segment.flags == A
    forge(pair, S, Flag.RST)
    check(pair, T.CLOSED, T.SYN_SENT)
    assert pair.client.error == "connection refused"


def syn_received_close(on_row: RowHook) -> None:
    pair = make_pair(on_row)
    pair.app(S, "passive_open")
    pair.app(C, "active_open")
    pair.deliver(C)
    pair.app(S, "close")  # FIN waits until the SYN is acknowledged
    check(pair, T.SYN_SENT, T.FIN_WAIT_1)
    assert [f.segment.flags for f in pair.pending(S)] == [Flag.SYN | A]
    pair.deliver(S)
    pair.deliver(C)  # ACK of the SYN: now the FIN goes
    assert pair.pending(S)[0].segment.flags == Flag.FIN | A
    pair.deliver(S)
    check(pair, T.CLOSE_WAIT, T.FIN_WAIT_1)
    pair.deliver(C)
    check(pair, T.CLOSE_WAIT, T.FIN_WAIT_2)


def handshake_times_out(on_row: RowHook) -> None:
    """Every SYN+ACK is lost: the half-open connection is dropped, the server listens on."""
    pair = make_pair(on_row)
    pair.app(S, "passive_open")
    pair.inject(C, Segment(seq=90, flags=Flag.SYN, window=1000))
    while pair.server.state is T.SYN_RECEIVED:
        while pair.flights:
            pair.drop()
        pair.fire_timers()
    check(pair, T.CLOSED, T.LISTEN)
    assert pair.now >= 300.0

    pair = make_pair(on_row)
    pair.app(C, "active_open")  # every SYN is lost: connect() times out
    while pair.client.state is T.SYN_SENT:
        while pair.flights:
            pair.drop()
        pair.fire_timers()
    check(pair, T.CLOSED, T.CLOSED)
    assert pair.client.error == "connection timed out"

    pair = make_pair(on_row)
    pair.app(C, "active_open")
    pair.app(S, "active_open")
    pair.deliver(C)
    pair.deliver(S)
    check(pair, T.SYN_RECEIVED, T.SYN_RECEIVED)
    while pair.states != (T.CLOSED, T.CLOSED):
        while pair.flights:
            pair.drop()
        pair.fire_timers()


# ----- data and synchronized-state checks ----------------------------------------------

def synchronized_odd_segments(on_row: RowHook) -> None:
    pair = established(on_row)
    forge(pair, C, A, seq_offset=-10)  # old duplicate: re-ACK RCV.NXT
    forge(pair, C, Flag.RST | A, seq_offset=5)  # RST in window, inexact: challenge ACK
    forge(pair, C, Flag.RST | A, seq_offset=-7)  # RST outside the window: dropped
    forge(pair, C, Flag.PSH, payload=b"no ack bit")  # dropped
    forge(pair, C, Flag.SYN, seq_offset=9)  # SYN on an established connection: challenge
    forge(pair, C, A, ack_offset=40)  # ACK of unsent data: re-ACK, drop
    check(pair, T.ESTABLISHED, T.ESTABLISHED)
    assert [f.segment.flags for f in pair.pending(S)] == [A, A, A, A]
    assert pair.server.received == b""


def data_after_fin_ignored(on_row: RowHook) -> None:
    pair = established(on_row)
    pair.app(C, "close")
    pair.deliver(C)
    pair.deliver(S)
    check(pair, T.FIN_WAIT_2, T.CLOSE_WAIT)
    forge(pair, C, A | Flag.PSH, payload=b"late")  # data beyond the FIN: ignored
    assert pair.server.received == b"" and pair.server.rcv_nxt == seq_add(CLIENT_ISS, 2)


def retransmission_timeout(on_row: RowHook) -> None:
    pair = established(on_row, server={"auto_read": False})
    pair.app(C, "send", b"hello")
    pair.drop(C)
    pair.fire_timers()  # RTO: the data is still in the send buffer, sent again
    again = pair.pending(C)[0].segment
    assert again.payload == b"hello" and again.seq == seq_add(CLIENT_ISS, 1)
    # sent at 30 ms; the handshake measured a 20 ms RTT, so the RTO is its 200 ms floor
    assert pair.now == pytest.approx(0.030 + 0.200)
    pair.drop(C)
    pair.fire_timers()  # backed off: 400 ms later
    assert pair.now == pytest.approx(0.230 + 0.400)
    pair.deliver_all()
    assert pair.server.read(pair.now) == b"hello"
    assert pair.client.snd_una == pair.client.snd_nxt


# ----- closing ---------------------------------------------------------------------------

def close_client_first(on_row: RowHook) -> None:
    pair = established(on_row)
    pair.app(C, "close")
    check(pair, T.FIN_WAIT_1, T.ESTABLISHED)
    pair.deliver(C)
    check(pair, T.FIN_WAIT_1, T.CLOSE_WAIT)
    pair.deliver(S)
    check(pair, T.FIN_WAIT_2, T.CLOSE_WAIT)
    pair.app(S, "send", b"bye")  # a half-closed connection still carries data
    pair.deliver(S)
    pair.deliver(C)
    pair.app(S, "close")
    check(pair, T.FIN_WAIT_2, T.LAST_ACK)
    pair.deliver(S)
    check(pair, T.TIME_WAIT, T.LAST_ACK)
    pair.deliver(C)
    check(pair, T.TIME_WAIT, T.CLOSED)
    assert pair.client.next_deadline() == pair.now - pair.delay + 240.0
    pair.fire_timers()
    check(pair, T.CLOSED, T.CLOSED)


def three_segment_close(on_row: RowHook) -> None:
    """The server's ACK is lost; its FIN then acknowledges the client's FIN too."""
    pair = established(on_row)
    pair.app(C, "close")
    pair.deliver(C)
    pair.drop(S)
    pair.app(S, "close")
    check(pair, T.FIN_WAIT_1, T.LAST_ACK)
    pair.deliver(S)
    check(pair, T.TIME_WAIT, T.LAST_ACK)
    pair.deliver(C)
    check(pair, T.TIME_WAIT, T.CLOSED)


def simultaneous_close(on_row: RowHook) -> None:
    pair = established(on_row)
    pair.app(C, "close")
    pair.app(S, "close")
    check(pair, T.FIN_WAIT_1, T.FIN_WAIT_1)
    pair.deliver(C)
    check(pair, T.FIN_WAIT_1, T.CLOSING)
    pair.deliver(S)  # the server's FIN
    check(pair, T.CLOSING, T.CLOSING)
    pair.deliver(S)  # the server's ACK of the client's FIN
    check(pair, T.TIME_WAIT, T.CLOSING)
    pair.drop(C)  # the client's ACK is lost: the server retransmits its FIN
    pair.fire_timers()
    check(pair, T.TIME_WAIT, T.CLOSING)
    pair.deliver(S)
    pair.deliver(C)
    check(pair, T.TIME_WAIT, T.TIME_WAIT)


def closing_refin(on_row: RowHook) -> None:
    """Simultaneous close where a FIN is retransmitted into CLOSING."""
    pair = established(on_row)
    pair.app(C, "close")
    pair.app(S, "close")
    pair.deliver(C)
    pair.drop(S)  # the server's FIN is lost ...
    pair.drop(S)  # ... and so is its ACK of the client's FIN
    check(pair, T.FIN_WAIT_1, T.CLOSING)
    pair.fire_timers()  # both retransmit their FIN
    pair.deliver(C)  # server in CLOSING gets the client's FIN again: re-ACK
    check(pair, T.FIN_WAIT_1, T.CLOSING)
    pair.deliver_all()
    check(pair, T.TIME_WAIT, T.TIME_WAIT)


def last_ack_lost(on_row: RowHook) -> None:
    """TIME_WAIT reason 1: the last ACK is lost, the FIN is re-ACKed, 2MSL restarts."""
    pair = established(on_row)
    pair.app(C, "close")
    pair.deliver(C)
    pair.drop(S)  # the ACK of the client's FIN is lost
    pair.fire_timers()  # client retransmits its FIN; server in CLOSE_WAIT re-ACKs
    pair.deliver(C)
    check(pair, T.FIN_WAIT_1, T.CLOSE_WAIT)
    pair.deliver(S)
    check(pair, T.FIN_WAIT_2, T.CLOSE_WAIT)
    pair.app(S, "close")
    pair.deliver(S)
    check(pair, T.TIME_WAIT, T.LAST_ACK)
    first_deadline = pair.client.next_deadline()
    pair.drop(C)  # the last ACK is lost
    pair.fire_timers()  # server's RTO: FIN again
    pair.deliver(S)
    check(pair, T.TIME_WAIT, T.LAST_ACK)
    assert first_deadline is not None and pair.client.next_deadline() == pair.now + 240.0 > \
        first_deadline
    pair.deliver(C)
    check(pair, T.TIME_WAIT, T.CLOSED)


def last_ack_refin(on_row: RowHook) -> None:
    """A FIN retransmitted into LAST_ACK (the server's ACK of it was lost)."""
    pair = established(on_row)
    pair.app(C, "close")
    pair.deliver(C)
    pair.drop(S)
    pair.app(S, "close")
    pair.drop(S)
    check(pair, T.FIN_WAIT_1, T.LAST_ACK)
    pair.fire_timers()
    pair.deliver(C)  # the client's FIN again: the server re-ACKs from LAST_ACK
    check(pair, T.FIN_WAIT_1, T.LAST_ACK)
    pair.deliver(S)
    check(pair, T.FIN_WAIT_2, T.LAST_ACK)
    pair.fire_timers()  # the server's RTO: its FIN again
    pair.deliver_all()
    check(pair, T.TIME_WAIT, T.CLOSED)


def fin_wait_2_times_out(on_row: RowHook) -> None:
    pair = established(on_row)
    pair.app(C, "close")
    pair.deliver_all()
    check(pair, T.FIN_WAIT_2, T.CLOSE_WAIT)
    pair.fire_timers()  # the server never closes
    check(pair, T.CLOSED, T.CLOSE_WAIT)


# ----- resets and aborts -----------------------------------------------------------------

def abort_established(on_row: RowHook) -> None:
    pair = established(on_row)
    pair.app(C, "abort")
    check(pair, T.CLOSED, T.ESTABLISHED)
    rst = pair.pending(C)[0].segment  # like Linux's SO_LINGER 0: [R.] at SND.NXT, a window
    assert rst.flags == Flag.RST | A and rst.seq == pair.client.snd_nxt and rst.window > 0
    pair.deliver(C)
    check(pair, T.CLOSED, T.CLOSED)
    assert pair.server.error == "connection reset by peer"


def abort_both(on_row: RowHook) -> None:
    """Both abort at once: each RST reaches a closed endpoint and is dropped."""
    pair = established(on_row)
    pair.app(C, "abort")
    pair.app(S, "abort")
    pair.deliver_all()
    check(pair, T.CLOSED, T.CLOSED)
    assert not pair.flights


def abort_before_connected(on_row: RowHook) -> None:
    pair = make_pair(on_row)
    pair.app(S, "passive_open")
    pair.app(S, "abort")
    pair.app(C, "active_open")
    pair.app(C, "abort")
    check(pair, T.CLOSED, T.CLOSED)
    pair.app(S, "passive_open")
    pair.deliver(C)
    pair.app(S, "abort")  # in SYN_RECEIVED: RST
    assert pair.pending(S)[-1].segment.flags & Flag.RST


def abort_while_closing(on_row: RowHook) -> None:
    pair = established(on_row)
    pair.app(C, "close")
    pair.app(S, "close")
    pair.deliver(C)
    check(pair, T.FIN_WAIT_1, T.CLOSING)
    pair.app(S, "abort")  # CLOSING: no RST, just forget
    check(pair, T.FIN_WAIT_1, T.CLOSED)
    pair.deliver(S)  # the server's FIN, sent before it aborted
    check(pair, T.CLOSING, T.CLOSED)
    pair.deliver(S)  # its ACK of the client's FIN
    check(pair, T.TIME_WAIT, T.CLOSED)
    pair.deliver(C)  # the client's last ACK meets a closed port: RST ends TIME_WAIT
    pair.deliver(S)
    check(pair, T.CLOSED, T.CLOSED)


def reset_while_closing(on_row: RowHook) -> None:
    """RST into LAST_ACK and into TIME_WAIT."""
    pair = established(on_row)
    pair.app(C, "close")
    pair.deliver_all()
    pair.app(S, "close")
    check(pair, T.FIN_WAIT_2, T.LAST_ACK)
    pair.app(C, "abort")  # FIN_WAIT_2 abort sends RST
    pair.deliver(C)
    check(pair, T.CLOSED, T.CLOSED)

    pair = established(on_row)
    pair.app(C, "close")
    pair.deliver_all()
    pair.app(S, "close")
    pair.deliver(S)
    check(pair, T.TIME_WAIT, T.LAST_ACK)
    pair.app(S, "abort")  # LAST_ACK abort: no RST
    forge(pair, S, Flag.RST)  # an RST at RCV.NXT ends TIME_WAIT (RFC 9293, not RFC 1337)
    check(pair, T.CLOSED, T.CLOSED)
    pair = established(on_row)
    pair.app(C, "close")
    pair.deliver_all()
    pair.app(S, "close")
    pair.deliver_all()
    pair.app(C, "abort")
    check(pair, T.CLOSED, T.CLOSED)


def half_open(on_row: RowHook) -> None:
    """The server forgot the connection (its RST was lost); the client's data gets RST."""
    pair = established(on_row)
    pair.app(S, "abort")
    pair.drop(S)
    check(pair, T.ESTABLISHED, T.CLOSED)
    pair.app(C, "send", b"anyone?")
    pair.deliver(C)
    assert pair.pending(S)[0].segment.flags == Flag.RST
    pair.deliver(S)
    check(pair, T.CLOSED, T.CLOSED)
    assert pair.client.error == "connection reset by peer"


def half_open_listener(on_row: RowHook) -> None:
    """The server restarted and listens again: the old client's ACK is answered by RST."""
    pair = established(on_row)
    pair.app(S, "abort")
    pair.drop(S)
    pair.app(S, "passive_open")
    pair.app(C, "send", b"x")
    pair.deliver(C)
    check(pair, T.ESTABLISHED, T.LISTEN)
    pair.deliver(S)
    check(pair, T.CLOSED, T.LISTEN)



def zero_window(on_row: RowHook) -> None:
    """The receiver's buffer fills; its window update is lost; a persist probe recovers."""
    pair = established(on_row, server={"recv_buffer": 300, "auto_read": False})
    pair.app(C, "send", bytes(500))
    pair.deliver(C)  # 300 octets fill the server's buffer
    ack = pair.pending(S)[0].segment
    assert ack.window == 0
    pair.deliver(S)
    assert pair.client.snd_wnd == 0 and Timer.PERSIST in pair.client.timers()
    assert pair.read(S) == bytes(300)  # the window reopens: a window update ...
    pair.drop(S)  # ... which is lost
    pair.fire_timers()  # persist timer: a zero-window probe
    probe = pair.pending(C)[0].segment
    assert probe.length == 0 and probe.seq == seq_add(pair.client.snd_una, -1)
    pair.deliver(C)  # answered by an ACK with the open window
    pair.deliver(S)
    pair.deliver(C)  # the last 200 octets
    assert pair.read(S) == bytes(200)
    check(pair, T.ESTABLISHED, T.ESTABLISHED)



def closing_with_data_queued(on_row: RowHook) -> None:
    """Our FIN waits behind data the window does not yet allow when the peer's FIN
    arrives: CLOSING still sends the data, then the FIN."""
    pair = established(on_row, server={"recv_buffer": 300})
    pair.app(C, "send", bytes(500))
    pair.app(C, "close")
    check(pair, T.FIN_WAIT_1, T.ESTABLISHED)
    assert [f.segment.length for f in pair.pending(C)] == [300]  # 200 more wait
    pair.app(S, "close")
    pair.deliver(S)  # the server's FIN
    check(pair, T.CLOSING, T.FIN_WAIT_1)
    pair.deliver(C)  # the first 300 octets
    pair.deliver(S)  # ACK, window 300: the rest goes, then the FIN
    assert [(f.segment.length, f.segment.has(Flag.FIN)) for f in pair.pending(C)] == \
        [(0, False), (200, False), (0, True)]
    pair.deliver_all()
    check(pair, T.TIME_WAIT, T.TIME_WAIT)



def desynchronized_no_ack_war(on_row: RowHook) -> None:
    """Each side took an old SYN for the peer's: every segment is out of the other's
    window. Re-ACKs are rate-limited, so there is no ACK war; both give up in time."""
    pair = make_pair(on_row)
    pair.app(C, "active_open")
    pair.app(S, "active_open")
    pair.drop()
    pair.drop()
    pair.inject(S, Segment(seq=123_456, flags=Flag.SYN, window=1000))
    pair.inject(C, Segment(seq=654_321, flags=Flag.SYN, window=1000))
    check(pair, T.SYN_RECEIVED, T.SYN_RECEIVED)
    pair.run()
    check(pair, T.CLOSED, T.CLOSED)
    assert pair.client.error == pair.server.error == "connection timed out"
    assert len(pair.timeline()) < 60  # a war would send thousands in the first second



def out_of_order_reassembled(on_row: RowHook) -> None:
    """Segments arrive out of order; the receiver keeps the early ones and delivers
    everything in order once the gap is filled (TCP is a byte stream)."""
    pair = established(on_row, client={"mss": 100}, server={"auto_read": False})
    pair.app(C, "send", bytes(range(250)))
    assert [f.segment.length for f in pair.pending(C)] == [100, 100, 50]
    pair.deliver(C, 2)  # the third segment first: a duplicate ACK, nothing to read
    pair.deliver(C, 1)  # then the second
    assert pair.read(S) == b""
    assert [f.segment.ack for f in pair.pending(S)] == [seq_add(CLIENT_ISS, 1)] * 2
    pair.deliver(C)  # the first fills the gap: all 250 octets, one cumulative ACK
    assert pair.read(S) == bytes(range(250))
    assert pair.pending(S)[-1].segment.ack == seq_add(CLIENT_ISS, 251)



def fast_retransmit(on_row: RowHook) -> None:
    """The first of five segments is lost; three duplicate ACKs bring it back before
    the retransmission timer would."""
    pair = established(on_row, client={"mss": 100})
    pair.app(C, "send", bytes(500))
    pair.drop(C)
    for _ in range(4):
        pair.deliver(C)
    dup_acks = [f.segment for f in pair.pending(S)]
    assert len(dup_acks) == 4 and {a.ack for a in dup_acks} == {seq_add(CLIENT_ISS, 1)}
    for _ in range(3):
        pair.deliver(S)
    resent = pair.pending(C)[0].segment
    assert resent.seq == seq_add(CLIENT_ISS, 1) and resent.length == 100
    assert pair.now < 0.2  # long before the 200 ms RTO
    pair.deliver_all()
    assert pair.client.snd_una == seq_add(CLIENT_ISS, 501)
    check(pair, T.ESTABLISHED, T.ESTABLISHED)



def delayed_ack_and_nagle(on_row: RowHook) -> None:
    """Delayed ACK: one segment is ACKed after 40 ms, every second one at once. Nagle:
    small writes wait while data is unacknowledged, then go out together."""
    pair = established(on_row, client={"nagle": True, "mss": 100},
                       server={"delayed_ack": 0.040})
    pair.app(C, "send", b"ee")
    pair.app(C, "send", b"eee")  # held back by Nagle: "ee" is in flight
    assert [f.segment.payload for f in pair.pending(C)] == [b"ee"]
    pair.deliver(C)
    assert not pair.pending(S) and Timer.DELAYED_ACK in pair.server.timers()
    pair.fire_timers()  # 40 ms later the ACK goes alone
    assert pair.pending(S)[0].segment.ack == seq_add(CLIENT_ISS, 3)
    pair.deliver(S)  # the ACK releases the held-back "eee"
    assert [f.segment.payload for f in pair.pending(C)] == [b"eee"]
    pair.deliver(C)
    assert Timer.DELAYED_ACK in pair.server.timers()  # "eee" waits for its ACK
    pair.app(C, "send", bytes(200))  # full-sized segments are never held by Nagle
    assert [f.segment.length for f in pair.pending(C)] == [100, 100]
    pair.deliver(C)  # the second unacknowledged segment: ACK at once
    assert pair.pending(S)[0].segment.ack == seq_add(CLIENT_ISS, 106)
    pair.deliver(C)  # the last one starts a new 40 ms wait
    assert len(pair.pending(S)) == 1
    pair.fire_timers()
    pair.deliver_all()
    assert pair.client.snd_una == seq_add(CLIENT_ISS, 206)
    pair.app(C, "close")  # the server closes within 40 ms: its FIN carries the ACK
    pair.deliver(C)
    check(pair, T.FIN_WAIT_1, T.CLOSE_WAIT)
    pair.app(S, "close")
    assert [f.segment.flags for f in pair.pending(S)] == [Flag.FIN | A]
    pair.deliver_all()
    check(pair, T.TIME_WAIT, T.CLOSED)


def keepalive(on_row: RowHook) -> None:
    """An idle connection: keep-alive probes are answered; when the peer vanishes,
    unanswered probes end the connection."""
    pair = established(on_row, client={"keepalive_idle": 7200.0, "keepalive_interval": 75.0,
                                       "keepalive_probes": 3})
    pair.fire_timers()
    assert pair.now == pytest.approx(0.02 + 7200.0)  # idle since the SYN+ACK arrived
    probe = pair.pending(C)[0].segment
    assert probe.length == 0 and probe.seq == seq_add(pair.client.snd_una, -1)
    pair.deliver_all()  # the server answers with an ACK: all is well
    check(pair, T.ESTABLISHED, T.ESTABLISHED)
    pair.app(S, "abort")
    pair.drop(S)  # the server is gone without a word
    for _ in range(4):
        pair.fire_timers()
        pair.deliver_all()  # probes reach a closed port: RST ... unless dropped
        if pair.client.state is T.CLOSED:
            break
    assert pair.client.error == "connection reset by peer"
    pair = established(on_row, client={"keepalive_idle": 10.0, "keepalive_interval": 1.0,
                                       "keepalive_probes": 3})
    while pair.client.state is T.ESTABLISHED:
        pair.fire_timers()
        while pair.flights:
            pair.drop()
    assert pair.client.error == "connection timed out"
    assert pair.now == pytest.approx(0.02 + 10.0 + 3 * 1.0)  # idle, then three probes


SCENARIOS: list[Callable[[RowHook], None]] = [
    handshake, hello_ok, simultaneous_open, syn_ack_lost, old_duplicate_syn,
    connect_closed_port, listener_odd_segments, syn_sent_odd_segments,
    syn_received_odd_segments, syn_received_reset, syn_received_close, handshake_times_out,
    synchronized_odd_segments, data_after_fin_ignored, retransmission_timeout,
    close_client_first, three_segment_close, simultaneous_close, closing_refin, last_ack_lost,
    last_ack_refin, fin_wait_2_times_out, abort_established, abort_both,
    abort_before_connected, abort_while_closing, reset_while_closing, half_open,
    half_open_listener, zero_window, closing_with_data_queued, desynchronized_no_ack_war,
    out_of_order_reassembled, fast_retransmit, delayed_ack_and_nagle, keepalive,
]
