"""One listener, several clients: the accept queue, its backlog, and what the extra client sees."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from core.simulate.crowd import Listener
from core.simulate.scenarios import get
from core.tcp.config import EndpointConfig
from core.tcp.machine import Endpoint
from core.tcp.segment import Flag, Segment
from core.tcp.states import Side, TcpState
from core.trace import AppCalled, AppNotified, Timeline

C, S = Side.CLIENT, Side.SERVER
T = TcpState


def calls(timeline: Timeline, call: str) -> list[tuple[float, str]]:
    return [(round(e.time, 6), e.result) for e in timeline.events
            if isinstance(e, AppCalled) and e.call == call]


def notes(timeline: Timeline) -> list[tuple[float, str]]:
    return [(round(e.time, 6), e.message) for e in timeline.events
            if isinstance(e, AppNotified) and e.side is S]


def syns(timeline: Timeline) -> list[float]:
    return [r.sent for r in timeline.segments
            if r.sender is C and r.segment.flags == Flag.SYN]


def test_the_sixth_client_waits_for_a_place() -> None:
    t = get("listen_backlog").run()
    queue = [m for _, m in notes(t) if m.startswith("accept queue")]
    assert queue[:5] == [f"accept queue {n}/5: client {n} (10.0.0.1:{34688 + n}) connected"
                         for n in range(1, 6)]
    # the shown client's SYN is dropped twice, then retransmitted after 1 s and 2 s more
    assert syns(t) == pytest.approx([0.1, 1.1, 3.1])
    assert [m for _, m in notes(t) if "dropped" in m] == [
        "accept queue full (5/5): SYN from the client shown dropped"] * 2
    dropped = [r for r in t.segments if r.sender is C and r.segment.flags == Flag.SYN][:2]
    assert all(r.arrived is not None for r in dropped)  # they reached the server host
    assert t.state_at(S, 3.0) is T.LISTEN and t.state_at(C, 3.0) is T.SYN_SENT
    # connect() returns when the SYN+ACK arrives, with its true time
    assert calls(t, "connect") == [(3.12, "connected")]
    assert calls(t, "accept") == [
        (2.0, "client 1 (10.0.0.1:34689); accept queue 4/5"),
        (4.0, "client 2 (10.0.0.1:34690); accept queue 4/5"),
        (4.0, "client 3 (10.0.0.1:34691); accept queue 3/5"),
        (4.0, "client 4 (10.0.0.1:34692); accept queue 2/5"),
        (4.0, "client 5 (10.0.0.1:34693); accept queue 1/5"),
        (4.0, "10.0.0.1:34694 (the client shown); accept queue 0/5")]
    # the data waited in the receive buffer until the application accepted and read it
    assert calls(t, "read") == [(4.0, "5 bytes: 'hello'"), (4.01, "2 bytes: 'OK'")]
    others = [e for e in t.events if isinstance(e, AppCalled) and e.call.startswith("client ")]
    assert len(others) == 10 and all(e.side is C for e in others)
    assert [s.value for s in [T.CLOSED] + [e.new for e in t.state_changes(S)]] == [
        "CLOSED", "LISTEN", "SYN_RECEIVED", "ESTABLISHED"]


def test_backlog_parameter() -> None:
    t = get("listen_backlog").run({"server.backlog": 6})
    assert syns(t) == [0.1] and calls(t, "connect") == [(0.12, "connected")]
    t = get("listen_backlog").run({"server.backlog": 3})
    # the queue fills during client 4's handshake: its ACK is dropped, the server sends
    # its SYN+ACK again (Linux: tcp_abort_on_overflow off)
    assert any("handshake ACK from client 4" in m for _, m in notes(t))
    assert syns(t) == pytest.approx([0.1, 1.1, 3.1, 7.1])
    assert [r for _, r in calls(t, "accept")][-1].startswith("10.0.0.1:34694")
    with pytest.raises(ParameterError, match="backlog"):
        get("listen_backlog").run({"server.backlog": -1})


def test_backlog_zero_admits_nobody() -> None:
    t = get("hello_ok").run({"server.backlog": 0, "until": 200.0})
    assert len(syns(t)) > 5 and t.state_at(S, t.end) is T.LISTEN
    assert all(r.labels[-1] == "SYN dropped: accept queue full"
               for r in t.segments)


def test_a_lone_connection_is_not_limited() -> None:
    t = get("hello_ok").run()
    assert calls(t, "accept") == [(0.03, "10.0.0.1:34694 (the client shown)")]
    assert not notes(t)  # one connection: no queue to speak of


def test_listener_rules() -> None:
    listener = Listener()
    syn = Segment(seq=1, flags=Flag.SYN, window=1000)
    ack = Segment(seq=2, ack=1, flags=Flag.ACK, window=1000)
    listening = Endpoint(S, EndpointConfig())
    listening.passive_open(0.0)
    assert listener.refuses(listening, syn) is None  # not listening: the table decides
    listener.listen(1)
    assert listener.refuses(listening, syn) is None
    listener.queue.append("client 1")
    assert listener.full and listener.status == "1/1"
    assert listener.refuses(listening, syn) == "SYN"
    assert listener.refuses(listening, ack) is None  # LISTEN answers a stray ACK with RST
    listening.receive(0.0, syn)
    assert listening.state is T.SYN_RECEIVED
    assert listener.refuses(listening, ack) == "handshake ACK"
    assert listener.refuses(listening, Segment(seq=2, flags=Flag.RST, window=0)) is None
    listener.close()
    assert listener.refuses(listening, ack) is None and not listener.queue


def test_server_restart_empties_the_queue() -> None:
    t = get("half_open").run()
    assert calls(t, "accept") == [(0.03, "10.0.0.1:34694 (the client shown)")]
    assert calls(t, "host restarts") == [(1.0, "connection state lost")]
