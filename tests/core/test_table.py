"""The transition table itself: shape, lookups, illegal moves, the Graphviz output."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import IllegalTransition, ParameterError, SynAckError
from core.tcp.machine import Endpoint, EndpointConfig
from core.tcp.states import Side, TcpState, Trigger, TriggerKind
from core.tcp.table import ROWS, Opening, allowed, lookup, table_text, to_dot


def test_every_state_has_rows() -> None:
    covered = set().union(*(row.states for row in ROWS))
    assert covered == set(TcpState)


def test_every_trigger_has_rows() -> None:
    assert {row.trigger for row in ROWS} == set(Trigger)


def test_syn_received_depends_on_opening() -> None:
    passive = lookup(TcpState.SYN_RECEIVED, Trigger.RCV_RST, Opening.PASSIVE)
    active = lookup(TcpState.SYN_RECEIVED, Trigger.RCV_RST, Opening.ACTIVE)
    assert passive is not None and passive.next is TcpState.LISTEN
    assert active is not None and active.next is TcpState.CLOSED


def test_classic_transitions() -> None:
    def target(state: TcpState, trigger: Trigger) -> TcpState:
        row = lookup(state, trigger, None)
        assert row is not None, (state, trigger)
        return row.target(state)

    assert target(TcpState.SYN_SENT, Trigger.RCV_SYN) is TcpState.SYN_RECEIVED
    assert target(TcpState.FIN_WAIT_1, Trigger.RCV_FIN) is TcpState.CLOSING
    assert target(TcpState.CLOSING, Trigger.RCV_ACK_OF_FIN) is TcpState.TIME_WAIT
    assert target(TcpState.FIN_WAIT_1, Trigger.RCV_FIN_ACK_OF_FIN) is TcpState.TIME_WAIT
    assert target(TcpState.TIME_WAIT, Trigger.RCV_FIN) is TcpState.TIME_WAIT
    assert target(TcpState.TIME_WAIT, Trigger.TIMEOUT_2MSL) is TcpState.CLOSED


def test_allowed_calls() -> None:
    assert allowed(TcpState.CLOSED, None, TriggerKind.APP) == [Trigger.PASSIVE_OPEN,
                                                                Trigger.ACTIVE_OPEN]
    assert Trigger.SEND not in allowed(TcpState.FIN_WAIT_1, None, TriggerKind.APP)


def test_illegal_move_names_side_state_and_trigger() -> None:
    endpoint = Endpoint(Side.SERVER)
    with pytest.raises(IllegalTransition) as info:
        endpoint.close(0.0)
    assert isinstance(info.value, SynAckError)
    assert (info.value.side, info.value.state, info.value.trigger) == (
        Side.SERVER, TcpState.CLOSED, Trigger.CLOSE)
    assert str(info.value) == "server: no transition from CLOSED on close"
    endpoint.passive_open(0.0)
    with pytest.raises(IllegalTransition, match="LISTEN on send"):
        endpoint.send(0.0, b"x")
    assert endpoint.state is TcpState.LISTEN  # an illegal call changes nothing


def test_presets_and_bad_parameters() -> None:
    assert EndpointConfig.rfc().time_wait_length == 240.0
    assert EndpointConfig.linux().time_wait_length == 60.0
    assert EndpointConfig(msl=5).time_wait_length == 10.0
    for bad in ({"msl": 0}, {"mss": 0}, {"wscale": 15}, {"iss": -1}, {"rto_min": 5.0}):
        with pytest.raises(ParameterError):
            EndpointConfig(**bad)  # type: ignore[arg-type]


def test_text_and_dot_list_every_state() -> None:
    text = table_text()
    dot = to_dot()
    for state in TcpState:
        assert state.value in text
        assert f"  {state.value};" in dot
    assert dot.startswith("digraph tcp {") and dot.rstrip().endswith("}")
    assert 'FIN_WAIT_1 -> CLOSING [label="FIN"' in dot
    assert "TIME_WAIT -> CLOSED" in dot
    assert len(text.splitlines()) > len(ROWS)


def test_every_edge_mode_draws_the_escapes() -> None:
    full = to_dot(every_edge=True)
    assert "ESTABLISHED -> CLOSED" in full and "ESTABLISHED -> CLOSED" not in to_dot()
    assert "SYN_SENT -> CLOSED" in to_dot()  # connection refused stays in the classic view


def test_docs_state_diagram_is_drawn_from_the_table() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "states.dot"
    assert docs.read_text(encoding="utf-8").rstrip("\n") == to_dot(), (
        "docs/states.dot is stale: run `synack states --dot > docs/states.dot` "
        "and `dot -Tpng docs/states.dot -o docs/states.png`")
