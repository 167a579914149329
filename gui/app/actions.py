"""The main window's menus, actions and keyboard shortcuts, in one table-like place.

Rules:
- Every action with a shortcut is a window action (``Qt.WindowShortcut``), so Space,
  Left and Right work wherever the focus is, except in text fields, which keep them.
- Playback actions call the current Timeline's controller, looked up when triggered
  (a new Timeline brings a new controller).
- The menus know the window only through :class:`MenuHost` (the main window derives
  from it), so this module imports nothing of :mod:`gui.app.main_window`, which
  imports it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSpinBox,
)

from gui.diagram.sequence_view import SequenceView
from gui.playback.playback import PlaybackController
from gui.playback.timeline_panel import TimelinePanel
from resources import EXAMPLES, Example

Keys = str | QKeySequence | QKeySequence.StandardKey


class MenuHost:
    """What the menus drive and fill in: the main window's views, commands and actions.
    The main window derives from it; :func:`build_menus` sets the menus and actions
    declared here, and the window provides the rest."""

    recent_menu: QMenu
    examples_menu: QMenu
    open_action: QAction
    export_action: QAction
    compact_action: QAction
    absolute_action: QAction
    follow_action: QAction
    play_action: QAction
    forward_action: QAction
    back_action: QAction
    start_action: QAction
    end_action: QAction
    view: SequenceView | None
    panel: TimelinePanel | None

    def docks(self) -> tuple[QDockWidget, ...]:
        raise NotImplementedError

    def on_dock_toggled(self) -> None:
        raise NotImplementedError

    def reset_layout(self) -> None:
        raise NotImplementedError

    def open_example(self, example: Example) -> None:
        raise NotImplementedError

    def shortcut_text(self) -> str:
        raise NotImplementedError

    def _on_open(self) -> None:
        raise NotImplementedError

    def _on_export(self) -> None:
        raise NotImplementedError


def _typing() -> bool:
    """The focus is in a text or number field that wants the arrow keys and Space."""
    focus = QApplication.focusWidget()
    return isinstance(focus, QLineEdit | QSpinBox) or (
        focus is not None and focus.inherits("QAbstractSpinBox"))


def build_menus(window: QMainWindow, host: MenuHost) -> None:
    """The menus of ``window`` (its menu bar; every action is also a window action) for
    ``host``'s commands; ``host`` keeps the actions it needs later. The main window is both."""
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
            if host.panel is not None and not _typing():
                call(host.panel.controller)
        return run

    def view(call: Callable[[SequenceView], object]) -> Callable[[], None]:
        def run() -> None:
            if host.view is not None:
                call(host.view)
        return run

    file_menu = bar.addMenu("&File")
    host.open_action = add(file_menu, "&Open capture\u2026", host._on_open,
                           QKeySequence.StandardKey.Open)
    host.recent_menu = file_menu.addMenu("Open &recent")
    host.examples_menu = file_menu.addMenu("Open e&xample")
    host.examples_menu.setToolTipsVisible(True)
    for example in EXAMPLES:
        action = host.examples_menu.addAction(example.title)
        action.setToolTip(example.description)
        action.setStatusTip(example.description)
        action.triggered.connect(lambda _=False, e=example: host.open_example(e))
    file_menu.addSeparator()
    host.export_action = add(file_menu, "&Export PNG\u2026", host._on_export, "Ctrl+E",
                             tip="Export the whole diagram or the current view as PNG")
    file_menu.addSeparator()
    add(file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)

    view_menu = bar.addMenu("&View")
    host.compact_action = add(
        view_menu, "&Compact rows",
        view(lambda v: v.set_compact(host.compact_action.isChecked())), "Ctrl+K",
        checkable=True, tip="Evenly spaced rows, one per segment, as in a flow graph")
    host.absolute_action = add(
        view_menu, "&Absolute sequence numbers",
        view(lambda v: v.set_absolute(host.absolute_action.isChecked())), "Ctrl+B",
        checkable=True, tip="Raw sequence numbers instead of numbers relative to each ISS")
    host.follow_action = add(
        view_menu, "&Follow playback",
        view(lambda v: v.set_follow(host.follow_action.isChecked())), "F",
        checkable=True, checked=True, tip="Scroll the diagram with the playback cursor")
    view_menu.addSeparator()
    add(view_menu, "Zoom &in", view(lambda v: v.zoom_in()), QKeySequence.StandardKey.ZoomIn)
    add(view_menu, "Zoom &out", view(lambda v: v.zoom_out()), QKeySequence.StandardKey.ZoomOut)
    add(view_menu, "&Actual size", view(lambda v: v.zoom_reset()), "Ctrl+0")
    add(view_menu, "Fit &width", view(lambda v: v.zoom_to_fit_width()), "Ctrl+9")
    view_menu.addSeparator()
    for number, dock in enumerate(host.docks(), 1):
        toggle = dock.toggleViewAction()
        toggle.setText(f"{dock.windowTitle()} panel")
        toggle.setShortcut(QKeySequence(f"Alt+{number}"))
        toggle.setStatusTip(f"Show or hide the {dock.windowTitle().lower()} panel")
        toggle.triggered.connect(lambda _=False: host.on_dock_toggled())
        view_menu.addAction(toggle)
        window.addAction(toggle)
    add(view_menu, "&Reset layout", host.reset_layout,
        tip="Put every panel back where it starts, sized for this window")

    play_menu = bar.addMenu("&Playback")
    host.play_action = add(play_menu, "&Play / pause", playback(lambda c: c.toggle()), "Space")
    host.forward_action = add(play_menu, "Step &forward", playback(lambda c: c.step_forward()),
                              "Right")
    host.back_action = add(play_menu, "Step &back", playback(lambda c: c.step_back()), "Left")
    host.start_action = add(play_menu, "To the &start", playback(lambda c: c.to_start()),
                            "Home")
    host.end_action = add(play_menu, "To the &end", playback(lambda c: c.to_end()), "End")
    play_menu.addSeparator()
    add(play_menu, "&Faster", playback(lambda c: c.faster()), "]")
    add(play_menu, "&Slower", playback(lambda c: c.slower()), "[")

    help_menu = bar.addMenu("&Help")
    add(help_menu, "&Keyboard shortcuts", lambda: QMessageBox.information(
        window, "Keyboard shortcuts", host.shortcut_text()), "F1")
    add(help_menu, "&About SynAck", lambda: QMessageBox.about(
        window, "About SynAck",
        "SynAck animates TCP connections: open a capture or pick a scenario, play it, "
        "step through it and export the diagram as PNG."))
