"""The main window: sources on the left, the diagram, details on the right, playback below.

Rules:
- The window wires views together and holds the current *source* (a capture and its
  stream, a scenario, or the demo); it draws nothing itself.
- Showing a Timeline builds one :class:`~gui.playback.timeline_panel.TimelinePanel` (playback
  controller, transport, window bars, countdown) and a new diagram view; nothing of the
  previous Timeline survives: its panel and view are disconnected and deleted, so
  opening capture after capture keeps memory flat.
- Captures load in a worker with a progress dialog (:mod:`gui.sources.loader`); a bad file gives
  a dialog with core's message and the window keeps what it showed. The chosen stream
  is replayed in a worker too (:mod:`gui.sources.replayer`, once per stream: the capture keeps
  its replays); until it is ready, or if it is cancelled, the window shows what it
  showed.
- Recent files live in ``QSettings`` (key ``recent``, newest first, ``RECENT_MAX``);
  the bundled examples (File > Open example, :mod:`resources`) open through the same
  loader but are not added to them.
- The diagram gets the space: :mod:`gui.app.dock_layout` arranges the docks (side docks the
  full height, the playback dock as tall as its content under the diagram, details under
  the sources in narrow windows), saves and restores the layout with ``QSettings``.
  Every dock can be hidden and brought back from the View menu (Alt+1..3); View > Reset
  layout restores the default for the width.
- Selection and details follow the playback cursor: whenever the cursor moves (step,
  seek, play, scrubber), the segment at the cursor is selected and its details shown
  (at most every ``DETAILS_EVERY_MS`` while playing); a click selects another segment
  until the cursor moves again.
- Each Sources tab shows its own diagram: switching to Simulation shows the last
  scenario run, switching back to Capture the stream last shown. Stacked (narrow), the
  column's height goes mostly to the scenario list and form on the Simulation tab, to
  the details on the Capture tab.

Signals:
    timeline_shown(object): a Timeline is now on screen.
    capture_loaded(object): a capture finished loading (the ``LoadedCapture``).
    load_failed(str): a capture could not be opened (the message shown).
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from core.details import ReplaySource, segment_details
from core.errors import SynAckError
from core.text import counted
from core.trace import Timeline
from gui.app.actions import MenuHost, build_menus
from gui.app.app_icon import app_icon
from gui.app.dock_layout import DockLayout
from gui.diagram.sequence_view import SequenceView
from gui.export.export_dialog import ExportDialog
from gui.inspector.details_pane import DetailsPane
from gui.playback.timeline_panel import TimelinePanel
from gui.sources.loader import CaptureLoader, LoadedCapture, LoadProgressDialog
from gui.sources.replayer import ChosenStream, ReplayProgressDialog, StreamReplayer
from gui.sources.sim_panel import SimulationPanel
from gui.sources.streams_panel import StreamsPanel
from resources import Example, example_path

RECENT_MAX = 10
VIEW_MIN_WIDTH = 400
DETAILS_EVERY_MS = 120        # details follow a playing cursor at most this often
CAPTURE_FILTER = "Captures (*.pcap *.pcapng *.cap *.pcap.gz);;All files (*)"


#: what the mouse does in the diagram (F1 lists it after the keys, as the README does)
MOUSE = (("Ctrl+wheel", "Zoom the diagram"), ("Wheel", "Scroll the diagram"),
         ("Drag", "Pan the diagram"), ("Click", "Select the segment clicked"))


class MainWindow(QMainWindow, MenuHost):
    """SynAck's window (see the module rules)."""

    timeline_shown = Signal(object)
    capture_loaded = Signal(object)
    load_failed = Signal(str)

    # the menus and actions: gui.app.actions.MenuHost, built by build_menus

    def __init__(self, timeline: Timeline | None = None, parent: QWidget | None = None, *,
                 settings: QSettings | None = None, scenario: str | None = None) -> None:
        """``timeline`` is shown at once; ``scenario`` names the scenario it comes from,
        picked in the simulation panel without running it again."""
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings("SynAck", "SynAck")
        self.capture: LoadedCapture | None = None
        self.replay_source: ReplaySource | None = None
        self.stream: int | None = None
        self.view: SequenceView | None = None
        self.panel: TimelinePanel | None = None
        self._timeline: Timeline | None = None
        self._example_paths: set[str] = set()
        self._scenario_timeline: Timeline | None = None
        self._capture_shown: tuple[object, Timeline, ReplaySource, int | None] | None = None
        self._followed: int | None = None
        self._details_timer = QTimer(self)
        self._details_timer.setSingleShot(True)
        self._details_timer.timeout.connect(self._on_details_due)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._build_docks()
        self.loader = CaptureLoader(self)
        self.progress = LoadProgressDialog(self.loader, self)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.cancelled.connect(self._on_cancelled)
        self.replayer = StreamReplayer(self)
        self.replay_progress = ReplayProgressDialog(self.replayer, self)
        self.replayer.replayed.connect(self._on_replayed)
        self.replayer.failed.connect(self._on_replay_failed)
        self.replayer.cancelled.connect(self._on_replay_cancelled)
        build_menus(self, self)
        self._refresh_recent()
        self.dock_layout.restore()
        self._quiet_runs = 0
        self._wanted_stream: int | None = None
        if timeline is not None:
            self.show_timeline(timeline)
        else:
            hint = QLabel("Open a capture (Ctrl+O, or drop it here), try one under "
                          "File \u25b8 Open example, or pick a scenario under "
                          "Sources \u25b8 Simulation.")
            hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
            hint.setWordWrap(True)
            self.setCentralWidget(hint)
        if scenario is not None:
            self._quiet_runs = 1          # the panel's run of it repeats ``timeline``
            self._scenario_timeline = timeline
            self.sources.setCurrentWidget(self.simulation)
            self.simulation.select(scenario)

    # ------------------------------------------------------------------ docks
    def _build_docks(self) -> None:
        self.streams = StreamsPanel()
        self.streams.stream_chosen.connect(self._on_stream_chosen)
        self.simulation = SimulationPanel()
        self.simulation.timeline_built.connect(self._on_simulated)
        self.sources = QTabWidget()
        self.sources.addTab(self.streams, "Capture")
        self.sources.addTab(self.simulation, "Simulation")
        self.sources.currentChanged.connect(self._on_sources_tab)
        self.sources_dock = self._dock("Sources", self.sources,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.details = DetailsPane()
        self.details_dock = self._dock("Segment details", self.details,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.bottom_dock = self._dock("Playback", QWidget(),
                                      Qt.DockWidgetArea.BottomDockWidgetArea)
        self.dock_layout = DockLayout(
            self, self.settings, self.docks(),
            sources_first=lambda: self.sources.currentWidget() is self.simulation)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def docks(self) -> tuple[QDockWidget, QDockWidget, QDockWidget]:
        return (self.sources_dock, self.details_dock, self.bottom_dock)

    # ----------------------------------------------------------------- layout
    @property
    def narrow(self) -> bool:
        """The details dock sits under the sources (the narrow arrangement)."""
        return self.dock_layout.narrow

    @property
    def auto_layout(self) -> bool:
        """The window still picks the default arrangement for its width."""
        return self.dock_layout.auto

    def arrange_docks(self, width: int | None = None) -> None:
        self.dock_layout.arrange(width)

    def reset_layout(self) -> None:
        """View > Reset layout: the default arrangement for this width, kept adapting."""
        self.dock_layout.reset()

    def on_dock_toggled(self) -> None:
        """A dock was hidden or shown from the View menu: the user's layout from now on."""
        self.dock_layout.auto = False

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.dock_layout.resized(event.size().width())

    # --------------------------------------------------------------- timeline
    @property
    def timeline(self) -> Timeline | None:
        return self._timeline

    def show_timeline(self, timeline: Timeline) -> None:
        """Put ``timeline`` on screen: diagram, playback, bars, countdown."""
        compact = self.view.compact if self.view is not None else False
        absolute = self.view.absolute if self.view is not None else False
        self._timeline = timeline
        self.setWindowTitle(f"SynAck \u2014 {timeline.title}")
        view = SequenceView(timeline, compact=compact, absolute=absolute)
        view.set_follow(self.follow_action.isChecked())
        view.segment_clicked.connect(self._on_segment_clicked)
        view.setMinimumWidth(VIEW_MIN_WIDTH)
        self.setCentralWidget(view)
        self.view = view
        self._followed = None
        if self.replay_source is not None:
            self._capture_shown = (self.capture, timeline, self.replay_source, self.stream)
        self._drop_panel()
        panel = TimelinePanel(timeline)
        controller = panel.controller
        controller.moved.connect(view.set_time)
        controller.moved.connect(self._on_moved)
        controller.stepped.connect(self._on_stepped)
        self.bottom_dock.setWidget(panel)
        self.dock_layout.fit_bottom()
        self.panel = panel
        self.details.show_details(None)
        view.set_time(controller.time)
        view.center_on_y(0, 0)
        self._on_moved(controller.time)
        self.timeline_shown.emit(timeline)

    def _drop_panel(self) -> None:
        """Delete the previous Timeline's panel (the dock does not: ``setWidget`` only
        hides it), its controller stopped and disconnected first, so opening capture
        after capture keeps memory flat; the old view goes with ``setCentralWidget``."""
        old, self.panel = self.panel, None
        if old is None:
            return
        old.controller.pause()
        for signal in (old.controller.moved, old.controller.stepped):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):     # nothing connected any more
                pass
        old.hide()
        old.setParent(None)
        old.deleteLater()

    def _on_moved(self, time: float) -> None:
        if self.view is None or self._timeline is None:
            return
        client, server = self.view.current_states()
        self.statusBar().showMessage(
            f"{counted(len(self._timeline), 'segment')} \u00b7 at the cursor: "
            f"client {client.value}, server {server.value}")
        if self.panel is not None:
            self._follow_cursor(self.panel.controller.segment_at_cursor())

    def _on_stepped(self, index: int) -> None:
        if index >= 0:
            self._follow_cursor(index)

    def _follow_cursor(self, index: int) -> None:
        """Select the segment at the cursor and show its details (module rules)."""
        if index == self._followed or self.view is None:
            return
        self._followed = index
        self.view.set_selected(index if index >= 0 else None)
        playing = self.panel is not None and self.panel.controller.playing
        if playing:
            if not self._details_timer.isActive():
                self._details_timer.start(DETAILS_EVERY_MS)
        else:
            self._details_timer.stop()
            self._on_details_due()

    def _on_details_due(self) -> None:
        index = self._followed
        if index is None or index < 0:
            self.details.show_details(None)
        else:
            self._show_details(index)

    def _on_segment_clicked(self, index: int) -> None:
        self._followed = index          # the cursor's next move selects its own again
        self._details_timer.stop()
        self._show_details(index)

    def _show_details(self, index: int) -> None:
        if self._timeline is None:
            return
        try:
            details = segment_details(self._timeline, index, capture=self.replay_source)
        except (SynAckError, ValueError) as exc:
            self.statusBar().showMessage(f"No details for segment {index}: {exc}", 10_000)
            return
        self.details.show_details(details)

    # ---------------------------------------------------------------- sources
    def _on_simulated(self, timeline: object) -> None:
        if self._quiet_runs:
            self._quiet_runs -= 1
            return
        if isinstance(timeline, Timeline):
            self._scenario_timeline = timeline
            self.replay_source = None
            self.stream = None
            self.sources.setCurrentWidget(self.simulation)   # shows it if the tab changes
            if self._timeline is not timeline:
                self.show_timeline(timeline)

    def _on_sources_tab(self, _index: int) -> None:
        """Each tab shows its own diagram (module rules)."""
        self.dock_layout.source_tab_changed()
        if self.sources.currentWidget() is self.simulation:
            timeline = self._scenario_timeline
            if timeline is None:
                self.statusBar().showMessage("Pick a scenario to see its diagram", 10_000)
            elif timeline is not self._timeline:
                self.replay_source = None
                self.stream = None
                self.show_timeline(timeline)
        elif self._capture_shown is not None:
            capture, timeline, source, stream = self._capture_shown
            if capture is self.capture and timeline is not self._timeline:
                self.replay_source, self.stream = source, stream
                self.show_timeline(timeline)

    def open_capture(self, path: str, *, stream: int | None = None) -> None:
        """Load ``path`` in the background (progress dialog, Cancel), then show
        ``stream`` (default: the first)."""
        self.statusBar().showMessage(f"Opening {path}\u2026")
        self._wanted_stream = stream
        self.loader.start(path)

    def open_example(self, example: Example) -> None:
        """Open one of the bundled example captures, as File > Open would."""
        try:
            path = str(example_path(example))
        except OSError as exc:
            self._error("Cannot open the example", str(exc))
            return
        self._example_paths.add(path)
        self.open_capture(path, stream=example.stream)

    def _on_loaded(self, loaded: object) -> None:
        assert isinstance(loaded, LoadedCapture)
        self.replayer.cancel()               # a stream of the previous capture
        self.capture = loaded
        self.stream = None                   # none of this capture is shown yet
        if loaded.path not in self._example_paths:
            self._remember(loaded.path)
        self.streams.set_rows(loaded.rows, loaded.name, loaded.warnings)
        self.sources.setCurrentWidget(self.streams)
        for warning in loaded.warnings:
            self.statusBar().showMessage(f"{loaded.name}: {warning}", 15_000)
        self.capture_loaded.emit(loaded)
        if loaded.rows:
            first = int(loaded.rows.streams[0])       # loaded.rows: a core StreamTable
            wanted = self._wanted_stream
            if wanted is not None and wanted not in loaded.rows:
                self.statusBar().showMessage(
                    f"{loaded.name} has no stream {wanted}; showing stream {first}",
                    15_000)
            self.choose_stream(wanted if wanted is not None and wanted in loaded.rows
                               else first)
        else:
            QMessageBox.information(self, "No TCP streams",
                                    f"{loaded.path} holds no TCP stream to draw.")

    def choose_stream(self, stream: int) -> None:
        """Replay ``stream`` of the open capture in the background (progress dialog,
        Cancel), then show it (``timeline_shown``)."""
        if self.capture is None:
            return
        self.statusBar().showMessage(f"Replaying stream {stream}\u2026")
        self.replayer.start(self.capture, stream)

    def _on_replayed(self, chosen: object) -> None:
        assert isinstance(chosen, ChosenStream)
        if chosen.capture is not self.capture:
            return
        self.statusBar().clearMessage()
        self.replay_source = ReplaySource(index=chosen.capture.index, replay=chosen.replay)
        self.stream = chosen.stream
        self.streams.select_stream(chosen.stream)
        self.show_timeline(chosen.replay.timeline)

    def _on_replay_failed(self, message: str) -> None:
        self._keep_stream()
        self.load_failed.emit(message)
        self.statusBar().showMessage(message, 15_000)

    def _on_replay_cancelled(self) -> None:
        self._keep_stream()
        self.statusBar().showMessage("Replay cancelled", 5_000)

    def _keep_stream(self) -> None:
        """The list selects the stream on screen again (not the one given up)."""
        if self.stream is not None:
            self.streams.select_stream(self.stream)

    def _on_stream_chosen(self, stream: int) -> None:
        if stream != self.stream or self.replayer.busy:
            self.choose_stream(stream)

    def _on_failed(self, message: str) -> None:
        self.load_failed.emit(message)
        self.statusBar().showMessage(message, 15_000)

    def _on_cancelled(self) -> None:
        self.statusBar().showMessage("Opening cancelled", 5_000)

    def _error(self, title: str, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, title, message,
                          QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.load_failed.emit(message)

    # ----------------------------------------------------------- file actions
    def _on_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a capture", self._last_folder(),
                                              CAPTURE_FILTER)
        if path:
            self.open_capture(path)

    def _last_folder(self) -> str:
        recent = self.recent_files()
        return os.path.dirname(recent[0]) if recent else os.getcwd()

    def recent_files(self) -> list[str]:
        value: object = self.settings.value("recent", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def _remember(self, path: str) -> None:
        path = os.path.abspath(path)
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", recent[:RECENT_MAX])
        self.settings.sync()
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = self.recent_files()
        for number, path in enumerate(files, 1):
            action = QAction(f"&{number % 10} {os.path.basename(path)}", self)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_capture(p))
            menu.addAction(action)
        menu.setEnabled(bool(files))
        if files:
            menu.addSeparator()
            clear = menu.addAction("Clear the list")
            clear.triggered.connect(self._on_clear_recent)

    def _on_clear_recent(self) -> None:
        self.settings.setValue("recent", [])
        self._refresh_recent()

    def _on_export(self) -> None:
        if self.view is None:
            return
        folder = self.settings.value("export/folder")
        dialog = ExportDialog(self.view, self,
                              folder=folder if isinstance(folder, str)
                              and os.path.isdir(folder) else None)
        dialog.accepted.connect(lambda: self.settings.setValue(
            "export/folder", os.path.dirname(os.path.abspath(dialog.path.text()))))
        dialog.open()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_capture(files[0])

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.dock_layout.save()
        if self.panel is not None:
            self.panel.controller.pause()
        self.loader.cancel()
        self.replayer.cancel()
        self.loader.wait(3000)
        self.replayer.wait(3000)
        super().closeEvent(event)

    def export_to(self, path: str) -> list[tuple[str, int, int]]:
        """Write the whole diagram as shown (compact, numbering) to ``path``."""
        from gui.export.export import export_png
        if self._timeline is None or self.view is None:
            raise SynAckError("nothing to export")
        return export_png(self._timeline, path, compact=self.view.compact,
                          absolute=self.view.absolute)

    def shortcut_text(self) -> str:
        keys = [f"{a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)}"
                f"\t{a.text().replace('&', '')}" for a in self.actions_with_keys()]
        return "\n".join(keys + [f"{gesture}\t{what}" for gesture, what in MOUSE])

    def actions_with_keys(self) -> list[QAction]:
        return [a for a in self.findChildren(QAction) if not a.shortcut().isEmpty()]

