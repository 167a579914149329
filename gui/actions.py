"""The main window's menus, actions and keyboard shortcuts, in one table-like place.

Rules:
- Every action with a shortcut is a window action (``Qt.WindowShortcut``), so Space,
  Left and Right work wherever the focus is, except in text fields, which keep them.
- Playback actions call the current Timeline's controller, looked up when triggered
  (a new Timeline brings a new controller).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QMenu, QMessageBox, QSpinBox

from gui.playback import PlaybackController
from gui.sequence_view import SequenceView
from resources import EXAMPLES

if TYPE_CHECKING:
    from gui.main_window import MainWindow


Keys = str | QKeySequence | QKeySequence.StandardKey


def _typing() -> bool:
    """The focus is in a text or number field that wants the arrow keys and Space."""
    focus = QApplication.focusWidget()
    return isinstance(focus, QLineEdit | QSpinBox) or (
        focus is not None and focus.inherits("QAbstractSpinBox"))


def build_menus(window: MainWindow) -> None:
    bar = window.menuBar()

    def add(menu: QMenu, text: str, slot: Callable[[], object], keys: Keys = "", *,
            checkable: bool = False, checked: bool = False, tip: str = "") -> QAction:
        action = QAction(text, window)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.setCheckable(checkable)
        action.setChecked(checked)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        window.addAction(action)
        return action

    def playback(call: Callable[[PlaybackController], object]) -> Callable[[], None]:
        def run() -> None:
            if window.panel is not None and not _typing():
                call(window.panel.controller)
        return run

    def view(call: Callable[[SequenceView], object]) -> Callable[[], None]:
        def run() -> None:
            if window.view is not None:
                call(window.view)
        return run

    file_menu = bar.addMenu("&File")
    window.open_action = add(file_menu, "&Open capture\u2026", window._on_open,
                             QKeySequence.StandardKey.Open)
    window.recent_menu = file_menu.addMenu("Open &recent")
    window.examples_menu = file_menu.addMenu("Open e&xample")
    window.examples_menu.setToolTipsVisible(True)
    for example in EXAMPLES:
        action = window.examples_menu.addAction(example.title)
        action.setToolTip(example.description)
        action.setStatusTip(example.description)
        action.triggered.connect(lambda _=False, e=example: window.open_example(e))
    file_menu.addSeparator()
    window.export_action = add(file_menu, "&Export PNG\u2026", window._on_export, "Ctrl+E",
                               tip="Export the whole diagram or the current view as PNG")
    file_menu.addSeparator()
    add(file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)

    view_menu = bar.addMenu("&View")
    window.compact_action = add(
        view_menu, "&Compact rows",
        view(lambda v: v.set_compact(window.compact_action.isChecked())), "Ctrl+K",
        checkable=True, tip="Evenly spaced rows, one per segment, as in a flow graph")
    window.absolute_action = add(
        view_menu, "&Absolute sequence numbers",
        view(lambda v: v.set_absolute(window.absolute_action.isChecked())), "Ctrl+B",
        checkable=True, tip="Raw sequence numbers instead of numbers relative to each ISS")
    window.follow_action = add(
        view_menu, "&Follow playback",
        view(lambda v: v.set_follow(window.follow_action.isChecked())), "F",
        checkable=True, checked=True, tip="Scroll the diagram with the playback cursor")
    view_menu.addSeparator()
    add(view_menu, "Zoom &in", view(lambda v: v.zoom_in()), QKeySequence.StandardKey.ZoomIn)
    add(view_menu, "Zoom &out", view(lambda v: v.zoom_out()), QKeySequence.StandardKey.ZoomOut)
    add(view_menu, "&Actual size", view(lambda v: v.zoom_reset()), "Ctrl+0")
    add(view_menu, "Fit &width", view(lambda v: v.zoom_to_fit_width()), "Ctrl+9")
    view_menu.addSeparator()
    for number, dock in enumerate(window.docks(), 1):
        toggle = dock.toggleViewAction()
        toggle.setText(f"{dock.windowTitle()} panel")
        toggle.setShortcut(QKeySequence(f"Alt+{number}"))
        toggle.setStatusTip(f"Show or hide the {dock.windowTitle().lower()} panel")
        toggle.triggered.connect(lambda _=False: window.on_dock_toggled())
        view_menu.addAction(toggle)
        window.addAction(toggle)
    add(view_menu, "&Reset layout", window.reset_layout,
        tip="Put every panel back where it starts, sized for this window")

    play_menu = bar.addMenu("&Playback")
    window.play_action = add(play_menu, "&Play / pause", playback(lambda c: c.toggle()), "Space")
    window.forward_action = add(play_menu, "Step &forward", playback(lambda c: c.step_forward()),
                                "Right")
    window.back_action = add(play_menu, "Step &back", playback(lambda c: c.step_back()), "Left")
    window.start_action = add(play_menu, "To the &start", playback(lambda c: c.to_start()),
                              "Home")
    window.end_action = add(play_menu, "To the &end", playback(lambda c: c.to_end()), "End")
    play_menu.addSeparator()
    add(play_menu, "&Faster", playback(lambda c: c.faster()), "]")
    add(play_menu, "&Slower", playback(lambda c: c.slower()), "[")

    help_menu = bar.addMenu("&Help")
    add(help_menu, "&Keyboard shortcuts", lambda: QMessageBox.information(
        window, "Keyboard shortcuts", window.shortcut_text()), "F1")
    add(help_menu, "&About SynAck", lambda: QMessageBox.about(
        window, "About SynAck",
        "SynAck animates TCP connections: open a capture or pick a scenario, play it, "
        "step through it and export the diagram as PNG."))
