"""Application calls and their results at their true times; endpoint parameters (send
buffer, read rate, initial sequence numbers); one-line errors; determinism."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from core.simulate.params import build_configs, parse_assignment
from core.simulate.program import NOW, Condition, Step, accept, close, connect, listen, send
from core.simulate.scenarios import SCENARIOS, Scenario, get
from core.tcp.segment import SEQ_MOD, Flag
from core.tcp.states import Side, TcpState
from core.trace import AppCalled, Timeline, WindowChanged

C, S = Side.CLIENT, Side.SERVER
T = TcpState


def calls(timeline: Timeline, call: str, side: Side | None = None) -> list[tuple[float, str]]:
    return [(round(e.time, 6), e.result) for e in timeline.events
            if isinstance(e, AppCalled) and e.call == call and side in (None, e.side)]


def syn_ack_arrival(timeline: Timeline) -> float:
    rec = next(r for r in timeline.segments if r.segment.flags == Flag.SYN | Flag.ACK)
    assert rec.arrived is not None
    return round(rec.arrived, 6)


# ----- connect, accept, read, bind ---------------------------------------------------------
def test_connect_returns_when_the_handshake_completes() -> None:
    t = get("hello_ok").run({"delay": 0.05})
    assert calls(t, "active open") == [(0.0, "ok")]  # the call: a SYN goes out
    assert calls(t, "connect") == [(syn_ack_arrival(t), "connected")] == [(0.1, "connected")]
    # accept() returns when the server's handshake completes (the client's ACK arrives)
    assert calls(t, "accept") == [(0.15, "10.0.0.1:34694 (the client shown)")]
    accepted = next(e.time for e in t.events if isinstance(e, AppCalled) and e.call == "accept")
    assert t.state_at(S, accepted) is T.ESTABLISHED
    assert t.state_at(S, accepted - 1e-6) is T.SYN_RECEIVED
    t = get("retransmission").run({"drop": "client:1"})  # the first SYN is lost
    assert calls(t, "connect") == [(1.02, "connected")]
    t = get("simultaneous_open").run()
    assert [r for _, r in calls(t, "connect")] == ["connected", "connected"]


def test_connect_failures() -> None:
    t = get("closed_port").run()
    assert calls(t, "connect") == [(0.02, "ECONNREFUSED: connection refused")]
    t = get("handshake").run({"loss": 1.0})  # every SYN lost: the user timeout ends it
    [(when, result)] = calls(t, "connect")
    assert result == "ETIMEDOUT: connection timed out" and when == pytest.approx(924.6)
    assert t.state_at(C, t.end) is T.CLOSED


def test_read_returns_the_bytes() -> None:
    assert calls(get("stream_service").run(), "read") == [(0.1, "5 bytes: 'eeeee'")]
    t = get("hello_ok").run()
    assert calls(t, "read") == [(0.03, "5 bytes: 'hello'"), (0.04, "2 bytes: 'OK'")]
    long = get("flow_control").run()
    assert calls(long, "read")[0][1] == "1000 bytes: 'SynAck data 000001 abcde...'"


def test_bind_fails_in_time_wait() -> None:
    t = get("bind_eaddrinuse").run()
    [(first, busy), (later, ok)] = calls(t, "bind")
    assert busy == "EADDRINUSE: address already in use (TIME_WAIT)" and ok == "ok"
    assert t.state_at(C, first) is T.TIME_WAIT and t.state_at(C, later) is T.CLOSED


def test_calls_the_state_forbids_fail_like_sockets() -> None:
    scenario = Scenario(name="t", summary="", explanation="",
                        client=(connect(), close(when=Condition(at=1.0)),
                                send(b"late", when=NOW)),
                        server=())
    t = scenario.run()
    assert calls(t, "connect") == [(0.02, "ECONNREFUSED: connection refused")]
    assert calls(t, "close") == [(1.0, "ok (no connection left to close)")]
    assert calls(t, "send") == [(1.0, "ECONNREFUSED: connection refused")]


# ----- endpoint parameters -----------------------------------------------------------------
def test_send_buffer() -> None:
    t = get("flow_control").run({"client.send_buffer": 1200})
    sends = calls(t, "send", C)
    assert sends[0] == (0.02, "1200 of 3000 bytes queued (send buffer full)")
    # acknowledged 488-octet segments (MSS 500 less 12 octets of timestamps) make room
    assert sends[-1][1] == "returns 3000: the last 312 bytes queued" and sends[-1][0] > 0.02
    for event in t.events:
        if isinstance(event, WindowChanged) and event.side is C:
            snap = event.snapshot
            data_in_flight = max(0, snap.in_flight - (1 if snap.snd_una == snap.iss else 0))
            assert snap.snd_queued + data_in_flight <= 1200
    # while the window is closed the whole buffer waits, nothing in flight
    assert max(e.snapshot.snd_queued for e in t.events
               if isinstance(e, WindowChanged) and e.side is C) == 1200
    # everything got through, in order
    assert sum(int(r.split(" ")[0]) for _, r in calls(t, "read", S)) == 3000
    # a blocked send() returns the error once the connection is reset
    t = get("half_open").run({"client.send_buffer": 3})
    assert calls(t, "send", C)[-1][1].startswith("ECONNRESET: connection reset by peer (")


def test_read_rate() -> None:
    t = get("flow_control").run()
    reads = calls(t, "read", S)
    assert [r.split(":")[0] for _, r in reads] == ["1000 bytes"] * 3
    assert [round(b[0] - a[0], 6) for a, b in zip(reads, reads[1:], strict=False)] == [0.8, 0.8]
    zero = [r.sent for r in t.segments if r.sender is S and r.segment.window == 0]
    assert zero and zero[0] < reads[1][0]  # the buffer filled between two reads
    probes = [r for r in t.segments if "zero_window_probe" in r.labels]
    assert probes  # the sender had to probe the closed window
    t = get("flow_control").run({"server.read_rate": 100_000.0, "server.read_every": 0.01})
    assert not [r for r in t.segments if "zero_window_probe" in r.labels]
    assert calls(t, "read", S)[-1][0] == 0.07  # each read as the data arrives
    slow = Scenario(name="t", summary="", explanation="", client=(connect(), send(b"hello")),
                    server=(listen(), accept()),
                    defaults={"server.read_rate": 2.0, "server.read_every": 1.0})
    assert calls(slow.run(), "read") == [(0.03, "2 bytes: 'he'"), (1.03, "2 bytes: 'll'"),
                                         (2.03, "1 byte: 'o'")]


def test_initial_sequence_numbers() -> None:
    def iss(params: dict[str, object]) -> tuple[int, int]:
        t = get("handshake").run(params)
        return t.segments[0].segment.seq, t.segments[1].segment.seq

    assert iss({"iss": 5}) == (5, 5)
    assert iss({"iss": 5, "client.iss": 7}) == (7, 5)
    assert iss({}) == (1_809_145_613, 3_427_871_990)  # the scenarios' fixed numbers
    a, b = iss({"iss": "random", "seed": 4}), iss({"iss": "random", "seed": 5})
    assert a == iss({"iss": "random", "seed": 4}) and a != b and a[0] != a[1]
    assert all(0 <= n < SEQ_MOD for n in a + b)
    assert parse_assignment("server.iss=random") == ("server.iss", "random")
    assert build_configs({"iss": "random", "seed": 9})[0].iss == \
        build_configs({"client.iss": "random", "seed": 9})[0].iss
    # near the wrap: relative numbers stay right
    t = get("hello_ok").run({"iss": SEQ_MOD - 2})
    assert calls(t, "read") == [(0.03, "5 bytes: 'hello'"), (0.04, "2 bytes: 'OK'")]


# ----- wrong parameters: one clear line, exit status 1 -------------------------------------
BAD = ["delay=-1", "loss=1.5", "colour=red", "server.backlog=-1", "backlog=x", "iss=rand",
       "iss=-5", "down=abc", "down=5:1", "drop=x", "delay=nan", "read_rate=0",
       "send_buffer=0", "read_every=0", "until=0", "preset=bsd", "seed=1.5", "loss"]


@pytest.mark.parametrize("assignment", BAD)
def test_wrong_parameters_end_in_one_line(assignment: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from gui.app.cli import main
    assert main(["simulate", "hello_ok", "--set", assignment]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("synack: ")


def test_unknown_scenario_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from gui.app.cli import main
    assert main(["simulate", "nope"]) == 1
    assert capsys.readouterr().err.startswith("synack: unknown scenario 'nope'; known: ")


def test_programs_are_checked() -> None:
    with pytest.raises(ParameterError, match="unknown application call"):
        Step(call="fork")
    assert accept().call == "accept" and listen().call == "listen"


def test_runs_that_never_settle_stop_at_the_horizon() -> None:
    t = get("hello_ok").run({"recv_buffer": 0})  # persist probes for ever
    assert t.end <= 3600.0 and t.notes == (
        "stopped at 3600 s of simulated time; more was still to happen",)
    t = get("hello_ok").run({"keepalive_idle": 1.0, "until": 30.0})
    assert t.end <= 30.0 and t.notes


# ----- determinism -------------------------------------------------------------------------
VARIANTS = [
    {},
    {"loss": 0.2, "jitter": 0.003, "reorder": 0.2, "duplicate": 0.1, "seed": 7},
    {"iss": "random", "seed": 3, "client.send_buffer": 700, "server.read_rate": 2000.0},
    {"server.backlog": 2, "loss": 0.05, "seed": 11},
]


@pytest.mark.parametrize("params", VARIANTS, ids=["defaults", "impaired", "buffers", "backlog"])
@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.name in (
    "listen_backlog", "flow_control", "fast_retransmit", "close_client_first")],
    ids=lambda s: s.name)
def test_same_parameters_same_timeline(scenario: Scenario, params: dict[str, object]) -> None:
    first, second = scenario.run(params), scenario.run(params)
    assert first.segments == second.segments  # labels included
    assert first.events == second.events and first.rows == second.rows
    assert first.notes == second.notes
