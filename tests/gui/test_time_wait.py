"""TimeWaitCountdown: texts and remaining time at given cursor times, the expiry signal,
and a replay whose capture ends before TIME_WAIT does."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.capture import read_capture
from core.cursor import Countdown
from core.demo import demo_timeline
from core.replay import replay_stream
from core.simulate import scenarios
from core.tcp.states import Side
from core.trace import Timeline
from gui.inspector.time_wait import (
    QUIET,
    TimeWaitCountdown,
    capture_text,
    countdown_text,
    seconds_text,
)

C, S = Side.CLIENT, Side.SERVER


def make(qtbot: QtBot, timeline: Timeline) -> TimeWaitCountdown:
    widget = TimeWaitCountdown(timeline)
    qtbot.add_widget(widget)
    return widget


def test_seconds_text() -> None:
    assert [seconds_text(x) for x in (60.0, 41.3, 7.6562915, 0.46, 61.06)] == [
        "60 s", "41.3 s", "7.66 s", "0.46 s", "61.06 s"]


def test_quiet_without_time_wait(qtbot: QtBot) -> None:
    widget = make(qtbot, demo_timeline())
    widget.set_time(0.1)
    assert widget.quiet() and widget.text(C) == widget.text(S) == ""
    assert widget.countdown(C) is None and widget.capture_note() == ""
    assert QUIET == "No side is in TIME_WAIT."


def test_demo_countdown_drains_and_closes(qtbot: QtBot) -> None:
    widget = make(qtbot, demo_timeline())
    widget.set_time(18.96)
    assert not widget.quiet()
    assert widget.text(C) == "client TIME_WAIT 41.3 s of 2MSL = 60 s left (MSL 30 s)"
    assert widget.text(S) == ""
    countdown = widget.countdown(C)
    assert countdown is not None and countdown.remaining == pytest.approx(41.3)
    widget.set_time(60.0)
    with qtbot.wait_signal(widget.expired, timeout=1000) as blocker:
        widget.set_time(60.3)
    assert blocker.args == [C]
    assert widget.text(C) == "client CLOSED: TIME_WAIT (2MSL = 60 s) ended at 60.26 s (MSL 30 s)"
    assert widget.capture_note() == ""           # the simulation shows the end itself


def test_expiry_is_signalled_only_when_crossing_forwards(qtbot: QtBot) -> None:
    widget = make(qtbot, demo_timeline())
    widget.set_time(61.0)
    with qtbot.assert_not_emitted(widget.expired):
        widget.set_time(59.0)                     # back into TIME_WAIT
        widget.set_time(59.5)
    with qtbot.wait_signal(widget.expired, timeout=1000):
        widget.set_time(100.0)                    # a jump over the deadline counts


def test_both_sides_expire_after_a_simultaneous_close(qtbot: QtBot) -> None:
    widget = make(qtbot, scenarios.get("simultaneous_close").run())
    widget.set_time(31.06)
    assert widget.text(C) == "client TIME_WAIT 30.0 s of 2MSL = 60 s left (MSL 30 s)"
    assert widget.text(S) == "server TIME_WAIT 30.0 s of 2MSL = 60 s left (MSL 30 s)"
    seen: list[Side] = []
    widget.expired.connect(seen.append)
    widget.set_time(62.0)
    assert sorted(side.value for side in seen) == ["client", "server"]


def test_restarted_timer_is_named(qtbot: QtBot) -> None:
    widget = make(qtbot, scenarios.get("time_wait_lost_ack").run())
    widget.set_time(0.3)
    assert widget.text(C) == "client TIME_WAIT 60.0 s of 2MSL = 60 s left (MSL 30 s)"
    widget.set_time(1.46)
    assert widget.text(C) == ("client TIME_WAIT 59.0 s of 2MSL = 60 s left (MSL 30 s)"
                              " · timer restarted at 0.46 s")
    with qtbot.assert_not_emitted(widget.expired):
        widget.set_time(60.3)                     # the first deadline no longer holds


def test_other_msl(qtbot: QtBot) -> None:
    widget = make(qtbot, scenarios.get("close_client_first").run({"msl": 2.0,
                                                                  "time_wait": None}))
    widget.set_time(1.26)
    assert widget.text(C) == "client TIME_WAIT 3.0 s of 2MSL = 4 s left (MSL 2 s)"


def test_simulation_stopped_before_the_deadline(qtbot: QtBot) -> None:
    widget = make(qtbot, scenarios.get("close_client_first").run({"until": 5.0}))
    widget.set_time(30.26)
    assert widget.text(C) == "client TIME_WAIT 30.0 s of 2MSL = 60 s left (MSL 30 s)"
    assert widget.capture_note() == ("The simulation stops at 0.27 s; it does not show the "
                                     "end of TIME_WAIT.")


def test_texts_without_a_known_msl() -> None:
    countdown = Countdown(side=S, entered=1.0, started=1.0, deadline=61.0, now=11.0, msl=None,
                          timeline_end=2.0, beyond_capture=True)
    assert countdown_text(countdown) == "server TIME_WAIT 50.0 s of 60 s left (MSL not known)"
    assert capture_text(countdown) == ("The capture ends at 2 s; it does not show the end of "
                                       "TIME_WAIT.")


@pytest.mark.corpus
def test_replay_counts_down_past_the_capture(qtbot: QtBot, corpus: Path) -> None:
    tl = replay_stream(read_capture(corpus / "kernel/zero_window.pcap"), 0).timeline
    widget = make(qtbot, tl)
    widget.set_time(7.656)
    assert widget.capture_note() == ""            # still inside the capture
    widget.set_time(60.0)
    assert widget.text(C) == "client TIME_WAIT 7.7 s of 2MSL = 60 s left (MSL 30 s)"
    assert widget.capture_note() == ("The capture ends at 7.66 s; it does not show the end "
                                     "of TIME_WAIT.")
    with qtbot.wait_signal(widget.expired, timeout=1000) as blocker:
        widget.set_time(68.0)
    assert blocker.args == [C]
    assert widget.text(C) == "client CLOSED: TIME_WAIT (2MSL = 60 s) ended at 67.66 s (MSL 30 s)"
    assert widget.capture_note().startswith("The capture ends at 7.66 s")
