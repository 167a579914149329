"""Painting the two-lane diagram: one painter for the window and for exported images.

Rules:
- :class:`DiagramPainter` draws a :class:`~gui.diagram.diagram_layout.DiagramLayout` on any
  QPainter and only what meets the clip rectangle, so a frame costs the rows on screen.
- Paint order: background, title, legend, headings, axis, lifelines, arrows, labels,
  marks, badges, cursor. Labels come after every arrow, on a light halo, so a steep
  arrow passing behind a label never hides its text; marks (and a lost segment's
  cross) come after the labels, so in a dense stretch no halo hides them.
- Marks follow the segment's labels, SynAck's verdict (:func:`gui.diagram.style.mark_of`).
- With a cursor time (playback), segments not yet sent are faint, the one in flight is
  drawn up to where it has travelled with a dot at its head, the rest in full colour;
  without one (export), everything is in full colour.
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)

from core.tcp.segment import flags_text
from core.tcp.states import Side, TcpState
from core.text import counted
from core.trace import Timeline
from gui.diagram import style
from gui.diagram.diagram_layout import BADGE_GAP, LABEL_PAD, MARGIN, Arrow, Badge, DiagramLayout
from gui.diagram.labels import time_text

ARROW_WIDTH = 1.6
HEAD_LENGTH = 9.0
HEAD_HALF_WIDTH = 4.0
LANE_WIDTH = 3.0
LABEL_CACHE = 4096

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


def _faint(color: QColor) -> QColor:
    out = QColor(color)
    out.setAlpha(style.FUTURE_ALPHA)
    return out


class _Label(NamedTuple):
    """An arrow's label in three coloured parts with their widths, and the arrow's colour,
    whether it is a ghost, and its mark."""

    flags: str
    rest: str
    notes: str
    widths: tuple[float, ...]
    color: QColor
    ghost: bool
    mark: style.Mark | None


class DiagramPainter:
    """Paints one layout; holds fonts and metrics so painting allocates little."""

    def __init__(self, layout: DiagramLayout) -> None:
        self.layout = layout
        self._label_font = style.label_font()
        self._badge_font = style.badge_font()
        self._axis_font = style.axis_font()
        self._text_font = style.text_font()
        self._mark_font = style.badge_font()
        self._fm_label = QFontMetricsF(self._label_font)
        self._fm_text = QFontMetricsF(self._text_font)
        self._labels: dict[int, _Label] = {}
        self._doubtful, self._doubtful_states = _doubts(layout.timeline)

    def paint(self, p: QPainter, clip: QRectF, *, cursor: float | None = None,
              selected: int | None = None, background: bool = True) -> None:
        """Draw everything that meets ``clip`` (layout coordinates); ``background=False``
        when the target is already white (a fresh export image)."""
        lay = self.layout
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        if background:
            p.fillRect(clip, style.BACKGROUND)
        top, bottom = clip.top(), clip.bottom()
        if top <= lay.lanes_top:
            self._paint_header(p)
        self._paint_axis(p, top, bottom)
        self._paint_lanes(p, top, bottom)
        indices = lay.indices_between(top, bottom).tolist()
        arrows = [lay.arrow(i) for i in indices]
        cursor_y = None if cursor is None else lay.y_at(cursor)
        cols = lay.cols
        progress = [self._progress(a, cursor, cursor_y, float(cols.sent[a.index]),
                                   float(cols.arrived[a.index])) for a in arrows]
        if selected is not None:
            for arrow in arrows:
                if arrow.index == selected:
                    p.setPen(_pen(style.SELECTED, 7.0))
                    p.drawLine(QPointF(arrow.x0, arrow.y0), QPointF(arrow.x1, arrow.y1))
        for arrow, done in zip(arrows, progress, strict=True):
            self._paint_arrow(p, arrow, done)
        for arrow, done in zip(arrows, progress, strict=True):
            self._paint_label(p, arrow, faint=done <= 0.0)
        for arrow, done in zip(arrows, progress, strict=True):
            self._paint_mark(p, arrow, done)
        for badge in lay.badges_between(top, bottom):
            future = cursor is not None and badge.time > cursor
            self._paint_badge(p, badge, faint=future)
        if cursor_y is not None and cursor is not None:
            self._paint_cursor(p, cursor_y, cursor)
        p.restore()

    @staticmethod
    def _progress(arrow: Arrow, cursor: float | None, cursor_y: float | None, sent: float,
                  arrived: float) -> float:
        """How far the segment has travelled at the cursor: 0 not sent, 1 done."""
        if cursor is None or cursor_y is None:
            return 1.0
        if sent > cursor:
            return 0.0
        if arrow.y1 > arrow.y0 + 0.5:
            return max(1e-6, min(1.0, (cursor_y - arrow.y0) / (arrow.y1 - arrow.y0)))
        if math.isnan(arrived) or arrived <= sent:
            return 1.0
        return max(1e-6, min(1.0, (cursor - sent) / (arrived - sent)))

    # ------------------------------------------------------------------ header
    def _paint_header(self, p: QPainter) -> None:
        lay, tl = self.layout, self.layout.timeline
        if lay.show_title:
            p.setPen(style.INK)
            p.setFont(style.title_font())
            p.drawText(QPointF(MARGIN, lay.title_y + lay.fm_title.ascent()), tl.title)
            span = tl.end - tl.start
            subtitle = (f"client {tl.client.label}  \u21c4  server {tl.server.label}"
                        f"   \u00b7   {counted(len(tl.segments), 'segment')} over "
                        f"{time_text(span)} ms")
            p.setPen(style.MUTED)
            p.setFont(self._text_font)
            p.drawText(QPointF(MARGIN, lay.subtitle_y + self._fm_text.ascent()), subtitle)
        self._paint_legend(p)
        self.paint_headings(p, lay.heading_y)

    def paint_headings(self, p: QPainter, y: float,
                       states: tuple[TcpState, TcpState] | None = None) -> None:
        """Role and address of each lane from ``y`` down; with ``states``, each side's
        current state as a badge beside its role (the window's sticky header)."""
        lay, tl = self.layout, self.layout.timeline
        boxes = self.heading_badges(y)
        for side, role in ((Side.CLIENT, "Client"), (Side.SERVER, "Server")):
            x = lay.lane_x(side)
            p.setFont(style.heading_font())
            p.setPen(style.INK)
            w = lay.fm_heading.horizontalAdvance(role)
            p.drawText(QPointF(x - w / 2, y + lay.fm_heading.ascent()), role)
            label = tl.peer(side).label
            p.setFont(self._text_font)
            p.setPen(style.MUTED)
            lw = self._fm_text.horizontalAdvance(label)
            left = min(max(x - lw / 2, MARGIN), lay.width - MARGIN - lw)
            p.drawText(QPointF(left, y + lay.fm_heading.height() + self._fm_text.ascent()), label)
            if states is not None:
                state = states[0] if side is Side.CLIENT else states[1]
                self._badge_box(p, boxes[side], style.phase_of(state), state.value)

    def heading_badges(self, y: float) -> dict[Side, QRectF]:
        """Where the sticky header's state badges go: beside each role, between the two
        roles when both fit there, else outside them (close lanes in a narrow window)."""
        lay = self.layout
        bw, bh = lay.badge_width, lay.badge_height
        halves = {side: lay.fm_heading.horizontalAdvance(role) / 2
                  for side, role in ((Side.CLIENT, "Client"), (Side.SERVER, "Server"))}
        inside = lay.lane_gap - sum(halves.values()) - 32 >= 2 * bw
        out: dict[Side, QRectF] = {}
        for side, half in halves.items():
            x = lay.lane_x(side)
            rightwards = (side is Side.CLIENT) == inside
            bx = x + half + 8 if rightwards else x - half - 8 - bw
            bx = min(max(bx, 2.0), lay.width - 2.0 - bw)
            out[side] = QRectF(bx, y + (lay.fm_heading.height() - bh) / 2, bw, bh)
        return out

    def _paint_legend(self, p: QPainter) -> None:
        lay = self.layout
        fm = self._fm_text
        x0 = MARGIN + lay.legend_caption_width
        line_h = lay.legend_line
        sw = lay.legend_swatch

        def mid(line: int) -> float:
            return lay.legend_y + line * line_h + line_h / 2

        def text(x: float, y: float, words: str, color: QColor) -> None:
            p.setFont(self._text_font)
            p.setPen(color)
            p.drawText(QPointF(x, y - fm.height() / 2 + fm.ascent()), words)

        for line, caption in lay.legend_captions:
            text(MARGIN, mid(line), caption, style.MUTED)
        for item in lay.legend:
            x, y, key = x0 + item.x, mid(item.line), item.key
            if isinstance(key, style.FlagKind):
                self._arrow_shape(p, QPointF(x, y), QPointF(x + sw, y), style.kind_color(key),
                                  head=True)
            elif key == "lost":
                self._arrow_shape(p, QPointF(x, y), QPointF(x + sw - 6, y), style.MUTED,
                                  head=False)
                self._cross(p, QPointF(x + sw - 6, y), style.LOST)
            elif key == "ghost":
                self._arrow_shape(p, QPointF(x, y), QPointF(x + sw, y), style.MUTED,
                                  head=True, dashed=True)
            elif isinstance(key, style.Mark):
                self._mark(p, QPointF(x + style.MARK_SIZE / 2, y), key)
                text(x + style.MARK_SIZE + 6, y, item.text, style.INK)
                continue
            elif isinstance(key, style.Phase):
                self._badge_box(p, QRectF(x, y - lay.badge_height / 2, item.width,
                                          lay.badge_height), key, key.value)
                continue
            text(x + sw + 6, y, item.text, style.INK)

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

    def _paint_cursor(self, p: QPainter, y: float, time: float) -> None:
        lay = self.layout
        p.setPen(_pen(style.CURSOR, 1.4, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(lay.axis_right, y), QPointF(lay.width - MARGIN, y))
        text = f"{time_text(time - lay.timeline.start)} ms"
        fm = lay.fm_axis
        w = fm.horizontalAdvance(text) + 8
        box = QRectF(lay.axis_right - w - 2, y - fm.height() / 2 - 1, w, fm.height() + 2)
        p.fillRect(box, style.CURSOR)
        p.setPen(style.BACKGROUND)
        p.setFont(self._axis_font)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # ----------------------------------------------------------------- arrows
    def _arrow_shape(self, p: QPainter, a: QPointF, b: QPointF, color: QColor, *,
                     head: bool, dashed: bool = False) -> None:
        pen = _pen(color, ARROW_WIDTH, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        dx, dy = b.x() - a.x(), b.y() - a.y()
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        end = QPointF(b.x() - ux * HEAD_LENGTH * 0.8, b.y() - uy * HEAD_LENGTH * 0.8) if head else b
        p.setPen(pen)
        p.drawLine(a, end)
        if head:
            base = QPointF(b.x() - ux * HEAD_LENGTH, b.y() - uy * HEAD_LENGTH)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawPolygon(QPolygonF([
                b, QPointF(base.x() - uy * HEAD_HALF_WIDTH, base.y() + ux * HEAD_HALF_WIDTH),
                QPointF(base.x() + uy * HEAD_HALF_WIDTH, base.y() - ux * HEAD_HALF_WIDTH)]))
            p.setBrush(Qt.BrushStyle.NoBrush)

    def _cross(self, p: QPainter, at: QPointF, color: QColor) -> None:
        p.setPen(_pen(color, 2.2))
        r = 5.0
        p.drawLine(QPointF(at.x() - r, at.y() - r), QPointF(at.x() + r, at.y() + r))
        p.drawLine(QPointF(at.x() - r, at.y() + r), QPointF(at.x() + r, at.y() - r))

    def _mark(self, p: QPainter, at: QPointF, mark: style.Mark, faint: bool = False) -> None:
        r = style.MARK_SIZE / 2
        color = _faint(mark.color) if faint else mark.color
        box = QRectF(at.x() - r, at.y() - r, 2 * r, 2 * r)
        if mark.hollow:   # a ring: the colour's outline, white inside, letter in colour
            p.setPen(_pen(color, 1.8))
            p.setBrush(style.BACKGROUND)
        else:
            p.setPen(_pen(style.BACKGROUND, 1.5))
            p.setBrush(color)
        if mark.shape == "square":
            p.drawRoundedRect(box.adjusted(0.5, 0.5, -0.5, -0.5), 2.5, 2.5)
        else:
            p.drawEllipse(at, r, r)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(color if mark.hollow else style.BACKGROUND)
        p.setFont(self._mark_font)
        p.drawText(QRectF(at.x() - r, at.y() - r, 2 * r, 2 * r), Qt.AlignmentFlag.AlignCenter,
                   mark.letter)

    def _paint_arrow(self, p: QPainter, arrow: Arrow, done: float) -> None:
        label = self._label_parts(arrow.index)
        color = label.color
        a, b = QPointF(arrow.x0, arrow.y0), QPointF(arrow.x1, arrow.y1)
        dashed = label.ghost
        if done < 1.0:  # the rest of the path, faint (not antialiased: half the cost)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            self._arrow_shape(p, a, b, _faint(color), head=not arrow.lost, dashed=dashed)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if done > 0.0:
            end = QPointF(a.x() + (b.x() - a.x()) * done, a.y() + (b.y() - a.y()) * done)
            self._arrow_shape(p, a, end, color, head=done >= 1.0 and not arrow.lost,
                              dashed=dashed)
            if done < 1.0:
                p.setPen(_pen(style.BACKGROUND, 1.5))
                p.setBrush(style.CURSOR)
                p.drawEllipse(end, 5.0, 5.0)
                p.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_mark(self, p: QPainter, arrow: Arrow, done: float) -> None:
        """A lost arrow's cross (faint until the segment is lost), and the arrow's mark if
        its labels have one: mid-arrow (a third of the way along a lost one, clear of its
        cross)."""
        a, b = QPointF(arrow.x0, arrow.y0), QPointF(arrow.x1, arrow.y1)
        if arrow.lost:
            self._cross(p, b, style.LOST if done >= 1.0 else _faint(style.LOST))
        mark = self._label_parts(arrow.index).mark
        doubt = not arrow.ghost and arrow.index in self._doubtful
        if mark is None and not doubt:
            return
        mid = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2) if not arrow.lost else \
            QPointF((a.x() * 2 + b.x()) / 3, (a.y() * 2 + b.y()) / 3)
        if mark is not None:
            self._mark(p, mid, mark, faint=done <= 0.0)
        if doubt:
            beside = QPointF(mid.x() + (style.MARK_SIZE + 2 if mark is not None else 0),
                             mid.y())
            self._mark(p, beside, style.UNCERTAIN, faint=done <= 0.0)

    def _label_parts(self, index: int) -> _Label:
        """One arrow's label, elided to fit, and what else painting it asks of its record;
        cached (painting a row asks three times, and frames repaint the same rows)."""
        parts = self._labels.get(index)
        if parts is None:
            lay = self.layout
            rec = lay.record(index)
            fm = self._fm_label
            flags = flags_text(rec.segment.flags)
            rest = lay.label(index)[len(flags):]
            notes = "".join(f"  {note}" for note in rec.labels)
            room = lay.label_max_width - fm.horizontalAdvance(flags)
            notes = fm.elidedText(notes, Qt.TextElideMode.ElideRight, max(0.0, room * 0.6))
            rest = fm.elidedText(rest, Qt.TextElideMode.ElideRight,
                                 max(0.0, room - fm.horizontalAdvance(notes)))
            parts = _Label(flags, rest, notes,
                           tuple(fm.horizontalAdvance(t) for t in (flags, rest, notes)),
                           style.kind_color(style.flag_kind(rec.segment)), rec.ghost,
                           style.mark_of(rec.labels))
            if len(self._labels) > LABEL_CACHE:
                self._labels.clear()
            self._labels[index] = parts
        return parts

    def _paint_label(self, p: QPainter, arrow: Arrow, *, faint: bool) -> None:
        """Label in the band just above the arrow's tail, flags in the arrow's colour."""
        fm = self._fm_label
        flags, rest, notes, widths, kind, ghost, _ = self._label_parts(arrow.index)
        total = sum(widths)
        x = arrow.x0 + LABEL_PAD if arrow.x1 > arrow.x0 else arrow.x0 - LABEL_PAD - total
        baseline = arrow.y0 - 4.0 - fm.descent()
        if not faint:
            halo = QRectF(x - 3, baseline - fm.ascent() - 1, total + 6, fm.height() + 2)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 255, 255, 215))
            p.drawRoundedRect(halo, 3, 3)
            p.setBrush(Qt.BrushStyle.NoBrush)
        p.setFont(self._label_font)
        ink = style.MUTED if ghost else style.INK
        for text, color, w in zip((flags, rest, notes), (kind, ink, style.ANOMALY), widths,
                                  strict=True):
            if text:
                p.setPen(_faint(color) if faint else color)
                p.drawText(QPointF(x, baseline), text)
                x += w

    # ----------------------------------------------------------------- badges
    def _badge_box(self, p: QPainter, rect: QRectF, phase: style.Phase, text: str,
                   faint: bool = False) -> None:
        path = QPainterPath()
        path.addRoundedRect(rect, 5, 5)
        line, fill = style.phase_color(phase), style.phase_fill(phase)
        p.setPen(_pen(_faint(line) if faint else line, 1.4))
        p.setBrush(_faint(fill) if faint else fill)
        p.drawPath(path)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setFont(self._badge_font)
        p.setPen(_faint(style.INK) if faint else style.INK)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_badge(self, p: QPainter, badge: Badge, *, faint: bool = False) -> None:
        lay = self.layout
        x = lay.lane_x(badge.side)
        w, h = lay.badge_width, lay.badge_height
        left = x - BADGE_GAP - w if badge.side is Side.CLIENT else x + BADGE_GAP
        phase = style.phase_of(badge.state)
        line = style.phase_color(phase)
        p.setPen(_pen(_faint(line) if faint else line, 1.4))
        edge = left + w if badge.side is Side.CLIENT else left
        p.drawLine(QPointF(edge, badge.y), QPointF(x, badge.anchor))
        self._badge_box(p, QRectF(left, badge.y - h / 2, w, h), phase, badge.state.value, faint)
        if (badge.side, badge.time) in self._doubtful_states:
            outer = left - style.MARK_SIZE / 2 - 2 if badge.side is Side.CLIENT else \
                left + w + style.MARK_SIZE / 2 + 2
            self._mark(p, QPointF(outer, badge.y), style.UNCERTAIN, faint=faint)


def _doubts(timeline: Timeline) -> tuple[frozenset[int], frozenset[tuple[Side, float]]]:
    """The arrows an uncertainty names, and the state changes in doubt: for each
    uncertainty about a side, that side's first change from the doubt's time on."""
    arrows: set[int] = set()
    states: set[tuple[Side, float]] = set()
    for u in timeline.uncertain:
        arrows.update(u.segments)
        if u.side is None:
            continue
        change = next((c for c in timeline.state_changes(u.side) if c.time >= u.time - 1e-9),
                      None)
        if change is not None:
            states.add((u.side, change.time))
    return frozenset(arrows), frozenset(states)
