"""The simulation panel: scenarios, explanations, the parameter form, runs and errors."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from core.errors import ParameterError
from core.simulate.scenarios import SCENARIOS, Scenario, get
from core.tcp.states import Side
from core.trace import Timeline
from gui.sources.sim_panel import SimulationPanel


@pytest.fixture
def panel(qtbot: QtBot) -> SimulationPanel:
    widget = SimulationPanel()
    qtbot.add_widget(widget)
    widget.resize(380, 800)
    return widget


def _select(qtbot: QtBot, panel: SimulationPanel, name: str) -> Timeline:
    with qtbot.wait_signal(panel.timeline_built) as blocker:
        panel.select(name)
    timeline = blocker.args[0]
    assert isinstance(timeline, Timeline)
    return timeline


def _after_edit(qtbot: QtBot, panel: SimulationPanel, edit: object) -> Timeline:
    """Apply ``edit`` (a callable) as a user would and wait for the debounced run."""
    with qtbot.wait_signal(panel.timeline_built) as blocker:
        edit()  # type: ignore[operator]
        assert panel._debounce.isActive() and not panel.busy  # nothing ran yet
    assert isinstance(blocker.args[0], Timeline)
    return blocker.args[0]


def _delays(timeline: Timeline, sender: Side) -> set[float]:
    return {round(r.arrived - r.sent, 9) for r in timeline.segments
            if r.sender is sender and r.arrived is not None}


def _fates(timeline: Timeline) -> list[tuple[str, float, float | None]]:
    return [(r.sender.value, r.sent, r.arrived) for r in timeline.segments]


def _spin(panel: SimulationPanel, key: str) -> QDoubleSpinBox:
    widget = panel.form.editor(key)
    assert isinstance(widget, QDoubleSpinBox)
    return widget


def _int(panel: SimulationPanel, key: str) -> QSpinBox:
    widget = panel.form.editor(key)
    assert isinstance(widget, QSpinBox)
    return widget


def _line(panel: SimulationPanel, key: str) -> QLineEdit:
    widget = panel.form.editor(key)
    assert isinstance(widget, QLineEdit)
    return widget


def _type(qtbot: QtBot, line: QLineEdit, text: str) -> None:
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Delete)
    qtbot.keyClicks(line, text)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_runs_and_explains_itself(qtbot: QtBot, panel: SimulationPanel,
                                                 scenario: Scenario) -> None:
    timeline = _select(qtbot, panel, scenario.name)
    assert _fates(timeline) == _fates(scenario.run())
    assert scenario.name in timeline.title
    text = panel.explanation.toPlainText()
    assert scenario.explanation in text and scenario.summary in text
    assert panel.current_overrides() == {}
    assert panel.scenario_list.currentItem().data(Qt.ItemDataRole.UserRole) == scenario.name
    assert not panel.error.isVisibleTo(panel)


def test_the_list_shows_every_scenario_and_nothing_runs_before_a_pick(
        qtbot: QtBot, panel: SimulationPanel) -> None:
    assert panel.scenario_list.count() == len(SCENARIOS)
    assert panel.scenario is None and not panel.busy
    assert not panel.run_button.isEnabled()
    with qtbot.assert_not_emitted(panel.timeline_built):
        panel.run()
    with pytest.raises(ParameterError):
        panel.select("no_such_scenario")
    with qtbot.assert_not_emitted(panel.timeline_built):   # focus makes a row current
        panel.show()
        qtbot.wait_exposed(panel)
        panel.scenario_list.setFocus()
        model = panel.scenario_list.selectionModel()
        model.setCurrentIndex(panel.scenario_list.model().index(1, 0),
                              model.SelectionFlag.NoUpdate)
        qtbot.wait_until(lambda: panel.scenario_list.currentRow() == 1)
    assert panel.scenario is None


def test_a_click_on_the_list_runs_the_scenario(qtbot: QtBot, panel: SimulationPanel) -> None:
    with qtbot.wait_signal(panel.timeline_built):
        panel.scenario_list.setCurrentRow(2)
    assert panel.scenario is SCENARIOS[2]
    panel.show()
    rect = panel.scenario_list.visualItemRect(panel.scenario_list.item(0))
    with qtbot.wait_signal(panel.timeline_built) as blocker:
        qtbot.mouseClick(panel.scenario_list.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())
    assert panel.scenario is SCENARIOS[0] and SCENARIOS[0].name in blocker.args[0].title
    qtbot.mouseClick(panel.scenario_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.center())    # the scenario already shown: no new run
    assert not panel.busy


def test_delay_is_shown_in_ms_and_reruns_with_the_new_value(
        qtbot: QtBot, panel: SimulationPanel) -> None:
    timeline = _select(qtbot, panel, "hello_ok")
    delay = _spin(panel, "delay")
    assert delay.suffix() == " ms" and delay.value() == pytest.approx(10.0)
    assert _delays(timeline, Side.CLIENT) == {0.01}
    timeline = _after_edit(qtbot, panel, lambda: delay.setValue(45.0))
    assert panel.current_overrides() == {"delay": pytest.approx(0.045)}
    assert _delays(timeline, Side.CLIENT) == _delays(timeline, Side.SERVER) == {0.045}


def test_delay_back_per_direction(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "hello_ok")
    back = _spin(panel, "delay_back")
    assert back.text() == "same as delay"
    timeline = _after_edit(qtbot, panel, lambda: back.setValue(70.0))
    assert _delays(timeline, Side.CLIENT) == {0.01}
    assert _delays(timeline, Side.SERVER) == {0.07}


def test_loss_in_percent_reruns_with_the_new_value(qtbot: QtBot,
                                                   panel: SimulationPanel) -> None:
    _select(qtbot, panel, "fast_retransmit")
    loss = _spin(panel, "loss")
    assert loss.suffix() == " %"
    timeline = _after_edit(qtbot, panel, lambda: loss.setValue(30.0))
    assert panel.current_overrides() == {"loss": pytest.approx(0.3)}
    assert _fates(timeline) == _fates(get("fast_retransmit").run({"loss": 0.3}))
    assert any(r.lost for r in timeline.segments)


def test_a_bad_value_shows_the_error_in_red_and_nothing_runs(
        qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "retransmission")
    drop = _line(panel, "drop")
    assert drop.text() == "client:3"
    with qtbot.assert_not_emitted(panel.timeline_built), \
            qtbot.wait_signal(panel.run_failed) as blocker:
        _type(qtbot, drop, "sideways:3")
    message = blocker.args[0]
    assert "sideways:3" in message
    assert panel.error.isVisibleTo(panel) and panel.error.text() == message
    assert "#B2182B" in panel.error.styleSheet()
    with qtbot.wait_signal(panel.timeline_built):
        _type(qtbot, drop, "server:2")
    assert not panel.error.isVisibleTo(panel)
    assert panel.current_overrides() == {"drop": "server:2"}


def test_limits_across_keys_are_core_s_error(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "hello_ok")
    with qtbot.wait_signal(panel.run_failed) as blocker:
        _spin(panel, "rto_min").setValue(5000.0)   # above rto_initial (1000 ms)
    assert "rto_min" in blocker.args[0] and panel.error.isVisibleTo(panel)


def test_text_that_does_not_parse(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "hello_ok")
    with qtbot.wait_signal(panel.run_failed) as blocker:
        _type(qtbot, _line(panel, "client.iss"), "lots")
    assert "client.iss" in blocker.args[0]
    with pytest.raises(ParameterError):
        panel.current_overrides()
    _type(qtbot, _line(panel, "client.iss"), "random")
    assert panel.current_overrides() == {"client.iss": "random"}


def test_edits_are_debounced_into_one_run(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "hello_ok")
    built: list[object] = []
    panel.timeline_built.connect(built.append)
    delay = _spin(panel, "delay")
    with qtbot.wait_signal(panel.timeline_built):
        for value in (20.0, 30.0, 40.0):
            delay.setValue(value)
        assert not panel.busy
    qtbot.wait_until(lambda: not panel.busy)
    assert len(built) == 1
    assert isinstance(built[0], Timeline) and _delays(built[0], Side.CLIENT) == {0.04}


def test_only_the_newest_run_is_shown(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "hello_ok")
    built: list[object] = []
    panel.timeline_built.connect(built.append)
    panel.run()
    _spin(panel, "delay").setValue(25.0)
    panel.run()
    assert panel.busy and not panel._debounce.isActive()
    qtbot.wait_until(lambda: not panel.busy)
    assert len(built) == 1
    assert isinstance(built[0], Timeline) and _delays(built[0], Side.CLIENT) == {0.025}


def test_run_and_reset_buttons(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "simultaneous_close")
    delay = _spin(panel, "delay")
    assert delay.value() == pytest.approx(30.0)   # the scenario's own default
    delay.setValue(5.0)
    with qtbot.wait_signal(panel.timeline_built) as blocker:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert not panel._debounce.isActive()
    assert _delays(blocker.args[0], Side.CLIENT) == {0.005}
    with qtbot.wait_signal(panel.timeline_built) as blocker:
        qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    assert panel.current_overrides() == {} and delay.value() == pytest.approx(30.0)
    assert _delays(blocker.args[0], Side.CLIENT) == {0.03}


def test_common_keys_and_the_scenario_s_own_come_first(qtbot: QtBot,
                                                       panel: SimulationPanel) -> None:
    _select(qtbot, panel, "keepalive")
    common = set(panel.form.first)
    assert panel.form.common.rowCount() == len(common)
    assert all(panel.form.common.indexOf(panel.form.rows[k].label) >= 0 for k in common)
    assert {"delay", "loss", "mss", "recv_buffer", "msl", "nagle", "delayed_ack",
            "seed"} <= common
    assert {"keepalive_idle", "keepalive_interval"} <= common
    assert "reorder" not in common
    assert not panel.form.more_box.isVisibleTo(panel)
    panel.form.expander.click()
    assert panel.form.more_box.isVisibleTo(panel)


def test_per_side_values(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "flow_control")
    assert panel.form.rows["recv_buffer"].is_split        # the defaults differ
    assert _int(panel, "server.recv_buffer").value() == 1000
    assert not panel.form.rows["mss"].is_split
    _after_edit(qtbot, panel, lambda: _int(panel, "server.recv_buffer").setValue(2000))
    assert panel.current_overrides() == {"server.recv_buffer": 2000}
    panel.form.set_split("mss", True)
    timeline = _after_edit(qtbot, panel, lambda: _int(panel, "client.mss").setValue(300))
    assert panel.current_overrides() == {"server.recv_buffer": 2000, "client.mss": 300}
    expected = get("flow_control").run({"server.recv_buffer": 2000, "client.mss": 300})
    assert _fates(timeline) == _fates(expected)


def test_booleans_and_off_values(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "hello_ok")
    nagle = panel.form.editor("nagle")
    assert isinstance(nagle, QCheckBox)
    nagle.setChecked(True)
    delayed = _spin(panel, "delayed_ack")
    delayed.setValue(delayed.minimum())
    assert delayed.text() == "off"
    assert panel.current_overrides() == {"nagle": True, "delayed_ack": None}


def test_preset_moves_untouched_values(qtbot: QtBot, panel: SimulationPanel) -> None:
    _select(qtbot, panel, "close_client_first")
    msl = _spin(panel, "msl")
    assert msl.value() == pytest.approx(30.0)
    _int(panel, "mss").setValue(1000)
    preset = panel.form.editor("preset")
    assert isinstance(preset, QComboBox)
    timeline = _after_edit(qtbot, panel, lambda: preset.setCurrentText("rfc"))
    assert msl.value() == pytest.approx(120.0)          # RFC 9293's MSL
    assert _spin(panel, "time_wait").text() == "2 MSL"
    assert panel.current_overrides() == {"preset": "rfc", "mss": 1000}
    assert math.isclose(timeline.msl or 0.0, 120.0)


def test_panel_renders_at_sidebar_size(qtbot: QtBot, panel: SimulationPanel) -> None:
    panel.show()
    _select(qtbot, panel, "flow_control")
    image = panel.grab().toImage()
    assert image.width() >= 380 and image.height() >= 800
