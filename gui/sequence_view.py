"""The two-lane sequence diagram: one painter for the widget and for exported images.

Rules:
- :class:`DiagramPainter` draws a :class:`~gui.diagram_layout.DiagramLayout` on any
  QPainter and only what meets the clip rectangle, so a frame costs the rows on screen.
- Paint order: background, title, legend, headings, axis, lifelines, arrows, labels,
  badges. Labels come after every arrow, on a light halo, so a steep arrow passing
  behind a label never hides its text.
- The widget and :func:`render_timeline` share the painter: what the window shows is
  what the PNG gets (the PNG adds the title lines).
"""

from __future__ import annotations

import math
import sys

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QWidget

from core.segment import flags_text
from core.states import Side, TcpState
from core.trace import Timeline
from gui import style
from gui.diagram_layout import BADGE_GAP, LABEL_PAD, MARGIN, Arrow, Badge, DiagramLayout
from gui.labels import record_label, time_text

ARROW_WIDTH = 1.6
HEAD_LENGTH = 9.0
HEAD_HALF_WIDTH = 4.0
LANE_WIDTH = 3.0

_APPS: list[QGuiApplication] = []


def ensure_gui_application() -> QGuiApplication:
    """The running QGuiApplication, or a new one (fonts need it; headless export too)."""
    app = QGuiApplication.instance()
    if app is None:
        app = QGuiApplication([sys.argv[0] if sys.argv and sys.argv[0] else "synack"])
        _APPS.append(app)  # keep it alive for the life of the process
    if not isinstance(app, QGuiApplication):
        raise RuntimeError("a QCoreApplication is running; the diagram needs a GUI application")
    return app


def _pen(color: QColor, width: float, style_: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(color, width, style_)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    return pen


class DiagramPainter:
    """Paints one layout; holds fonts and metrics so painting allocates little."""

    def __init__(self, layout: DiagramLayout) -> None:
        self.layout = layout
        self._label_font = style.label_font()
        self._badge_font = style.badge_font()
        self._axis_font = style.axis_font()
        self._text_font = style.text_font()
        self._fm_label = QFontMetricsF(self._label_font)
        self._fm_text = QFontMetricsF(self._text_font)
        self._labels: dict[int, str] = {}

    def paint(self, p: QPainter, clip: QRectF) -> None:
        """Draw everything that meets ``clip`` (layout coordinates)."""
        lay = self.layout
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        p.fillRect(clip, style.BACKGROUND)
        top, bottom = clip.top(), clip.bottom()
        if top <= lay.lanes_top:
            self._paint_header(p)
        self._paint_axis(p, top, bottom)
        self._paint_lanes(p, top, bottom)
        arrows = lay.arrows_between(top, bottom)
        for arrow in arrows:
            self._paint_arrow(p, arrow)
        for arrow in arrows:
            self._paint_label(p, arrow)
        for badge in lay.badges_between(top, bottom):
            self._paint_badge(p, badge)
        p.restore()

    # ------------------------------------------------------------------ header
    def _paint_header(self, p: QPainter) -> None:
        lay, tl = self.layout, self.layout.timeline
        if lay.show_title:
            p.setPen(style.INK)
            p.setFont(style.title_font())
            p.drawText(QPointF(MARGIN, lay.title_y + lay.fm_title.ascent()), tl.title)
            span = tl.end - tl.start
            subtitle = (f"client {tl.client.label}  \u21c4  server {tl.server.label}"
                        f"   \u00b7   {len(tl.segments)} segments over {time_text(span)} ms")
            p.setPen(style.MUTED)
            p.setFont(self._text_font)
            p.drawText(QPointF(MARGIN, lay.subtitle_y + self._fm_text.ascent()), subtitle)
        self._paint_legend(p)
        for side, role in ((Side.CLIENT, "Client"), (Side.SERVER, "Server")):
            x = lay.lane_x(side)
            p.setFont(style.heading_font())
            p.setPen(style.INK)
            w = lay.fm_heading.horizontalAdvance(role)
            p.drawText(QPointF(x - w / 2, lay.heading_y + lay.fm_heading.ascent()), role)
            label = tl.peer(side).label
            p.setFont(self._text_font)
            p.setPen(style.MUTED)
            w = self._fm_text.horizontalAdvance(label)
            left = min(max(x - w / 2, MARGIN), lay.width - MARGIN - w)
            p.drawText(QPointF(left, lay.heading_y + lay.fm_heading.height()
                               + self._fm_text.ascent()), label)

    def _paint_legend(self, p: QPainter) -> None:
        lay = self.layout
        fm = self._fm_text
        x0 = MARGIN + lay.legend_caption_width
        line_h = lay.badge_height + 6.0
        for row, caption in enumerate(("Segments", "States")):
            y = lay.legend_y + row * line_h + line_h / 2
            p.setFont(self._text_font)
            p.setPen(style.MUTED)
            p.drawText(QPointF(MARGIN, y - fm.height() / 2 + fm.ascent()), caption)
        y = lay.legend_y + line_h / 2
        sw = lay.legend_swatch
        for dx, key, text in lay.legend_kinds:
            x = x0 + dx
            if isinstance(key, style.FlagKind):
                self._arrow_shape(p, QPointF(x, y), QPointF(x + sw, y), style.kind_color(key),
                                  head=True)
            elif key == "lost":
                self._arrow_shape(p, QPointF(x, y), QPointF(x + sw - 6, y), style.MUTED,
                                  head=False)
                self._cross(p, QPointF(x + sw - 6, y))
            else:
                self._arrow_shape(p, QPointF(x, y), QPointF(x + sw, y), style.MUTED,
                                  head=True, dashed=True)
            p.setFont(self._text_font)
            p.setPen(style.INK)
            p.drawText(QPointF(x + sw + 6, y - fm.height() / 2 + fm.ascent()), text)
        y = lay.legend_y + line_h + line_h / 2
        for dx, phase, w in lay.legend_phases:
            self._badge_box(p, QRectF(x0 + dx, y - lay.badge_height / 2, w, lay.badge_height),
                            phase, phase.value)

    # ------------------------------------------------------------ axis, lanes
    def _paint_axis(self, p: QPainter, top: float, bottom: float) -> None:
        lay = self.layout
        x = lay.axis_right
        fm = lay.fm_axis
        p.setFont(self._axis_font)
        p.setPen(style.MUTED)
        if top <= lay.lanes_top:
            caption = "time (ms)"
            p.drawText(QPointF(x - fm.horizontalAdvance(caption),
                               lay.lanes_top - 6 - fm.descent()), caption)
        p.setPen(_pen(style.MUTED, 1.0))
        p.drawLine(QPointF(x, max(top, lay.lanes_top)), QPointF(x, min(bottom, lay.rows_bottom)))
        previous: float | None = None
        for tick in lay.ticks_between(top, bottom):
            p.setPen(_pen(style.MUTED, 1.0))
            p.drawLine(QPointF(x - 4, tick.y), QPointF(x, tick.y))
            p.drawText(QPointF(x - 7 - fm.horizontalAdvance(tick.text),
                               tick.y - fm.height() / 2 + fm.ascent()), tick.text)
            if tick.break_before:
                mid = tick.y - lay.row_gap if previous is None else (previous + tick.y) / 2
                self._axis_break(p, x, mid)
            previous = tick.y

    def _axis_break(self, p: QPainter, x: float, y: float) -> None:
        """Two slanted strokes across the axis: time is compressed here."""
        p.fillRect(QRectF(x - 5, y - 4, 10, 8), style.BACKGROUND)
        p.setPen(_pen(style.MUTED, 1.2))
        for dy in (-3.0, 3.0):
            p.drawLine(QPointF(x - 6, y + dy + 2), QPointF(x + 6, y + dy - 2))

    def _paint_lanes(self, p: QPainter, top: float, bottom: float) -> None:
        lay = self.layout
        for span in lay.spans_between(top, bottom):
            x = lay.lane_x(span.side)
            y0, y1 = max(span.y0, top - 2), min(span.y1, bottom + 2)
            if span.state is TcpState.CLOSED:
                pen = _pen(style.state_color(span.state), 1.5, Qt.PenStyle.DashLine)
            else:
                pen = _pen(style.state_color(span.state), LANE_WIDTH)
            p.setPen(pen)
            p.drawLine(QPointF(x, y0), QPointF(x, y1))

    # ----------------------------------------------------------------- arrows
    def _arrow_shape(self, p: QPainter, a: QPointF, b: QPointF, color: QColor, *,
                     head: bool, dashed: bool = False) -> None:
        pen = _pen(color, ARROW_WIDTH, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        angle = math.atan2(b.y() - a.y(), b.x() - a.x())
        ux, uy = math.cos(angle), math.sin(angle)
        end = QPointF(b.x() - ux * HEAD_LENGTH * 0.8, b.y() - uy * HEAD_LENGTH * 0.8) if head else b
        p.setPen(pen)
        p.drawLine(a, end)
        if head:
            base = QPointF(b.x() - ux * HEAD_LENGTH, b.y() - uy * HEAD_LENGTH)
            left = QPointF(base.x() - uy * HEAD_HALF_WIDTH, base.y() + ux * HEAD_HALF_WIDTH)
            right = QPointF(base.x() + uy * HEAD_HALF_WIDTH, base.y() - ux * HEAD_HALF_WIDTH)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawPolygon(QPolygonF([b, left, right]))
            p.setBrush(Qt.BrushStyle.NoBrush)

    def _cross(self, p: QPainter, at: QPointF) -> None:
        p.setPen(_pen(style.LOST, 2.2))
        r = 5.0
        p.drawLine(QPointF(at.x() - r, at.y() - r), QPointF(at.x() + r, at.y() + r))
        p.drawLine(QPointF(at.x() - r, at.y() + r), QPointF(at.x() + r, at.y() - r))

    def _paint_arrow(self, p: QPainter, arrow: Arrow) -> None:
        rec = self.layout.timeline.segments[arrow.index]
        color = style.kind_color(style.flag_kind(rec.segment))
        a, b = QPointF(arrow.x0, arrow.y0), QPointF(arrow.x1, arrow.y1)
        self._arrow_shape(p, a, b, color, head=not arrow.lost, dashed=rec.ghost)
        if arrow.lost:
            self._cross(p, b)

    def _label_text(self, index: int) -> str:
        text = self._labels.get(index)
        if text is None:
            text = record_label(self.layout.timeline.segments[index], self.layout.iss)
            self._labels[index] = text
        return text

    def _paint_label(self, p: QPainter, arrow: Arrow) -> None:
        """Label in the band just above the arrow's tail, flags in the arrow's colour."""
        lay = self.layout
        rec = lay.timeline.segments[arrow.index]
        fm = self._fm_label
        flags = flags_text(rec.segment.flags)
        rest = self._label_text(arrow.index)[len(flags):]
        notes = "".join(f"  {note}" for note in rec.labels)
        room = lay.label_max_width
        flags_w = fm.horizontalAdvance(flags)
        notes_w = fm.horizontalAdvance(notes)
        rest = fm.elidedText(rest, Qt.TextElideMode.ElideRight,
                             max(0.0, room - flags_w - notes_w))
        total = flags_w + fm.horizontalAdvance(rest) + notes_w
        if arrow.x1 > arrow.x0:
            x = arrow.x0 + LABEL_PAD
        else:
            x = arrow.x0 - LABEL_PAD - total
        baseline = arrow.y0 - 4.0 - fm.descent()
        halo = QRectF(x - 3, baseline - fm.ascent() - 1, total + 6, fm.height() + 2)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(255, 255, 255, 215))
        p.drawRoundedRect(halo, 3, 3)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setFont(self._label_font)
        kind = style.kind_color(style.flag_kind(rec.segment))
        ink = style.MUTED if rec.ghost else style.INK
        for text, color in ((flags, kind), (rest, ink), (notes, style.ANOMALY)):
            if text:
                p.setPen(color)
                p.drawText(QPointF(x, baseline), text)
                x += fm.horizontalAdvance(text)

    # ----------------------------------------------------------------- badges
    def _badge_box(self, p: QPainter, rect: QRectF, phase: style.Phase, text: str) -> None:
        path = QPainterPath()
        path.addRoundedRect(rect, 5, 5)
        p.setPen(_pen(style.phase_color(phase), 1.4))
        p.setBrush(style.phase_fill(phase))
        p.drawPath(path)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setFont(self._badge_font)
        p.setPen(style.INK)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_badge(self, p: QPainter, badge: Badge) -> None:
        lay = self.layout
        x = lay.lane_x(badge.side)
        w, h = lay.badge_width, lay.badge_height
        left = x - BADGE_GAP - w if badge.side is Side.CLIENT else x + BADGE_GAP
        phase = style.phase_of(badge.state)
        p.setPen(_pen(style.phase_color(phase), 1.4))
        edge = left + w if badge.side is Side.CLIENT else left
        p.drawLine(QPointF(edge, badge.y), QPointF(x, badge.y))
        self._badge_box(p, QRectF(left, badge.y - h / 2, w, h), phase, badge.state.value)


class SequenceView(QWidget):
    """The diagram as a fixed-size widget, meant to live in a QScrollArea.

    Takes its Timeline in the constructor. Signals: none yet (selection and playback
    come with the playback controller).
    """

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timeline = timeline
        self._layout = DiagramLayout(timeline, show_title=False)
        self._painter = DiagramPainter(self._layout)
        self.setFixedSize(math.ceil(self._layout.width), math.ceil(self._layout.height))
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    def diagram_layout(self) -> DiagramLayout:
        return self._layout

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        try:
            self._painter.paint(painter, QRectF(event.rect()))
        finally:
            painter.end()


def render_timeline(timeline: Timeline, width: int | None = None) -> QImage:
    """The whole diagram (title, legend, all rows) on white, ``width`` px wide if given.

    Without ``width`` the lanes are as far apart as the widest label needs (within
    limits; longer labels are elided). Creates a QGuiApplication if none is running.
    """
    ensure_gui_application()
    layout = DiagramLayout(timeline, width=width, show_title=True)
    image = QImage(math.ceil(layout.width), math.ceil(layout.height),
                   QImage.Format.Format_RGB32)
    image.fill(style.BACKGROUND)
    painter = QPainter(image)
    try:
        DiagramPainter(layout).paint(painter, QRectF(0, 0, image.width(), image.height()))
    finally:
        painter.end()
    return image


__all__ = ["DiagramPainter", "SequenceView", "ensure_gui_application", "render_timeline"]
