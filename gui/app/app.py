"""Start the desktop app (Qt is imported here, after the display check in gui.app.cli)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from core.trace import Timeline
from gui.app.app_icon import app_icon
from gui.app.main_window import MainWindow


def run_app(timeline: Timeline | None, argv: list[str] | None = None, *,
            path: str | None = None, stream: int = 0, scenario: str | None = None) -> int:
    """Show ``timeline`` (or open the capture at ``path`` and show ``stream``) in the
    main window and run the event loop until it closes."""
    app = QApplication.instance() or QApplication(argv or [sys.argv[0] or "synack"])
    app.setApplicationName("SynAck")
    app.setOrganizationName("SynAck")
    QApplication.setDesktopFileName("synack")  # resources/synack.desktop, once installed
    QApplication.setWindowIcon(app_icon())
    window = MainWindow(timeline, scenario=scenario)
    window.show()
    if path is not None:
        window.open_capture(path, stream=stream)
    return int(app.exec())
