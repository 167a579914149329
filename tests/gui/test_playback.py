"""The playback controller and the transport bar: every control and its signals."""

from __future__ import annotations

import math

import pytest
from pytestqt.qtbot import QtBot

from core import cursor as core_cursor
from core.demo import demo_timeline
from core.simulate.scenarios import get
from core.tcp.states import Side, TcpState
from gui.playback.playback import SPEED_MAX, SPEED_MIN, Pacing, PlaybackController
from gui.playback.transport import SCRUB_STEPS, TransportBar


def test_stops_and_steps_follow_the_segments(qtbot: QtBot) -> None:
    timeline = demo_timeline()
    c = PlaybackController(timeline)
    assert c.time == timeline.start
    assert c.end_time == pytest.approx(core_cursor.animation_end(timeline))
    assert c.time == c.stops[0] and c.segment_at_cursor() == 0   # the SYN is sent at 0
    landed: list[int] = []
    c.stepped.connect(landed.append)
    with qtbot.wait_signals([c.moved, c.stepped]):
        assert c.step_forward()
    assert c.time == c.stops[1]
    # at 10 ms the SYN arrives and the SYN+ACK leaves: the stop's segment is the later
    assert landed == [c.segment_at_cursor()] == [1]
    # stepping through the whole animation visits every send and arrival in order
    seen_sent: set[int] = set()
    times = [c.time]
    while c.step_forward():
        times.append(c.time)
        seen_sent.update(i for i, r in enumerate(timeline.segments) if r.sent <= c.time)
    assert times == sorted(times)
    assert seen_sent == set(range(len(timeline)))
    assert c.time == c.end_time
    assert not c.step_forward()
    back = [c.time]
    while c.step_back():
        back.append(c.time)
    assert back == sorted(back, reverse=True) and c.time == c.start_time


def test_seek_clamps_and_home_end(qtbot: QtBot) -> None:
    c = PlaybackController(demo_timeline())
    with qtbot.wait_signal(c.moved) as blocker:
        c.seek(1e9)
    assert blocker.args == [c.end_time]
    c.seek(-5)
    assert c.time == c.start_time
    c.to_end()
    assert c.time == c.end_time and c.fraction() == 1.0
    c.to_start()
    assert c.time == c.start_time and c.fraction() == 0.0


def test_real_time_play_moves_by_speed_and_finishes(qtbot: QtBot) -> None:
    timeline = demo_timeline()
    c = PlaybackController(timeline)
    with qtbot.wait_signal(c.started):
        c.play()
    assert c.playing
    c.pause()
    c.set_speed(2.0)
    c.advance(0.01)                        # 10 ms of wall time at 2x
    assert c.time == pytest.approx(timeline.start + 0.02)
    c.play()
    with qtbot.wait_signals([c.paused, c.finished]):
        c.advance(1e6)
    assert not c.playing and c.time == c.end_time


def test_step_pacing_moves_one_stop_per_tick_of_speed(qtbot: QtBot) -> None:
    c = PlaybackController(get("hello_ok").run())
    with qtbot.wait_signal(c.pacing_changed):
        c.set_pacing(Pacing.STEP)
    c.set_speed(4.0)
    assert c.time == c.stops[0]            # the cursor starts on the first stop
    c.advance(0.25)                        # 4 stops a second: one stop
    assert c.time == pytest.approx(c.stops[1])
    c.advance(0.5)                         # two more
    assert c.time == pytest.approx(c.stops[3])


def test_speed_limits_and_steps(qtbot: QtBot) -> None:
    c = PlaybackController(demo_timeline())
    with qtbot.wait_signal(c.speed_changed) as blocker:
        c.set_speed(1000)
    assert blocker.args == [SPEED_MAX]
    c.set_speed(0.0001)
    assert c.speed == SPEED_MIN
    c.faster()
    assert c.speed == 0.25
    c.set_speed(100)
    c.slower()
    assert c.speed == 50


def test_time_wait_runs_past_the_last_event_to_closed(qtbot: QtBot) -> None:
    timeline = demo_timeline()
    c = PlaybackController(timeline)
    c.to_end()
    assert core_cursor.displayed_state_at(timeline, Side.CLIENT, c.time) is TcpState.CLOSED
    c.seek(timeline.end - 1.0)
    assert core_cursor.displayed_state_at(timeline, Side.CLIENT, c.time) is TcpState.TIME_WAIT


def test_transport_bar_drives_the_controller(qtbot: QtBot) -> None:
    c = PlaybackController(demo_timeline())
    bar = TransportBar(c)
    qtbot.add_widget(bar)
    with qtbot.wait_signal(c.stepped):
        bar.forward_button.click()
    at = c.time
    bar.back_button.click()
    assert c.time < at
    bar.end_button.click()
    assert c.time == c.end_time and bar.slider.value() == SCRUB_STEPS
    bar.start_button.click()
    assert bar.slider.value() == 0
    bar.slider.setValue(SCRUB_STEPS // 2)
    assert c.fraction() == pytest.approx(0.5, abs=1e-3)
    bar.speed_box.setCurrentIndex(bar.speed_box.findData(10.0))
    assert c.speed == 10.0
    bar.pacing_box.setCurrentIndex(bar.pacing_box.findData(Pacing.STEP))
    assert c.pacing is Pacing.STEP
    with qtbot.wait_signal(c.started):
        bar.play_button.click()
    with qtbot.wait_signal(c.paused):
        bar.play_button.click()
    assert "ms" in bar.time_label.text()


def _example_replay(file: str) -> object:
    from core.capture import read_capture
    from core.replay import replay_stream
    from resources import EXAMPLES, example_path
    example = next(e for e in EXAMPLES if e.file == file)
    return replay_stream(read_capture(str(example_path(example))), example.stream).timeline


@pytest.mark.parametrize("source", ["time_wait_lost_ack", "close_server_first",
                                    "simultaneous_close.pcap", "handshake_and_close.pcap"])
def test_the_scrubber_covers_the_exchange_not_time_wait(qtbot: QtBot, source: str) -> None:
    """60 s of TIME_WAIT after a short exchange: the segments still fill most of the
    scrubber, every stop has a slider position of its own, and dragging to a segment's
    position puts the cursor on it."""
    from gui.playback.playback import TAIL_SHARE
    timeline = _example_replay(source) if source.endswith(".pcap") else get(source).run()
    c = PlaybackController(timeline)  # type: ignore[arg-type]
    assert c.end_time - c.start_time > 50.0                       # TIME_WAIT is long
    sends = sorted({r.sent for r in c.timeline.segments})
    last = max(max(r.sent, r.arrived or r.sent) for r in c.timeline.segments)
    assert c.fraction_of(sends[0]) < 0.05 and c.fraction_of(sends[-1]) > 0.6
    assert 0.02 < 1.0 - c.fraction_of(last) <= TAIL_SHARE + 1e-9  # TIME_WAIT, a tail
    positions = [round(c.fraction_of(t) * SCRUB_STEPS) for t in c.stops]
    assert len(set(positions)) == len(positions)                  # each stop its own
    bar = TransportBar(c)
    qtbot.add_widget(bar)
    stops = c.stops
    for sent in sends:
        value = math.ceil(c.fraction_of(sent) * SCRUB_STEPS)
        bar.slider.setValue(value)                                # the user drags here
        after = stops[stops.index(sent) + 1] if sent != stops[-1] else c.end_time
        assert sent <= c.time < after or c.time == sent == after
    bar.slider.setValue(SCRUB_STEPS)
    assert c.time == c.end_time
    assert c.fraction_of(c.time_of(0.37)) == pytest.approx(0.37)  # one scale both ways
