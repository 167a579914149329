"""Every scenario plays from start to end in the bottom panel: the cursor visits every
stop, the window bars stay consistent and a TIME_WAIT countdown ends in CLOSED."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from core import cursor as core_cursor
from core.simulate.scenarios import SCENARIOS
from core.tcp.states import Side, TcpState
from gui.playback.timeline_panel import TimelinePanel


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_scenario_plays_with_bars_and_countdown(qtbot: QtBot, name: str) -> None:
    timeline = next(s for s in SCENARIOS if s.name == name).run()
    panel = TimelinePanel(timeline)
    qtbot.add_widget(panel)
    c = panel.controller
    steps = shown = 0
    while c.step_forward():
        steps += 1
        for side in Side:
            values = panel.bars.values(side)
            if values.get("snd_wnd") is not None:      # the side knows its peer's window
                shown += 1
                una, nxt, edge = (int(values[k]) for k in ("una", "nxt", "edge"))
                assert una <= nxt and int(values["in_flight"]) == nxt - una
                assert int(values["usable"]) == max(0, edge - nxt)
        assert steps < 10_000
    assert steps >= 2
    assert shown > 0 or name == "closed_port"          # refused: never synchronized
    assert c.time == c.end_time
    for side in Side:
        entered = any(ch.new is TcpState.TIME_WAIT for ch in timeline.state_changes(side))
        countdown = panel.countdown.countdown(side)
        if entered and timeline.state_at(side, timeline.end) is TcpState.TIME_WAIT:
            # the countdown runs to its deadline and the side is shown CLOSED
            assert countdown is not None and countdown.expired
            assert core_cursor.displayed_state_at(timeline, side, c.time) is TcpState.CLOSED
            assert "CLOSED" in panel.countdown.text(side)
