"""core.cursor: window bookkeeping, TIME_WAIT countdowns and the animation's end at a time.

Scenarios used: close_client_first (the demo), flow_control (the zero-window scenario),
time_wait_lost_ack (2MSL restarted), simultaneous_close (both sides in TIME_WAIT); corpus
replays: kernel/zero_window.pcap, public/bgp-role.pcapng (no handshake) and more.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import pytest

from core.capture import read_capture
from core.cursor import (
    Cursor,
    animation_end,
    displayed_state_at,
    time_wait_at,
    window_after,
    window_at,
    window_facts_at,
)
from core.demo import demo_timeline
from core.replay import replay_stream
from core.simulate import scenarios
from core.tcp.segment import seq_diff
from core.tcp.states import Side, TcpState
from core.trace import Event, SegmentSent, Timeline, WindowChanged, WindowSnapshot

C, S = Side.CLIENT, Side.SERVER
T = TcpState


def run(name: str, overrides: dict[str, object] | None = None) -> Timeline:
    return scenarios.get(name).run(overrides)


def replay(corpus: Path, name: str) -> Timeline:
    return replay_stream(read_capture(corpus / name), 0).timeline


def reference_window(timeline: Timeline, side: Side, t: float) -> WindowSnapshot | None:
    """The last WindowChanged of ``side`` at or before ``t``, by a plain walk."""
    found = None
    for ev in timeline.events:
        if ev.time > t:
            break
        if isinstance(ev, WindowChanged) and ev.side is side:
            found = ev.snapshot
    return found


# ------------------------------------------------------------------ simulations
def test_demo_windows_at_given_times() -> None:
    tl = demo_timeline()
    client = window_facts_at(tl, C, 0.02)          # SYN+ACK in, ACK and "hello" out
    assert client is not None and client.buffers_known
    assert (client.una, client.nxt, client.edge) == (1, 6, 65536)
    assert client.state is T.ESTABLISHED and not client.send_blocked
    server = window_facts_at(tl, S, 0.03)          # "hello" read, "OK" sent
    assert server is not None
    assert (server.una, server.nxt, server.edge) == (1, 3, 1 + 130944)
    assert server.snapshot.rcv_wnd == 130966 and server.snapshot.rcv_buffered == 0
    syn_sent = window_facts_at(tl, C, 0.0)
    assert syn_sent is not None and syn_sent.state is T.SYN_SENT
    assert not syn_sent.peer_window_known and not syn_sent.send_blocked
    assert window_at(tl, C, 0.02) == client.snapshot


@pytest.mark.parametrize("name", ["close_client_first", "flow_control", "time_wait_lost_ack",
                                  "retransmission"])
def test_simulated_windows_equal_the_recorded_snapshots(name: str) -> None:
    tl = run(name)
    times = sorted({ev.time for ev in tl.events}) + [tl.end + 1.0]
    probes = times + [(a + b) / 2 for a, b in zip(times, times[1:], strict=False)]
    for side in Side:
        for t in probes:
            assert window_at(tl, side, t) == reference_window(tl, side, t), (side, t)
        for i in range(len(tl)):
            after = window_after(tl, side, i)
            assert (after.snapshot if after else None) == tl.rows[i].window(side)


def test_zero_window_scenario_flags_both_ends() -> None:
    tl = run("flow_control")
    client, server = window_facts_at(tl, C, 0.07), window_facts_at(tl, S, 0.07)
    assert client is not None and server is not None
    assert (client.una, client.nxt, client.edge) == (2001, 2001, 2001)
    assert client.snapshot.snd_wnd == 0 and client.snapshot.snd_queued == 1000
    assert client.send_blocked and not client.advertises_zero
    assert server.snapshot.rcv_wnd == 0 and server.snapshot.rcv_buffered == 1000
    assert server.advertises_zero and server.snapshot.zero_window
    late = window_facts_at(tl, C, 1.7)              # after the last read: window open again
    assert late is not None and not late.send_blocked
    assert (late.una, late.nxt, late.edge) == (3001, 3001, 4001)
    moving = window_facts_at(tl, C, 0.045)          # between two bursts
    assert moving is not None and (moving.una, moving.nxt, moving.edge) == (1001, 2001, 2001)
    assert moving.snapshot.snd_queued == 1000


def test_demo_countdown_and_end() -> None:
    tl = demo_timeline()
    assert time_wait_at(tl, C, 0.25) is None and time_wait_at(tl, S, 30.0) is None
    cd = time_wait_at(tl, C, 30.0)
    assert cd is not None
    assert (cd.entered, cd.started, cd.deadline, cd.msl) == (0.26, 0.26, 60.26, 30.0)
    assert cd.total == pytest.approx(60.0) and cd.remaining == pytest.approx(30.26)
    assert not cd.expired and not cd.beyond_capture and cd.end_shown and not cd.restarted
    assert displayed_state_at(tl, C, 60.25) is T.TIME_WAIT
    done = time_wait_at(tl, C, 61.0)
    assert done is not None and done.expired and done.remaining == 0.0
    assert done.beyond_capture                      # 61 s is past the recorded expiry
    assert displayed_state_at(tl, C, 60.26) is T.CLOSED
    assert animation_end(tl) == tl.end == 60.26


def test_restarted_time_wait_counts_from_the_restart() -> None:
    tl = run("time_wait_lost_ack")
    first = time_wait_at(tl, C, 0.3)
    assert first is not None and (first.started, first.deadline) == (0.26, 60.26)
    again = time_wait_at(tl, C, 0.5)
    assert again is not None and again.restarted
    assert (again.entered, again.started, again.deadline) == (0.26, 0.46, 60.46)
    still = time_wait_at(tl, C, 60.3)               # past the first deadline, not the second
    assert still is not None and not still.expired
    assert still.remaining == pytest.approx(0.16)
    assert displayed_state_at(tl, C, 60.3) is T.TIME_WAIT
    assert displayed_state_at(tl, C, 60.46) is T.CLOSED
    assert animation_end(tl) == 60.46


def test_simultaneous_close_counts_down_on_both_sides() -> None:
    tl = run("simultaneous_close")
    for side in Side:
        cd = time_wait_at(tl, side, 31.06)
        assert cd is not None and cd.remaining == pytest.approx(30.0)
        assert cd.deadline == pytest.approx(61.06)


def test_run_horizon_before_the_deadline() -> None:
    tl = run("close_client_first", {"until": 5.0})
    assert tl.end == 0.27 and animation_end(tl) == 60.26
    cd = time_wait_at(tl, C, 6.0)
    assert cd is not None and cd.beyond_capture and not cd.end_shown
    assert tl.state_at(C, 61.0) is T.TIME_WAIT       # no event says otherwise ...
    assert displayed_state_at(tl, C, 61.0) is T.CLOSED  # ... but the timer ran out


def test_msl_parameter_and_unknown_msl() -> None:
    tl = run("close_client_first", {"msl": 2.0, "time_wait": None})
    cd = time_wait_at(tl, C, 1.0)
    assert cd is not None and cd.msl == 2.0 and cd.total == pytest.approx(4.0)
    bare = Timeline(title="no MSL", client=tl.client, server=tl.server, segments=tl.segments,
                    events=tl.events, initial=tl.initial, msl=None)
    cd = Cursor(bare).time_wait_at(C, 1.0)
    assert cd is not None and cd.msl is None and cd.total == pytest.approx(4.0)


# ----------------------------------------------------------------------- replays
@pytest.mark.corpus
def test_replayed_zero_window(corpus: Path) -> None:
    tl = replay(corpus, "kernel/zero_window.pcap")
    cur = Cursor(tl)
    assert not cur.buffers_known
    assert cur.window_facts_at(C, 0.0001) is None   # nothing took effect yet
    client, server = cur.window_facts_at(C, 0.05), cur.window_facts_at(S, 0.05)
    assert client is not None and server is not None
    assert (client.una, client.nxt, client.edge) == (1449, 1449, 1449)
    assert client.send_blocked and client.since == 0.048355
    assert server.advertises_zero and not server.buffers_known
    assert server.snapshot.rcv_buffered == 0 and server.snapshot.snd_queued == 0
    bulk = cur.window_facts_at(C, 7.6)
    assert bulk is not None and (bulk.una, bulk.nxt, bulk.edge) == (199101, 199825, 199825)
    assert not bulk.send_blocked


@pytest.mark.corpus
def test_replayed_time_wait_outlives_the_capture(corpus: Path) -> None:
    tl = replay(corpus, "kernel/zero_window.pcap")
    assert tl.end == 7.6562755   # the quickest ACK towards the server: 1.1235 ms one way
    inside = time_wait_at(tl, C, 7.656)
    assert inside is not None and not inside.beyond_capture
    cd = time_wait_at(tl, C, 60.0)
    assert cd is not None and cd.beyond_capture and not cd.end_shown
    assert cd.started == pytest.approx(7.655117) and cd.deadline == pytest.approx(67.655117)
    assert cd.msl == 30.0 and cd.total == pytest.approx(60.0)
    assert cd.remaining == pytest.approx(7.655117)
    assert animation_end(tl) == pytest.approx(67.655117)
    assert tl.state_at(C, 70.0) is T.TIME_WAIT
    assert displayed_state_at(tl, C, 70.0) is T.CLOSED
    assert displayed_state_at(tl, S, 70.0) is T.CLOSED
    expired = time_wait_at(tl, C, 70.0)
    assert expired is not None and expired.expired
    assert time_wait_at(tl, S, 70.0) is None


@pytest.mark.corpus
def test_replay_without_handshake_counts_from_the_first_number(corpus: Path) -> None:
    tl = replay(corpus, "public/bgp-role.pcapng")
    cur = Cursor(tl)
    early = cur.window_facts_at(S, 0.5)             # 107 octets sent, the next 23 at 1.10 s
    assert early is not None and (early.una, early.nxt) == (0, 107)
    assert not early.peer_window_known and not early.send_blocked
    sent = cur.window_facts_at(S, 1.1009845)
    assert sent is not None and sent.nxt == 168
    late = cur.window_facts_at(S, 2.1)
    assert late is not None and (late.una, late.nxt, late.edge) == (187, 187, 689)
    client = cur.window_facts_at(C, 1.1015)         # its 498 octets leave at 1.1019165 s
    assert client is not None and client.nxt == 0
    client = cur.window_facts_at(C, 1.1019165)
    assert client is not None and client.nxt == 498


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["kernel/zero_window.pcap", "kernel/close_server_first.pcap",
                                  "kernel/loss5_delay20_bulk_client.pcap",
                                  "kernel/simultaneous_close_both_sides.pcapng",
                                  "public/ssh.pcap", "public/bgp-role.pcapng"])
def test_replayed_snd_nxt_moves_when_segments_leave(corpus: Path, name: str) -> None:
    """SND.NXT covers a segment from its send time on, and not before it for new data."""
    tl = replay(corpus, name)
    cur = Cursor(tl)
    times = sorted({ev.time for ev in tl.events})
    highest: dict[Side, int | None] = {C: None, S: None}
    for rec in tl.segments:
        seg = rec.segment
        end = seg.end
        at = cur.window_facts_at(rec.sender, rec.sent)
        if at is not None and at.connected:
            assert seq_diff(at.snapshot.snd_nxt, end) >= 0, (rec.index, rec.sent)
        top = highest[rec.sender]
        if seg.seg_len and (top is None or seq_diff(seg.seq, top) >= 0):
            earlier = [t for t in times if t < rec.sent]
            before = cur.window_facts_at(rec.sender, earlier[-1]) if earlier else None
            if before is not None and before.connected:
                assert seq_diff(before.snapshot.snd_nxt, end) < 0, (rec.index, rec.sent)
        if top is None or seq_diff(end, top) > 0:
            highest[rec.sender] = end


class CountingEvents(Sequence[Event]):
    """A Timeline's events that count how many are read."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self.reads = 0

    def __len__(self) -> int:
        return len(self.events)

    @overload
    def __getitem__(self, i: int) -> Event: ...
    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...

    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        if isinstance(i, slice):
            raise TypeError("no slices here")
        self.reads += 1
        return self.events[i]

    def __iter__(self) -> Iterator[Event]:
        raise AssertionError("a lazy Timeline must not be walked whole")


@pytest.mark.corpus
def test_lazy_timeline_is_bisected_not_walked(corpus: Path) -> None:
    tl = replay(corpus, "kernel/loss5_delay20_bulk_client.pcap")
    events = CountingEvents(tl.events)
    lazy = Timeline(title=tl.title, client=tl.client, server=tl.server, segments=tl.segments,
                    events=events, initial=tl.initial, msl=tl.msl, rows=tl.rows,
                    sparse=tl.state_changes(), windows=tl.windows)
    cur = Cursor(lazy)
    built = events.reads
    assert built < 50                                # the TIME_WAIT tail only
    mid = (lazy.start + lazy.end) / 2
    for t in (mid, mid + 0.001, lazy.end):
        events.reads = 0
        assert cur.window_facts_at(C, t) is not None
        assert events.reads < 100, events.reads      # a bisection and a few neighbours
    assert sum(isinstance(events.events[i], SegmentSent) for i in range(10)) > 0
