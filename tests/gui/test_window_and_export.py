"""The main window: demo, captures (open, streams, bad files), simulation panel, playback
keys, export; the exported PNG checked by pixels."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QSettings, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QImage
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.demo import demo_timeline
from core.simulate.scenarios import get
from core.tcp.states import Side
from gui.app.main_window import MainWindow
from gui.export.export import render_timeline


def _window(qtbot: QtBot, tmp_path: Path, timeline: object = None,
            scenario: str | None = None) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(timeline, settings=settings, scenario=scenario)  # type: ignore[arg-type]
    qtbot.add_widget(window)
    window.show()
    qtbot.wait_exposed(window)
    return window


def test_main_window_opens_on_the_demo(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, demo_timeline(), scenario="close_client_first")
    assert "Demo" in window.windowTitle()
    assert window.sources.currentWidget() is window.simulation
    assert "client SYN_SENT, server LISTEN" in window.statusBar().currentMessage()
    assert window.view is not None and window.view.width() > 400
    assert window.export_action.shortcut().toString() == "Ctrl+E"
    written = window.export_to(str(tmp_path / "out.png"))
    assert (tmp_path / "out.png").stat().st_size > 1000 and written[0][1] > 400


def test_playback_keys_move_the_cursor_and_the_details(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, demo_timeline())
    assert window.panel is not None and window.view is not None
    controller = window.panel.controller
    keys = {action: action.shortcut().toString() for action in (
        window.play_action, window.forward_action, window.back_action, window.start_action,
        window.end_action)}
    assert list(keys.values()) == ["Space", "Right", "Left", "Home", "End"]
    # offscreen windows are not reliably active, so the actions are triggered directly
    window.forward_action.trigger()
    assert controller.time > controller.start_time
    assert window.details.details is not None            # the stepped-to segment
    assert window.view.selected == controller.segment_at_cursor()
    window.end_action.trigger()
    assert controller.time == controller.end_time
    window.start_action.trigger()
    assert controller.time == controller.start_time
    with qtbot.wait_signal(controller.started):
        window.play_action.trigger()
    with qtbot.wait_signal(controller.paused):
        window.play_action.trigger()
    window.back_action.trigger()
    assert controller.time == controller.start_time
    assert window.panel.countdown is not None and window.panel.bars is not None
    window.compact_action.trigger()
    assert window.view.compact
    window.absolute_action.trigger()
    assert window.view.absolute


def test_simulation_panel_updates_the_diagram(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, demo_timeline())
    with qtbot.wait_signal(window.timeline_shown, timeout=20_000) as blocker:
        window.simulation.select("flow_control")
    timeline = blocker.args[0]
    assert timeline.title.endswith("flow_control") and window.timeline is timeline
    # the details follow the playback cursor: the segment sent at its start
    assert window.panel is not None
    at_cursor = window.panel.controller.segment_at_cursor()
    assert window.details.details is not None and window.details.details.index == at_cursor


def _open(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    with qtbot.wait_signal(window.timeline_shown, timeout=30_000):
        window.open_capture(str(path))


def test_open_a_capture_choose_a_stream_recent_files(qtbot: QtBot, tmp_path: Path,
                                                     corpus: Path) -> None:
    window = _window(qtbot, tmp_path)
    path = corpus / "kernel" / "close_server_first.pcap"
    _open(qtbot, window, path)
    assert "close_server_first.pcap · stream 0" in window.windowTitle()
    assert window.sources.currentWidget() is window.streams
    assert window.recent_files() == [str(path)]
    assert window.recent_menu.actions()[0].toolTip() == str(path)
    assert window.replay_source is not None
    window.view.click_at(window.view.to_viewport(  # type: ignore[union-attr]
        _arrow_middle(window, 0)))
    details = window.details.details
    assert details is not None and details.frame[:6]  # the captured bytes
    # a second capture with several streams: choosing one shows it
    _open(qtbot, window, corpus / "public" / "ldp-common-session.pcap")
    with qtbot.wait_signal(window.timeline_shown):
        window.streams.stream_chosen.emit(1)
    assert window.stream == 1 and window.streams.selected_stream() == 1
    assert "stream 1" in window.windowTitle()


def _arrow_middle(window: MainWindow, index: int) -> object:
    from PySide6.QtCore import QPointF
    assert window.view is not None
    arrow = window.view.diagram_layout().arrow(index)
    window.view.center_on_y(arrow.y0)
    return QPointF((arrow.x0 + arrow.x1) / 2, (arrow.y0 + arrow.y1) / 2)


def test_a_bad_file_gives_a_dialog_and_the_app_keeps_running(qtbot: QtBot,
                                                              tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, demo_timeline())
    shown = window.timeline
    bad = tmp_path / "garbage.pcap"
    bad.write_bytes(b"this is not a capture at all" * 10)
    with qtbot.wait_signal(window.load_failed, timeout=30_000) as blocker:
        window.open_capture(str(bad))
    assert str(bad) in blocker.args[0]
    box = window.progress.error_box
    assert isinstance(box, QMessageBox) and str(bad) in box.text()
    box.close()
    assert window.timeline is shown and window.isVisible()


def test_drop_a_file_opens_it(qtbot: QtBot, tmp_path: Path) -> None:
    from core.capture.writer import write_pcap
    path = tmp_path / "demo.pcap"
    write_pcap(demo_timeline(), path)
    window = _window(qtbot, tmp_path)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPoint(50, 50).toPointF(), Qt.DropAction.CopyAction, data,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.wait_signal(window.timeline_shown, timeout=30_000):
        window.dropEvent(event)                # what Qt calls once a drag is accepted
    assert event.isAccepted()
    assert "demo.pcap" in window.windowTitle()


def _is_white(color: QColor) -> bool:
    return color.red() > 245 and color.green() > 245 and color.blue() > 245


@pytest.mark.parametrize("name", ["demo", "simultaneous_close", "retransmission"])
def test_export_has_lanes_and_arrows(name: str) -> None:
    timeline = demo_timeline() if name == "demo" else get(name).run()
    image: QImage = render_timeline(timeline)
    assert image.width() >= 600 and image.height() >= 600
    assert _is_white(image.pixelColor(2, 2)) and _is_white(image.pixelColor(
        image.width() - 3, image.height() - 3))
    from gui.diagram.diagram_layout import DiagramLayout
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
    window = _window(qtbot, tmp_path, timeline)
    assert "close_server_first.pcap · stream 0" in window.windowTitle()
    assert window.panel is not None
    window.panel.controller.seek(timeline.end)
    assert "client CLOSED, server TIME_WAIT" in window.statusBar().currentMessage()
    written = window.export_to(str(tmp_path / "replay.png"))
    assert written[0][1] > 400 and written[0][2] > 600


def test_f1_lists_the_keys_and_the_mouse_as_the_readme_does(qtbot: QtBot,
                                                             tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path, demo_timeline())
    text = window.shortcut_text()
    for line in ("Ctrl+E\t", "Ctrl+9\t", "Ctrl+wheel\tZoom", "Drag\tPan"):
        assert line in text, line
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "Ctrl+wheel" in readme and "drag to pan" in readme
