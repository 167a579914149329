"""The trace model: a Timeline recorded from two endpoints, read back per row and time."""

from __future__ import annotations

import pytest

from core.demo import demo_timeline
from core.simulate.pair import Pair
from core.tcp.machine import EndpointConfig
from core.tcp.segment import Flag, Segment
from core.tcp.states import Side, TcpState, Timer
from core.trace import (
    AppCalled,
    Peer,
    SegmentRecord,
    StateChanged,
    Timeline,
    TimerStarted,
    TimerStopped,
    WindowChanged,
)

C, S = Side.CLIENT, Side.SERVER
T = TcpState


def test_demo_rows_follow_the_classic_ladder() -> None:
    timeline = demo_timeline()
    flags = [rec.segment.flags for rec in timeline.segments]
    assert flags[:3] == [Flag.SYN, Flag.SYN | Flag.ACK, Flag.ACK]
    assert [timeline.states_after(i) for i in (0, 1, 2)] == [
        (T.SYN_SENT, T.SYN_RECEIVED), (T.ESTABLISHED, T.SYN_RECEIVED),
        (T.ESTABLISHED, T.ESTABLISHED)]
    hello = timeline.segments[3]
    assert hello.segment.payload == b"hello" and hello.sender is C
    assert hello.segment.describe(iss=timeline.segments[0].segment.seq,
                                  irs=timeline.segments[1].segment.seq).startswith(
        "Flags [P.], seq 1:6, ack 1")
    assert timeline.states_after(len(timeline) - 1) == (T.TIME_WAIT, T.CLOSED)
    assert timeline.state_at(C, timeline.end) is T.CLOSED  # after 60 s of TIME_WAIT
    last_arrival = timeline.segments[-1].arrived
    assert last_arrival is not None
    tw = [t for t in timeline.timers_at(last_arrival) if t.timer is Timer.TIME_WAIT]
    assert len(tw) == 1 and tw[0].side is C and tw[0].deadline - tw[0].started == 60.0
    assert not timeline.timers_at(timeline.end + 1)


def test_timeline_records_every_kind_of_event() -> None:
    pair = Pair(EndpointConfig(), EndpointConfig())
    pair.app(S, "passive_open")
    pair.app(C, "active_open")
    pair.drop(C)  # the first SYN is lost
    pair.run()
    timeline = pair.timeline()
    kinds = {type(e) for e in timeline.events}
    assert {StateChanged, TimerStarted, TimerStopped, AppCalled, WindowChanged} <= kinds
    first = timeline.segments[0]
    assert first.lost and first.effect_time == first.sent
    retransmitted = timeline.segments[1]
    assert retransmitted.sent == 1.0 and retransmitted.arrived == pytest.approx(1.01)
    assert timeline.states_after(0) == (T.SYN_SENT, T.LISTEN)
    changes = timeline.state_changes(S)
    assert [(c.old, c.new) for c in changes] == [(T.CLOSED, T.LISTEN),
                                                 (T.LISTEN, T.SYN_RECEIVED),
                                                 (T.SYN_RECEIVED, T.ESTABLISHED)]
    assert changes[1].segment == 1  # caused by the retransmitted SYN
    times = [e.time for e in timeline.events]
    assert times == sorted(times)
    window = timeline.rows[-1].window(S)
    assert window is not None and window.in_flight == 0 and window.rcv_wnd == 65535


def test_state_at_uses_event_times() -> None:
    timeline = demo_timeline()
    assert timeline.state_at(C, -1.0) is T.CLOSED
    syn_ack = timeline.segments[1]
    assert syn_ack.arrived is not None
    assert timeline.state_at(C, syn_ack.arrived - 1e-6) is T.SYN_SENT
    assert timeline.state_at(C, syn_ack.arrived) is T.ESTABLISHED


def test_timeline_rejects_inconsistent_input() -> None:
    peer_c = Peer(side=C, address="::1", port=1)
    peer_s = Peer(side=S, address="::1", port=2)
    assert peer_c.label == "[::1]:1"
    rec = SegmentRecord(index=1, sender=C, segment=Segment(seq=0), sent=0.0, arrived=None)
    with pytest.raises(ValueError, match="index"):
        Timeline(title="t", client=peer_c, server=peer_s, segments=[rec], events=[])
    rec = SegmentRecord(index=0, sender=C, segment=Segment(seq=0), sent=0.0, arrived=None)
    with pytest.raises(ValueError, match="no event"):
        Timeline(title="t", client=peer_c, server=peer_s, segments=[rec], events=[])
