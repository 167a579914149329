"""The window as a first-time user meets it (issue 12): at every common size the diagram
gets the space, nothing is cut off; docks hide and come back from the View menu; the
layout is saved and restored; the diagram refits when a dock is resized."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from gui.app.dock_layout import NARROW_BELOW
from gui.app.main_window import MainWindow
from resources import EXAMPLES
from tests.gui.window_checks import SIZES, layout_problems


def _window(qtbot: QtBot, settings: QSettings, size: tuple[int, int] | None = None
            ) -> MainWindow:
    window = MainWindow(settings=settings)
    qtbot.add_widget(window)
    if size is not None:
        window.resize(*size)
    window.show()
    qtbot.wait_exposed(window)
    return window


def _settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _open_example(qtbot: QtBot, window: MainWindow, number: int = 0) -> None:
    with qtbot.wait_signal(window.timeline_shown, timeout=30_000):
        window.open_example(EXAMPLES[number])


def _settle(qtbot: QtBot, window: MainWindow) -> None:
    """Let the docks and the diagram's refit settle (the view refits 150 ms after a
    resize stops)."""
    qtbot.wait(400)
    assert window.panel is not None
    window.panel.controller.step_forward()      # a segment is selected: details show
    window.panel.controller.step_forward()
    qtbot.wait(50)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_nothing_is_cut_off(qtbot: QtBot, tmp_path: Path, size: tuple[int, int]) -> None:
    window = _window(qtbot, _settings(tmp_path), size)
    _open_example(qtbot, window)
    _settle(qtbot, window)
    assert (window.width(), window.height()) == size
    assert window.narrow is (size[0] < NARROW_BELOW)
    assert layout_problems(window, size) == []


def test_the_window_can_be_as_small_as_1024_by_700(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, _settings(tmp_path), (1600, 1000))
    _open_example(qtbot, window, 1)
    assert not window.narrow
    # a user shrinking the wide window passes NARROW_BELOW: the docks stack
    minimum = window.minimumSizeHint()
    assert minimum.width() < NARROW_BELOW
    window.resize(1024, 700)
    _settle(qtbot, window)
    assert window.narrow and window.minimumSizeHint().width() <= 1024
    assert window.minimumSizeHint().height() <= 700
    assert layout_problems(window, (1024, 700)) == []


def test_docks_hide_and_come_back_from_the_view_menu(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, _settings(tmp_path), (1600, 1000))
    _open_example(qtbot, window)
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    entries = {a.text(): a for a in view_menu.actions()}
    for number, dock in enumerate(window.docks(), 1):
        toggle = dock.toggleViewAction()
        assert toggle in view_menu.actions() and toggle.isEnabled()
        assert toggle.shortcut().toString() == f"Alt+{number}"
        before = window.view.width() if window.view else 0
        toggle.trigger()
        assert dock.isHidden()
        qtbot.wait(50)
        if dock is not window.bottom_dock:
            assert window.view is not None and window.view.width() > before
        toggle.trigger()
        assert dock.isVisible()
    assert not window.auto_layout                       # the user's layout from now on
    entries["&Reset layout"].trigger()
    assert window.auto_layout and all(d.isVisible() for d in window.docks())


def test_the_layout_is_saved_and_restored(qtbot: QtBot, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    window = _window(qtbot, settings, (1500, 900))
    window.details_dock.toggleViewAction().trigger()      # the user hides the details
    window.move(30, 40)
    window.close()
    assert settings.value("window/state") is not None
    again = _window(qtbot, _settings(tmp_path))
    assert not again.details_dock.isVisible() and again.sources_dock.isVisible()
    assert not again.auto_layout
    # (the offscreen screen is 800 px: Qt fits restored geometry to it; the size itself
    # is checked on a real screen, tests/realwindow)
    # a fresh settings file: the default arrangement for the width, nothing restored
    fresh = _window(qtbot, QSettings(str(tmp_path / "other.ini"),
                                     QSettings.Format.IniFormat), (1500, 900))
    assert fresh.details_dock.isVisible() and fresh.auto_layout


def test_the_default_settings_are_not_the_users(qtbot: QtBot) -> None:
    """A window made without settings (as the app does) writes under the tests' folder."""
    window = MainWindow()
    qtbot.add_widget(window)
    from tests.qt_settings import PREFIX
    assert PREFIX in window.settings.fileName()


def test_the_diagram_refits_when_a_dock_is_resized(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, _settings(tmp_path), (1600, 1000))
    _open_example(qtbot, window, 1)
    view = window.view
    assert view is not None
    qtbot.wait(400)
    wide = view.diagram_layout().width
    window.resizeDocks([window.details_dock], [600], Qt.Orientation.Horizontal)
    qtbot.wait_until(lambda: view.diagram_layout().width < wide - 50, timeout=3000)
    lay = view.diagram_layout()
    assert lay.width == pytest.approx(max(view.viewport().width() - 2, lay.min_width))
    window.resizeDocks([window.details_dock], [300], Qt.Orientation.Horizontal)
    qtbot.wait_until(lambda: view.diagram_layout().width > lay.width + 50, timeout=3000)


def test_fit_width_keeps_the_text_size(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, _settings(tmp_path), (2560, 1440))
    _open_example(qtbot, window)
    fit = next(a for a in window.actions_with_keys() if a.shortcut().toString() == "Ctrl+9")
    fit.trigger()
    assert window.view is not None and window.view.zoom == 1.0


@pytest.mark.parametrize("size", [(1024, 768), (1600, 1000)], ids=["1024x768", "1600x1000"])
def test_more_than_three_scenarios_are_in_view(qtbot: QtBot, tmp_path: Path,
                                               size: tuple[int, int]) -> None:
    window = _window(qtbot, _settings(tmp_path), size)
    window.sources.setCurrentWidget(window.simulation)
    qtbot.wait(300)
    listing = window.simulation.scenario_list
    inside = listing.viewport().rect()
    whole = [i for i in range(listing.count())
             if inside.contains(listing.visualItemRect(listing.item(i)))]
    assert len(whole) >= 4
    line = listing.fontMetrics().height()
    assert listing.visualItemRect(listing.item(0)).height() <= 2 * line + 12  # two lines


def test_each_sources_tab_shows_its_own_diagram(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, _settings(tmp_path), (1600, 1000))
    _open_example(qtbot, window)
    captured = window.timeline
    assert captured is not None and window.replay_source is not None
    with qtbot.wait_signal(window.timeline_shown, timeout=20_000):
        window.simulation.select("flow_control")
    simulated = window.timeline
    assert simulated is not captured and window.replay_source is None
    with qtbot.wait_signal(window.timeline_shown):
        window.sources.setCurrentWidget(window.streams)
    assert window.timeline is captured and window.replay_source is not None
    assert window.stream == 0
    with qtbot.wait_signal(window.timeline_shown):
        window.sources.setCurrentWidget(window.simulation)
    assert window.timeline is simulated


def test_selection_and_details_follow_the_cursor(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, _settings(tmp_path), (1600, 1000))
    _open_example(qtbot, window, 1)
    assert window.panel is not None and window.view is not None
    controller = window.panel.controller
    for fraction in (0.1, 0.3, 0.5):              # the scrubber seeks: no step signal
        controller.seek_fraction(fraction)
        at = controller.segment_at_cursor()
        assert at >= 0 and window.view.selected == at
        assert window.details.details is not None and window.details.details.index == at
    window.view.set_selected(3)                   # a click selects another one ...
    window._on_segment_clicked(3)
    assert window.details.details is not None and window.details.details.index == 3
    controller.step_forward()                     # ... until the cursor moves again
    assert window.view.selected == controller.segment_at_cursor() != 3
    controller.set_speed(10.0)
    controller.play()
    controller.advance(0.05)                      # while playing, details catch up soon
    qtbot.wait_until(lambda: window.details.details is not None
                     and window.details.details.index == controller.segment_at_cursor())
    controller.pause()
