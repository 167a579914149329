"""Every scenario runs, is deterministic and shows the states the classic material teaches."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from core.simulate.link import DropRule, Link, LinkConfig
from core.simulate.params import build_configs, parse_assignment
from core.simulate.scenarios import SCENARIOS, get
from core.tcp.segment import Flag
from core.tcp.states import Side, TcpState
from core.trace import AppCalled, AppNotified, SegmentRecord, Timeline

T = TcpState
C, S = Side.CLIENT, Side.SERVER


def changes(timeline: Timeline, side: Side) -> list[TcpState]:
    return [timeline.initial[0] if side is C else timeline.initial[1]] + [
        e.new for e in timeline.state_changes(side)]


def flags(timeline: Timeline) -> list[str]:
    from core.tcp.segment import flags_text
    return [f"{r.sender.value[0]}{flags_text(r.segment.flags)}" for r in timeline.segments]


def notes(timeline: Timeline, side: Side) -> list[str]:
    return [e.message for e in timeline.events if isinstance(e, AppNotified) and e.side is side]


def calls(timeline: Timeline, call: str) -> list[str]:
    return [e.result for e in timeline.events if isinstance(e, AppCalled) and e.call == call]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario_is_deterministic_and_explained(scenario: object) -> None:
    sc = get(scenario.name)  # type: ignore[attr-defined]
    first, second = sc.run(), sc.run()
    assert first.events == second.events and first.segments == second.segments
    assert len(first) >= 2
    assert sc.summary and len(sc.explanation) > 150


def test_handshake_and_hello() -> None:
    t = get("hello_ok").run()
    assert flags(t)[:3] == ["c[S]", "s[S.]", "c[.]"]
    hello = next(r for r in t.segments if r.segment.payload == b"hello")
    assert hello.segment.flags == Flag.PSH | Flag.ACK
    assert calls(t, "read") == ["5 bytes: 'hello'", "2 bytes: 'OK'"]


def test_closes() -> None:
    t = get("close_client_first").run()
    assert changes(t, C)[-3:] == [T.FIN_WAIT_2, T.TIME_WAIT, T.CLOSED]
    assert changes(t, S)[-3:] == [T.CLOSE_WAIT, T.LAST_ACK, T.CLOSED]
    assert flags(t)[-4:] == ["c[F.]", "s[.]", "s[F.]", "c[.]"]
    t = get("close_three_segment").run()
    assert flags(t)[-3:] == ["c[F.]", "s[F.]", "c[.]"]
    assert T.FIN_WAIT_2 not in changes(t, C)
    t = get("close_server_first").run()
    assert T.TIME_WAIT in changes(t, S) and T.TIME_WAIT not in changes(t, C)
    t = get("simultaneous_close").run()
    for side in (C, S):
        assert changes(t, side)[-4:] == [T.FIN_WAIT_1, T.CLOSING, T.TIME_WAIT, T.CLOSED]


def test_simultaneous_open() -> None:
    t = get("simultaneous_open").run()
    for side in (C, S):
        assert changes(t, side) == [T.CLOSED, T.SYN_SENT, T.SYN_RECEIVED, T.ESTABLISHED]


def test_time_wait_reasons() -> None:
    t = get("time_wait_lost_ack").run()
    lost = [r for r in t.segments if r.lost]
    assert len(lost) == 1 and lost[0].sender is C
    fins = [r for r in t.segments if r.sender is S and r.segment.flags & Flag.FIN]
    assert len(fins) == 2  # the FIN again, re-ACKed from TIME_WAIT
    tw = [e for e in t.events if getattr(e, "timer", None) is not None
          and e.side is C and e.timer.name == "TIME_WAIT" and type(e).__name__ == "TimerStarted"]
    assert len(tw) == 2  # 2MSL restarted
    t = get("time_wait_old_duplicate").run()
    late = [r for r in t.segments if r.segment.payload == b"late!"]
    assert len(late) == 2 and late[0].arrived is not None and late[0].arrived > 5.0
    assert t.state_at(C, late[0].arrived) is T.TIME_WAIT
    second_syn = [r for r in t.segments if r.sender is C and r.segment.flags == Flag.SYN][1]
    assert second_syn.sent >= 0.29 + 60.0  # only after 2MSL (Linux: 60 s)


def test_bind_closed_port_half_open() -> None:
    assert calls(get("bind_eaddrinuse").run(), "bind") == [
        "EADDRINUSE: address already in use (TIME_WAIT)", "ok"]
    t = get("closed_port").run()
    assert flags(t) == ["c[S]", "s[R.]"] and notes(t, C) == ["connection refused"]
    t = get("half_open").run()
    assert notes(t, C) == ["connection reset by peer"]
    assert flags(t)[-1] == "s[R]" and sum(r.lost for r in t.segments) == 4


def test_loss_recovery() -> None:
    t = get("retransmission").run()
    hellos = [r for r in t.segments if r.segment.payload == b"hello"]
    assert [h.lost for h in hellos] == [True, False]
    assert hellos[1].sent - hellos[0].sent == pytest.approx(0.2)
    t = get("fast_retransmit").run()
    first = [r for r in t.segments if r.sender is C and r.segment.length
             and r.segment.seq == t.segments[0].segment.seq + 1]
    assert len(first) == 2 and first[1].sent < 0.2  # well before the RTO
    t = get("out_of_order").run()
    assert [r.split(":")[0] for r in calls(t, "read")] == ["300 bytes"]


def test_flow_control_and_stream() -> None:
    t = get("flow_control").run()
    zero = [r for r in t.segments if r.sender is S and r.segment.window == 0]
    probes = [r for r in t.segments if r.sender is C and r.segment.length == 0
              and r.sent > 0.1]
    assert zero and probes
    assert [r.split(":")[0] for r in calls(t, "read")] == ["1000 bytes"] * 3
    assert calls(get("stream_service").run(), "read") == ["5 bytes: 'eeeee'"]
    t = get("keepalive").run()
    probes = [r for r in t.segments if r.sender is C and r.sent > 5]
    assert len(probes) >= 2 and all(r.segment.length == 0 for r in probes)


def test_parameters() -> None:
    assert parse_assignment("loss=0.05") == ("loss", 0.05)
    assert parse_assignment("client.nagle=on") == ("client.nagle", True)
    assert parse_assignment("server.delayed_ack=none") == ("server.delayed_ack", None)
    for bad in ("loss", "colour=red", "mss=big"):
        with pytest.raises(ParameterError):
            parse_assignment(bad)
    with pytest.raises(ParameterError, match="probability"):
        build_configs({"loss": 1.5})
    with pytest.raises(ParameterError, match="delay"):
        build_configs({"delay": -1.0})
    with pytest.raises(ParameterError, match="unknown scenario"):
        get("nope")
    client, server, link = build_configs({"preset": "rfc", "server.mss": 536, "drop": "server:3"})
    assert client.time_wait_length == 240.0 and server.mss == 536 and client.mss == 1460
    assert link.drops == (DropRule(sender=S, nth=3),)


def test_link_is_seeded() -> None:
    def fates(seed: int) -> list[tuple[list[float], str | None]]:
        link = Link(LinkConfig(loss=0.3, jitter=0.002, duplicate=0.1, seed=seed))
        return [link.transmit(i * 0.01, C) for i in range(200)]

    assert fates(7) == fates(7) and fates(7) != fates(8)
    lost = sum(1 for arrivals, _ in fates(7) if not arrivals)
    assert 30 < lost < 90


def test_loss_parameter_changes_only_the_link() -> None:
    t = get("hello_ok").run({"loss": 0.3, "seed": 3})
    assert isinstance(t.segments[0], SegmentRecord)
    assert any(r.lost for r in t.segments)
    assert t.state_at(C, t.end) is T.ESTABLISHED
