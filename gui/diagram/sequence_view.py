"""The diagram widget: zoom, pan, a playback cursor, selection, a sticky header.

Rules:
- One widget paints the whole diagram with :class:`~gui.diagram.diagram_painter.DiagramPainter`
  and only the rows in view (no scene item per arrow), so a frame of a 100,000-segment
  stream costs what a frame of a short one does.
- Coordinates: layout px x zoom = widget px; scroll bars hold the offset in widget px.
- The view reads everything from its layout and the Timeline; it keeps no TCP facts of
  its own. The current states shown in the sticky header come from :mod:`core.cursor`.
- Width: the lanes sit as far apart as the labels want; when the view is narrower, the
  layout is rebuilt at the view's width (closer lanes, labels elided) once a resize or
  zoom settles (a dock dragged wider or narrower included), never below the narrowest
  layout. Fit width zooms out just enough for the narrowest layout, and never in: the
  text stays at most its actual size.
- Following: while ``follow`` is on, a cursor leaving the visible band scrolls the view
  so the cursor sits a third of the way down.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from core import cursor as core_cursor
from core.tcp.states import Side, TcpState
from core.trace import Timeline
from gui.diagram import style
from gui.diagram.diagram_layout import DiagramLayout
from gui.diagram.diagram_painter import DiagramPainter, ensure_gui_application

ZOOM_MIN, ZOOM_MAX, ZOOM_STEP = 0.25, 4.0, 1.25
REFIT_MS = 150          # after a resize settles, lanes move to fit the new width

__all__ = ["SequenceView", "ensure_gui_application"]


class SequenceView(QAbstractScrollArea):
    """The two-lane diagram of one Timeline.

    Signals:
        segment_clicked(int): an arrow (or its label) was clicked; its segment index.
        zoom_changed(float): the zoom factor changed.
        layout_changed(): the layout was rebuilt (compact or numbering toggled).
    """

    segment_clicked = Signal(int)
    zoom_changed = Signal(float)
    layout_changed = Signal()

    def __init__(self, timeline: Timeline, parent: QWidget | None = None, *,
                 compact: bool = False, absolute: bool = False) -> None:
        super().__init__(parent)
        self._timeline = timeline
        self._zoom = 1.0
        self._cursor: float | None = None
        self._selected: int | None = None
        self._follow = True
        self._drag_from: QPoint | None = None
        self._drag_scroll = (0, 0)
        self._dragged = False
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(REFIT_MS)
        self._refit.timeout.connect(self._on_refit)
        self._build(compact=compact, absolute=absolute)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)

    # ---------------------------------------------------------------- model
    def _build(self, *, compact: bool, absolute: bool) -> None:
        self._layout = DiagramLayout(self._timeline, show_title=False, compact=compact,
                                     absolute=absolute, max_width=self._room())
        self._painter = DiagramPainter(self._layout)
        self._update_scrollbars()
        self.viewport().update()

    def _room(self) -> float:
        """The layout width the view shows without scrolling at this zoom."""
        return self.viewport().width() / self._zoom - 2

    def _on_refit(self) -> None:
        lay, room = self._layout, self._room()
        wanted = min(max(room, lay.min_width), lay.natural_width)
        if abs(wanted - lay.width) > 4:
            anchor = lay.time_at(self._visible_rect().center().y())
            self._build(compact=self.compact, absolute=self.absolute)
            self.center_on_y(self._layout.y_at(anchor))

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    def diagram_layout(self) -> DiagramLayout:
        return self._layout

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def compact(self) -> bool:
        return self._layout.compact

    @property
    def absolute(self) -> bool:
        return self._layout.absolute

    @property
    def selected(self) -> int | None:
        return self._selected

    @property
    def follow(self) -> bool:
        return self._follow

    def set_follow(self, on: bool) -> None:
        self._follow = on
        if on and self._cursor is not None:
            self._keep_cursor_visible()

    def set_compact(self, on: bool) -> None:
        if on != self.compact:
            self._rebuild(compact=on, absolute=self.absolute)

    def set_absolute(self, on: bool) -> None:
        if on != self.absolute:
            self._rebuild(compact=self.compact, absolute=on)

    def _rebuild(self, *, compact: bool, absolute: bool) -> None:
        anchor = self._layout.time_at(self._visible_rect().center().y())
        self._build(compact=compact, absolute=absolute)
        self.center_on_y(self._layout.y_at(anchor))
        self.layout_changed.emit()

    # ----------------------------------------------------------- geometry
    def _update_scrollbars(self) -> None:
        lay, vp = self._layout, self.viewport()
        width, height = math.ceil(lay.width * self._zoom), math.ceil(lay.height * self._zoom)
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setRange(0, max(0, width - vp.width()))
        h.setPageStep(vp.width())
        h.setSingleStep(20)
        v.setRange(0, max(0, height - vp.height()))
        v.setPageStep(vp.height())
        v.setSingleStep(round(lay.row_gap * self._zoom))

    def _origin(self) -> QPointF:
        """Top-left of the layout in viewport px (centred when narrower than the view)."""
        vp = self.viewport()
        width = self._layout.width * self._zoom
        x = (vp.width() - width) / 2 if width < vp.width() else -self.horizontalScrollBar().value()
        return QPointF(x, -self.verticalScrollBar().value())

    def _visible_rect(self) -> QRectF:
        """The part of the layout in view (layout coordinates)."""
        o, vp = self._origin(), self.viewport()
        return QRectF(-o.x() / self._zoom, -o.y() / self._zoom,
                      vp.width() / self._zoom, vp.height() / self._zoom)

    def visible_rect(self) -> QRectF:
        return self._visible_rect()

    def to_layout(self, point: QPointF) -> QPointF:
        o = self._origin()
        return QPointF((point.x() - o.x()) / self._zoom, (point.y() - o.y()) / self._zoom)

    def to_viewport(self, point: QPointF) -> QPointF:
        o = self._origin()
        return QPointF(point.x() * self._zoom + o.x(), point.y() * self._zoom + o.y())

    def center_on_y(self, y: float, fraction: float = 0.5) -> None:
        """Scroll so layout ``y`` sits ``fraction`` of the way down the view."""
        bar = self.verticalScrollBar()
        bar.setValue(round(y * self._zoom - self.viewport().height() * fraction))

    # ---------------------------------------------------------------- zoom
    def set_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``factor`` (clamped), keeping ``anchor`` (viewport px) in place."""
        factor = min(ZOOM_MAX, max(ZOOM_MIN, factor))
        if math.isclose(factor, self._zoom):
            return
        vp = self.viewport()
        anchor = anchor if anchor is not None else QPointF(vp.width() / 2, vp.height() / 2)
        fixed = self.to_layout(anchor)
        self._zoom = factor
        self._update_scrollbars()
        self._refit.start()
        self.horizontalScrollBar().setValue(round(fixed.x() * factor - anchor.x()))
        self.verticalScrollBar().setValue(round(fixed.y() * factor - anchor.y()))
        self.viewport().update()
        self.zoom_changed.emit(factor)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def zoom_reset(self) -> None:
        self.set_zoom(1.0)

    def zoom_to_fit_width(self) -> None:
        """Show the whole width: actual size when the narrowest layout fits, else zoomed
        out until it does (module rules)."""
        fits = (self.viewport().width() - 2) / self._layout.min_width
        self.set_zoom(min(1.0, fits))
        self._refit.stop()
        self._on_refit()

    # ------------------------------------------------------ cursor, select
    def set_time(self, time: float) -> None:
        """Move the playback cursor to animation time ``time``."""
        self._cursor = time
        if self._follow:
            self._keep_cursor_visible()
        self.viewport().update()

    @property
    def cursor_time(self) -> float | None:
        return self._cursor

    def _keep_cursor_visible(self) -> None:
        if self._cursor is None:
            return
        y = self._layout.y_at(self._cursor)
        rect = self._visible_rect()
        margin = self._layout.row_gap * 2
        if not rect.top() + margin <= y <= rect.bottom() - margin:
            self.center_on_y(y, 1 / 3)

    def set_selected(self, index: int | None) -> None:
        self._selected = index
        self.viewport().update()

    def show_segment(self, index: int) -> None:
        """Scroll so segment ``index`` is in view."""
        arrow = self._layout.arrow(index)
        rect = self._visible_rect()
        if not rect.top() <= arrow.y0 <= rect.bottom():
            self.center_on_y(arrow.y0, 1 / 3)

    # ------------------------------------------------------------- events
    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._update_scrollbars()
        self._refit.start()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 (Qt override)
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self.viewport())
        try:
            painter.fillRect(event.rect(), style.BACKGROUND)
            o = self._origin()
            painter.translate(o)
            painter.scale(self._zoom, self._zoom)
            clip = QRectF(event.rect()).translated(-o.x(), -o.y())
            clip = QRectF(clip.x() / self._zoom, clip.y() / self._zoom,
                          clip.width() / self._zoom, clip.height() / self._zoom)
            self._painter.paint(painter, clip, cursor=self._cursor, selected=self._selected)
            self._paint_sticky_header(painter, clip)
        finally:
            painter.end()

    def current_states(self) -> tuple[TcpState, TcpState]:
        """Both sides' states at the cursor (the end of the Timeline without one)."""
        tl = self._timeline
        t = tl.end if self._cursor is None else self._cursor
        return (core_cursor.displayed_state_at(tl, Side.CLIENT, t),
                core_cursor.displayed_state_at(tl, Side.SERVER, t))

    def _paint_sticky_header(self, painter: QPainter, clip: QRectF) -> None:
        """Roles, addresses and both current states, pinned to the top of the view."""
        lay = self._layout
        top = self._visible_rect().top()
        height = lay.lanes_top - lay.heading_y
        band = QRectF(clip.left(), top, clip.width(), height)
        if top > lay.heading_y:
            painter.fillRect(band, style.BACKGROUND)
            painter.setPen(style.GRID)
            painter.drawLine(band.bottomLeft(), band.bottomRight())
            y = top + 2
        else:
            y = lay.heading_y
            painter.fillRect(QRectF(clip.left(), y, clip.width(), height), style.BACKGROUND)
        client, server = self.current_states()
        self._painter.paint_headings(painter, y, (client, server))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.set_zoom(self._zoom * ZOOM_STEP ** steps, event.position())
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._drag_from = event.position().toPoint()
            self._drag_scroll = (self.horizontalScrollBar().value(),
                                 self.verticalScrollBar().value())
            self._dragged = False
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._drag_from is not None:
            delta = event.position().toPoint() - self._drag_from
            if abs(delta.x()) + abs(delta.y()) > 4:
                self._dragged = True
            if self._dragged:
                self.horizontalScrollBar().setValue(self._drag_scroll[0] - delta.x())
                self.verticalScrollBar().setValue(self._drag_scroll[1] - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        was_drag = self._dragged
        self._drag_from = None
        self._dragged = False
        self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        if event.button() == Qt.MouseButton.LeftButton and not was_drag:
            self.click_at(event.position())
        event.accept()

    def click_at(self, point: QPointF) -> int | None:
        """Select the arrow under ``point`` (viewport px); emits ``segment_clicked``."""
        at = self.to_layout(point)
        index = self._layout.hit(at.x(), at.y(), tolerance=6.0 / self._zoom)
        if index is not None and index < len(self._timeline.segments):
            self.set_selected(index)
            self.segment_clicked.emit(index)
        return index

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        # playback keys belong to the window's actions; let them through
        if event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Space,
                           Qt.Key.Key_Home, Qt.Key.Key_End):
            event.ignore()
            return
        super().keyPressEvent(event)
