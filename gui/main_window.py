"""The main window: the diagram in a scroll area, a status bar, the File menu.

Signals: none of its own yet; the playback controller and the sources panel come with
the desktop-app issue. Menus and shortcuts: File > Export PNG (Ctrl+E), Quit (Ctrl+Q).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QScrollArea, QWidget

from core.errors import SynAckError
from core.states import Side
from core.trace import Timeline
from gui import style
from gui.export import export_png
from gui.sequence_view import SequenceView


class MainWindow(QMainWindow):
    """Shows one Timeline as the two-lane sequence diagram."""

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timeline = timeline
        self.setWindowTitle(f"SynAck — {timeline.title}")
        self.view = SequenceView(timeline)
        scroll = QScrollArea()
        scroll.setWidget(self.view)
        scroll.setWidgetResizable(False)
        scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        viewport = scroll.viewport()  # white around the diagram, as in exported PNGs
        palette = viewport.palette()
        palette.setColor(QPalette.ColorRole.Window, style.BACKGROUND)
        viewport.setPalette(palette)
        viewport.setBackgroundRole(QPalette.ColorRole.Window)
        viewport.setAutoFillBackground(True)
        self.setCentralWidget(scroll)
        self._build_menus()
        last = len(timeline) - 1
        if last >= 0:
            client, server = timeline.states_after(last)
            self.statusBar().showMessage(
                f"{len(timeline)} segments · after the last one: client {client.value}, "
                f"server {server.value} · at the end: client "
                f"{timeline.state_at(Side.CLIENT, timeline.end).value}, server "
                f"{timeline.state_at(Side.SERVER, timeline.end).value}")
        self.resize(min(self.view.width() + 40, 1200), 900)

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.export_action = QAction("&Export PNG…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.triggered.connect(self._on_export)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

    def export_to(self, path: str) -> tuple[int, int]:
        """Write the whole diagram to ``path`` as PNG; returns its size."""
        return export_png(self._timeline, path)

    def _on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export diagram as PNG", "synack.png",
                                              "PNG images (*.png)")
        if not path:
            return
        try:
            width, height = self.export_to(path)
        except SynAckError as exc:
            QMessageBox.critical(self, "Export failed", str(exc))
            return
        self.statusBar().showMessage(f"Wrote {path} ({width}×{height})", 10_000)
