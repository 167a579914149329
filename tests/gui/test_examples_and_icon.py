"""The app icon on the window, and File > Open example: each bundled capture opens through
the same loader as File > Open and shows its stream."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from core.tcp.states import TcpState
from gui.app.app_icon import app_icon
from gui.app.main_window import MainWindow
from resources import EXAMPLES, ICON_SIZES, Example

#: file -> (server port, segments, a label some segment carries, final client/server state)
EXPECTED = {
    "handshake_and_close.pcap": (5000, 11, None, (TcpState.TIME_WAIT, TcpState.CLOSED)),
    "lossy_transfer.pcap": (5000, 54, "retransmission", (TcpState.TIME_WAIT, TcpState.CLOSED)),
    "simultaneous_close.pcap": (5000, 7, None, (TcpState.TIME_WAIT, TcpState.TIME_WAIT)),
    "zero_window.pcap": (5000, 565, "zero_window", (TcpState.TIME_WAIT, TcpState.CLOSED)),
}


def _window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    qtbot.add_widget(window)
    window.show()
    qtbot.wait_exposed(window)
    return window


def test_the_window_has_the_app_icon(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path)
    icon = window.windowIcon()
    assert not icon.isNull()
    sizes = {(s.width(), s.height()) for s in icon.availableSizes()}
    assert {(n, n) for n in ICON_SIZES} <= sizes
    image = icon.pixmap(32, 32).toImage()
    assert image.width() == 32
    assert image.pixelColor(0, 0).alpha() == 0                   # rounded corner
    assert image.pixelColor(4, 16) == QColor("#17324d")          # the background
    assert app_icon().availableSizes() == icon.availableSizes()


def test_the_pngs_are_rendered_from_the_svg(qapp: object, tmp_path: Path) -> None:
    from resources.make_icons import png_path, render
    for fresh in render(ICON_SIZES, tmp_path):
        size = int(fresh.stem.split("-")[1])
        committed = QImage(str(png_path(size)))
        assert QImage(str(fresh)) == committed, f"run resources/make_icons.py ({size} px)"


def test_the_examples_menu_is_reachable_by_keyboard(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path)
    menu = window.examples_menu
    assert menu.title() == "Open e&xample"
    file_menu = menu.menuAction().associatedObjects()[0]
    siblings = [a.text() for a in file_menu.actions() if a.text()]  # type: ignore[attr-defined]
    keys = [t[t.index("&") + 1].lower() for t in siblings if "&" in t]
    assert len(keys) == len(set(keys)), siblings
    actions = menu.actions()
    assert [a.text() for a in actions] == [e.title for e in EXAMPLES]
    assert [a.toolTip() for a in actions] == [e.description for e in EXAMPLES]
    assert [a.statusTip() for a in actions] == [e.description for e in EXAMPLES]
    assert menu.toolTipsVisible()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.file)
def test_each_example_opens_its_stream(qtbot: QtBot, tmp_path: Path, example: Example) -> None:
    port, segments, label, final = EXPECTED[example.file]
    window = _window(qtbot, tmp_path)
    action = next(a for a in window.examples_menu.actions() if a.text() == example.title)
    with qtbot.wait_signal(window.timeline_shown, timeout=30_000) as blocker:
        action.trigger()
    timeline = blocker.args[0]
    assert window.timeline is timeline and window.stream == example.stream
    assert window.capture is not None and window.capture.name == example.file
    assert f"{example.file} · stream {example.stream}" in window.windowTitle()
    assert window.sources.currentWidget() is window.streams
    assert len(timeline) == segments > 0 and timeline.server.port == port
    if label is not None:
        assert any(label in rec.labels for rec in timeline.segments)
    assert timeline.states_after(len(timeline) - 1) == final
    assert window.recent_files() == []      # examples are a menu away, not recent files
