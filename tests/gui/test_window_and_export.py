"""The main window on the demo, and the exported PNG checked by pixels."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from core.demo import demo_timeline
from core.simulate.scenarios import get
from core.states import Side
from gui.main_window import MainWindow
from gui.sequence_view import render_timeline


def test_main_window_opens_on_the_demo(qtbot: QtBot, tmp_path: Path) -> None:
    window = MainWindow(demo_timeline())
    qtbot.add_widget(window)
    window.show()
    qtbot.wait_exposed(window)
    assert "Demo" in window.windowTitle()
    assert "client TIME_WAIT, server CLOSED" in window.statusBar().currentMessage()
    assert window.view.width() > 400 and window.view.height() > 600
    assert window.export_action.shortcut().toString() == "Ctrl+E"
    width, height = window.export_to(str(tmp_path / "out.png"))
    assert (tmp_path / "out.png").stat().st_size > 1000 and width > 400 and height > 600


def _is_white(color: QColor) -> bool:
    return color.red() > 245 and color.green() > 245 and color.blue() > 245


@pytest.mark.parametrize("name", ["demo", "simultaneous_close", "retransmission"])
def test_export_has_lanes_and_arrows(name: str) -> None:
    timeline = demo_timeline() if name == "demo" else get(name).run()
    image: QImage = render_timeline(timeline)
    assert image.width() >= 600 and image.height() >= 600
    assert _is_white(image.pixelColor(2, 2)) and _is_white(image.pixelColor(
        image.width() - 3, image.height() - 3))
    from gui.diagram_layout import DiagramLayout
    layout = DiagramLayout(timeline, show_title=True)
    xs = {side: round(layout.lane_x(side)) for side in (Side.CLIENT, Side.SERVER)}
    assert xs[Side.CLIENT] < xs[Side.SERVER]
    for x in xs.values():  # each lifeline: a long run of non-white pixels down the image
        column = [not _is_white(image.pixelColor(x, y)) for y in range(image.height())]
        assert sum(column) > image.height() // 2
    middle = (xs[Side.CLIENT] + xs[Side.SERVER]) // 2
    crossings = sum(1 for y in range(1, image.height())
                    if not _is_white(image.pixelColor(middle, y))
                    and _is_white(image.pixelColor(middle, y - 1)))
    assert crossings >= len(timeline) * 0.8  # an arrow (or its label) per segment


def test_lost_segment_is_drawn_red_cross() -> None:
    image = render_timeline(get("retransmission").run())
    reds = sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
               if (c := image.pixelColor(x, y)).red() > 180 and c.green() < 120
               and c.blue() < 80)
    assert reds > 5


def test_window_on_a_replayed_capture(qtbot: QtBot, corpus: Path, tmp_path: Path) -> None:
    """A corpus capture replayed: the window shows its stream and the final states."""
    from core.analysis import analyze_stream
    from core.capture import read_capture
    from core.replay import replay_stream
    index = read_capture(str(corpus / "kernel" / "close_server_first.pcap"))
    timeline = replay_stream(index, 0, analyze_stream(index, 0)).timeline
    window = MainWindow(timeline)
    qtbot.add_widget(window)
    window.show()
    qtbot.wait_exposed(window)
    assert "close_server_first.pcap · stream 0" in window.windowTitle()
    assert "client CLOSED, server TIME_WAIT" in window.statusBar().currentMessage()
    width, height = window.export_to(str(tmp_path / "replay.png"))
    assert width > 400 and height > 600
