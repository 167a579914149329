"""The diagram widget: cursor, segment in flight, selection by click, zoom, toggles."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from core.demo import demo_timeline
from core.simulate.scenarios import get
from core.tcp.states import TcpState
from gui.diagram import style
from gui.diagram.sequence_view import SequenceView


def _view(qtbot: QtBot, name: str = "demo") -> SequenceView:
    timeline = demo_timeline() if name == "demo" else get(name).run()
    view = SequenceView(timeline)
    qtbot.add_widget(view)
    view.resize(900, 700)
    view.show()
    qtbot.wait_exposed(view)
    return view


def _count(image: QImage, color: QColor, tolerance: int = 40) -> int:
    total = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            c = image.pixelColor(x, y)
            if (abs(c.red() - color.red()) + abs(c.green() - color.green())
                    + abs(c.blue() - color.blue())) < tolerance:
                total += 1
    return total


def test_click_selects_the_arrow(qtbot: QtBot) -> None:
    view = _view(qtbot)
    layout = view.diagram_layout()
    arrow = layout.arrow(3)
    view.center_on_y(arrow.y0)
    point = view.to_viewport(QPointF((arrow.x0 + arrow.x1) / 2, (arrow.y0 + arrow.y1) / 2))
    with qtbot.wait_signal(view.segment_clicked) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point.toPoint())
    assert blocker.args == [3] and view.selected == 3
    image = view.viewport().grab().toImage()
    assert _count(image, style.SELECTED) > 20          # the highlight is drawn


def test_cursor_shows_states_and_a_segment_in_flight(qtbot: QtBot) -> None:
    view = _view(qtbot)
    timeline = view.timeline
    syn = timeline.segments[0]
    view.set_time((syn.sent + syn.arrived) / 2)         # the SYN halfway across
    assert view.current_states() == (TcpState.SYN_SENT, TcpState.LISTEN)
    image = view.viewport().grab().toImage()
    assert _count(image, style.CURSOR) > 30             # cursor line and the travelling dot
    view.set_time(timeline.end + 120)                   # TIME_WAIT expired
    assert view.current_states() == (TcpState.CLOSED, TcpState.CLOSED)


def test_follow_scrolls_to_the_cursor(qtbot: QtBot) -> None:
    view = _view(qtbot, "flow_control")
    layout = view.diagram_layout()
    view.set_follow(True)
    last = view.timeline.segments[-1]
    view.set_time(last.sent)
    rect = view.visible_rect()
    assert rect.top() <= layout.y_at(last.sent) <= rect.bottom()
    view.set_follow(False)
    view.center_on_y(0, 0)
    view.set_time(last.sent)
    assert view.visible_rect().top() < layout.lanes_top     # stays where the user put it


def test_zoom_keeps_the_anchor_and_has_limits(qtbot: QtBot) -> None:
    view = _view(qtbot)
    anchor = QPointF(300, 300)
    before = view.to_layout(anchor)
    with qtbot.wait_signal(view.zoom_changed):
        view.set_zoom(2.0, anchor)
    after = view.to_layout(anchor)
    assert after.y() == pytest.approx(before.y(), abs=1.0)
    view.set_zoom(100)
    assert view.zoom == 4.0
    view.zoom_reset()
    assert view.zoom == 1.0
    view.zoom_out()
    assert view.zoom < 1.0


def test_compact_and_absolute_toggles_rebuild_the_layout(qtbot: QtBot) -> None:
    view = _view(qtbot)
    timed_height = view.diagram_layout().height
    with qtbot.wait_signal(view.layout_changed):
        view.set_compact(True)
    assert view.compact and view.diagram_layout().height < timed_height
    iss = view.timeline.segments[0].segment.seq
    assert view.diagram_layout().label(0).startswith("[S] seq 0 ")
    view.set_absolute(True)
    assert view.diagram_layout().label(0).startswith(f"[S] seq {iss} ")


def test_lanes_fit_a_narrow_view_once_resizing_settles(qtbot: QtBot) -> None:
    view = _view(qtbot, "flow_control")              # the legend wants 883 px, 601 at least
    layout = view.diagram_layout()
    natural, narrowest = layout.natural_width, layout.min_width
    view.resize(950, 700)
    qtbot.wait_until(lambda: view.diagram_layout().width == natural)  # 950 px is enough
    view.resize(round(narrowest + 80), 700)
    qtbot.wait_until(lambda: view.diagram_layout().width < natural)
    room = view.viewport().width() - 2
    assert view.diagram_layout().width == pytest.approx(room)
    view.resize(round(narrowest) - 100, 700)             # too narrow even for the narrowest
    qtbot.wait_until(lambda: view.diagram_layout().width == narrowest)   # it scrolls
    assert view.horizontalScrollBar().maximum() > 0


def test_fit_width_zooms_out_only_as_needed(qtbot: QtBot) -> None:
    """Fit width never blows the text up: actual size when the diagram fits, zoomed
    out just enough for the narrowest layout when it does not."""
    view = _view(qtbot, "flow_control")
    narrowest = view.diagram_layout().min_width
    view.set_zoom(3.0)
    view.zoom_to_fit_width()
    assert view.zoom == 1.0
    assert view.diagram_layout().width <= view.viewport().width()
    view.resize(round(narrowest * 0.8), 700)
    qtbot.wait_until(lambda: view.diagram_layout().width == narrowest)
    view.zoom_to_fit_width()
    assert 0.7 < view.zoom < 0.85
    assert view.diagram_layout().width * view.zoom <= view.viewport().width()
    assert view.horizontalScrollBar().maximum() == 0
