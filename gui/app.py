"""Start the desktop app (Qt is imported here, after the display check in gui.cli)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from core.trace import Timeline
from gui.main_window import MainWindow


def run_app(timeline: Timeline, argv: list[str] | None = None) -> int:
    """Show ``timeline`` in the main window and run the event loop until it closes."""
    app = QApplication.instance() or QApplication(argv or [sys.argv[0] or "synack"])
    app.setApplicationName("SynAck")
    window = MainWindow(timeline)
    window.show()
    return int(app.exec())
