"""core.replay.check on hand-made Timelines: what is legal, and how each illegality reads."""

from __future__ import annotations

import pytest

from core.replay.check import (
    EDGES,
    is_edge,
    reachable,
    row_violations,
    violations,
)
from core.simulate.scenarios import SCENARIOS
from core.tcp.segment import Flag, Segment
from core.tcp.states import Side, TcpState, Trigger
from core.tcp.table import ROWS
from core.trace import Peer, StateChanged, Timeline, TimelineBuilder

C, S = Side.CLIENT, Side.SERVER
T = TcpState


def _builder(initial: tuple[TcpState, TcpState] = (T.CLOSED, T.LISTEN)) -> TimelineBuilder:
    return TimelineBuilder(title="hand-made",
                           client=Peer(side=C, address="10.0.0.1", port=40000),
                           server=Peer(side=S, address="10.0.0.2", port=80), initial=initial)


def _change(b: TimelineBuilder, time: float, side: Side, old: TcpState, new: TcpState,
            trigger: Trigger | None, segment: int | None = None) -> None:
    b.add(StateChanged(time=time, side=side, old=old, new=new, trigger=trigger,
                       segment=segment))


def _handshake(b: TimelineBuilder) -> None:
    """SYN, SYN+ACK, ACK with both sides' changes, as a simulator records them."""
    _change(b, 0.0, C, T.CLOSED, T.SYN_SENT, Trigger.ACTIVE_OPEN)
    syn = b.sent(0.0, C, Segment(seq=100, flags=Flag.SYN))
    b.arrived(0.01, syn)
    _change(b, 0.01, S, T.LISTEN, T.SYN_RECEIVED, Trigger.RCV_SYN, syn)
    synack = b.sent(0.01, S, Segment(seq=500, ack=101, flags=Flag.SYN | Flag.ACK))
    b.arrived(0.02, synack)
    _change(b, 0.02, C, T.SYN_SENT, T.ESTABLISHED, Trigger.RCV_SYN_ACK, synack)
    ack = b.sent(0.02, C, Segment(seq=101, ack=501, flags=Flag.ACK))
    b.arrived(0.03, ack)
    _change(b, 0.03, S, T.SYN_RECEIVED, T.ESTABLISHED, Trigger.RCV_ACK_OF_SYN, ack)


def test_a_handshake_is_legal() -> None:
    b = _builder()
    _handshake(b)
    assert violations(b.build()) == []


def test_every_scenario_simulation_is_legal() -> None:
    for scenario in SCENARIOS:
        assert violations(scenario.run()) == [], scenario.name


def test_edges_come_from_the_table() -> None:
    assert (T.LISTEN, T.SYN_RECEIVED) in EDGES
    assert (T.FIN_WAIT_1, T.TIME_WAIT) in EDGES        # the FIN that ACKs our FIN
    assert (T.ESTABLISHED, T.LAST_ACK) not in EDGES    # needs CLOSE_WAIT between
    assert all(old is not new for old, new in EDGES)
    assert len(EDGES) == len({(s, r.target(s)) for r in ROWS for s in r.states
                              if r.target(s) is not s})
    assert is_edge(T.FIN_WAIT_1, T.CLOSING, Trigger.RCV_FIN)
    assert not is_edge(T.FIN_WAIT_1, T.CLOSING, Trigger.RCV_ACK_OF_FIN)
    assert reachable(T.CLOSED, T.TIME_WAIT) and reachable(T.LISTEN, T.LISTEN)
    # strongly connected: which is why rule 3 checks states passed, not reachability
    assert all(reachable(a, b) for a in T for b in T)


def test_a_chain_that_skips_a_state() -> None:
    b = _builder()
    _handshake(b)
    _change(b, 0.05, C, T.FIN_WAIT_1, T.FIN_WAIT_2, Trigger.RCV_ACK_OF_FIN)
    found = violations(b.build())
    assert any("client: change 3" in v and "does not chain: the state before is "
               "ESTABLISHED" in v for v in found), found


def test_the_first_change_starts_at_the_initial_state() -> None:
    b = _builder(initial=(T.CLOSED, T.CLOSED))
    _handshake(b)
    found = violations(b.build())
    assert any("server: change 1" in v and "the initial state is CLOSED" in v
               for v in found), found


def test_a_move_no_row_makes() -> None:
    b = _builder()
    _handshake(b)
    _change(b, 0.05, S, T.ESTABLISHED, T.LAST_ACK, Trigger.RCV_FIN)
    found = violations(b.build())
    assert any("ESTABLISHED -> LAST_ACK" in v and "no row of the table makes this move" in v
               for v in found), found


def test_a_move_on_the_wrong_trigger() -> None:
    b = _builder()
    _handshake(b)
    _change(b, 0.05, S, T.ESTABLISHED, T.CLOSE_WAIT, Trigger.RCV_ACK)
    found = violations(b.build())
    assert any("no row makes this move on RCV_ACK" in v for v in found), found


def test_a_change_to_the_same_state() -> None:
    b = _builder()
    _handshake(b)
    _change(b, 0.05, C, T.ESTABLISHED, T.ESTABLISHED, Trigger.RCV_ACK)
    assert any("not a change" in v for v in violations(b.build()))


def test_a_crash_needs_only_the_edge() -> None:
    b = _builder()
    _handshake(b)
    _change(b, 0.05, S, T.ESTABLISHED, T.CLOSED, None)
    assert violations(b.build()) == []


def _with_rows(timeline: Timeline, client_rows: list[TcpState]) -> Timeline:
    from core.trace import Row

    rows = [Row(client=c, server=timeline.rows[i].server, client_window=None,
                server_window=None) for i, c in enumerate(client_rows)]
    return Timeline(title=timeline.title, client=timeline.client, server=timeline.server,
                    segments=timeline.segments, events=timeline.events,
                    initial=timeline.initial, rows=rows,
                    sparse=[e for e in timeline.events if isinstance(e, StateChanged)])


def test_rows_that_show_a_state_never_entered() -> None:
    b = _builder()
    _handshake(b)
    timeline = _with_rows(b.build(), [T.SYN_SENT, T.FIN_WAIT_1, T.ESTABLISHED])
    found = row_violations(timeline, C)
    assert any("row 1 shows FIN_WAIT_1" in v for v in found), found


def test_rows_that_go_back() -> None:
    b = _builder()
    _handshake(b)
    timeline = _with_rows(b.build(), [T.ESTABLISHED, T.SYN_SENT, T.ESTABLISHED])
    found = row_violations(timeline, C)
    assert any("row 1 shows SYN_SENT" in v and "rows: CLOSED ESTABLISHED SYN_SENT" in v
               for v in found), found


def test_rows_are_read_in_index_order() -> None:
    """Row k is taken once segments 0..k took effect (core.trace): a segment lost on the
    way before an earlier one arrives does not make the rows go back in time."""
    from core.trace import Row

    b = _builder()
    _change(b, 0.0, C, T.CLOSED, T.SYN_SENT, Trigger.ACTIVE_OPEN)
    syn = b.sent(0.0, C, Segment(seq=100, flags=Flag.SYN))
    lost = b.sent(0.0, C, Segment(seq=101, flags=Flag.ACK, length=5, payload=b"hello"))
    b.lost(0.005, lost)
    b.arrived(0.01, syn)
    _change(b, 0.01, S, T.LISTEN, T.SYN_RECEIVED, Trigger.RCV_SYN, syn)
    built = b.build()
    assert [row.server for row in built.rows] == [T.SYN_RECEIVED, T.SYN_RECEIVED]
    assert violations(built) == []
    # rows taken once each segment alone took effect would go back to LISTEN
    per_segment = [Row(client=T.SYN_SENT, server=server, client_window=None,
                       server_window=None) for server in (T.SYN_RECEIVED, T.LISTEN)]
    timeline = Timeline(title="x", client=built.client, server=built.server,
                        segments=built.segments, events=built.events,
                        initial=built.initial, rows=per_segment,
                        sparse=built.state_changes())
    assert any("row 1 shows LISTEN" in v for v in violations(timeline))


@pytest.mark.parametrize("initial", [(T.CLOSED, T.LISTEN), (T.SYN_SENT, T.LISTEN)])
def test_messages_name_side_and_change(initial: tuple[TcpState, TcpState]) -> None:
    b = _builder(initial)
    _change(b, 0.5, C, T.LISTEN, T.CLOSED, Trigger.CLOSE)
    found = violations(b.build())
    assert found and all(v.startswith("client: ") for v in found)


def test_a_change_naming_a_segment_that_does_not_exist() -> None:
    """Only a Timeline built with its rows (a replay's) can hold such a change."""
    b = _builder()
    _handshake(b)
    built = b.build()
    bad = StateChanged(time=0.05, side=C, old=T.ESTABLISHED, new=T.CLOSE_WAIT,
                       trigger=Trigger.RCV_FIN, segment=7)
    timeline = Timeline(title="x", client=built.client, server=built.server,
                        segments=built.segments, events=[*built.events, bad],
                        initial=built.initial, rows=built.rows,
                        sparse=[*built.state_changes(), bad])
    assert any("names segment 7, which the Timeline does not have (3 segments)" in v
               for v in violations(timeline))
