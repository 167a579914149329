"""Sliding-window bars: each side's send window and receive buffer at the playback cursor.

Rules:
- Every number comes from :mod:`core.cursor` (``WindowAt``); this module lays it out.
- Send bar, over relative sequence space: acknowledged | in flight | usable | beyond the
  window, with SND.UNA, SND.NXT and SND.UNA+SND.WND marked. The window (or what is in
  flight, if more) takes the middle half of the bar: a quarter of acknowledged space
  before it, a quarter of the space beyond it after.
- Sized to the content: the plot is as tall as two sides' labels and bars need
  (:func:`plot_height`, from the font) and no taller; x is in widget pixels, so the side's
  name and state keep their column and the bars take the rest at any width. The legend
  is a wrapped line of text under the plot.
- Receive bar: buffered (waiting for the application) | free, and free is the window the
  side advertises. A capture does not show the buffered octets: the bar then says so
  instead of drawing a 0.
- A zero window draws the bar's outline and a label in ``style.ZERO_WINDOW``: on the
  receive bar of the side that advertises it, on the send bar of the side it blocks.
- :meth:`WindowBars.values` returns what is drawn, so tests check numbers, not pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg  # type: ignore[import-untyped]
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPen, QResizeEvent
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.cursor import Cursor, WindowAt
from core.tcp.states import Side, TcpState
from core.trace import Timeline
from gui.diagram import style

# Layout: x in widget pixels; y in plot units, each side one unit tall (client above
# server). The name column is as wide as the longest state; the send bar takes
# SEND_SHARE of the rest, the receive bar what is left after a gap.
BAR_Y = (0.33, 0.64)            # within a side's unit
LABEL_GAP = 0.03                # between a bar and the labels above and below it
Y_RANGE = (0.0, 2.02)
UNIT_LINES = 4.0                # a side's unit in text lines (a label above, one below)
SEND_SHARE = 0.61
BAR_GAP = 26.0
RIGHT_PAD = 10.0
MIN_WIDTH = 380
TEXT_MARGIN = 1.0               # around a label's text (Qt's default is 4 px)
_BASE = {Side.CLIENT: 1.0, Side.SERVER: 0.0}
_NO_PEN = QPen(Qt.PenStyle.NoPen)

Value = int | float | bool | str | None


@dataclass(frozen=True, slots=True)
class SendSpan:
    """The stretch of sequence space the send bar shows, and where its parts end."""

    lo: int
    una: int
    nxt: int
    edge: int                   # SND.UNA + SND.WND (= una when the window is not known)
    hi: int

    @classmethod
    def of(cls, facts: WindowAt) -> SendSpan:
        una, nxt = facts.una, max(facts.una, facts.nxt)
        edge = facts.edge if facts.peer_window_known else una
        width = max(edge, nxt) - una
        margin = max(width // 2, 1)
        return cls(lo=max(0, una - margin), una=una, nxt=nxt, edge=edge,
                   hi=max(edge, nxt) + margin)

    def x(self, value: int, send_x: tuple[float, float] = (0.0, 1.0)) -> float:
        """Where ``value`` sits on a bar spanning ``send_x``."""
        left, right = send_x
        return left + (value - self.lo) / (self.hi - self.lo) * (right - left)


def plot_height() -> int:
    """Pixels the plot needs: two sides of ``UNIT_LINES`` lines of the label font."""
    return math.ceil((Y_RANGE[1] - Y_RANGE[0]) * UNIT_LINES * _line_height())


def _line_height() -> float:
    """One label's height: the font's and the text item's margin (``TEXT_MARGIN``)."""
    return QFontMetricsF(style.axis_font()).height() + 2 * TEXT_MARGIN


def _advance(text: str) -> float:
    return QFontMetricsF(style.axis_font()).horizontalAdvance(text) + 2 * TEXT_MARGIN


def _fitting(room: float, *texts: str) -> str:
    """The first of ``texts`` (longest first) that fits in ``room`` px, else the last."""
    return next((t for t in texts if _advance(t) <= room), texts[-1])


def name_column() -> float:
    """Width of the side's name-and-state column (the longest state)."""
    fm = QFontMetricsF(style.axis_font())
    return max(fm.horizontalAdvance(s.value) for s in TcpState) + 16.0


@dataclass(frozen=True, slots=True)
class BarGeometry:
    """Where the bars go, in widget pixels, at one plot width."""

    send: tuple[float, float]
    recv: tuple[float, float]

    @classmethod
    def of(cls, width: float) -> BarGeometry:
        left = name_column()
        room = max(width - left - RIGHT_PAD - BAR_GAP, 100.0)
        send = (left, left + room * SEND_SHARE)
        return cls(send=send, recv=(send[1] + BAR_GAP, send[1] + BAR_GAP
                                    + room * (1 - SEND_SHARE)))


def _text(anchor: tuple[float, float], color: QColor, *, bold: bool = False,
          boxed: bool = False) -> pg.TextItem:
    """A label of fixed pixel size; ``boxed`` ones sit on a bar, on a white box."""
    box = dict(fill=QBrush(style.BACKGROUND), border=QPen(color, 1)) if boxed else {}
    item = pg.TextItem("", color=color, anchor=anchor, **box)
    if not boxed:
        item.textItem.document().setDocumentMargin(TEXT_MARGIN)
    item.setFont(style.badge_font() if bold else style.axis_font())
    return item


def _frame() -> QGraphicsRectItem:
    item = QGraphicsRectItem()
    item.setBrush(QBrush(Qt.BrushStyle.NoBrush))
    return item


class _SideItems:
    """The graphics items of one side, created once and updated in place."""

    def __init__(self, plot: pg.PlotItem, side: Side) -> None:
        self.base = _BASE[side]
        self.title = _text((0.0, 0.5), style.INK)
        self.send = pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[])
        self.recv = pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[])
        self.ticks = pg.PlotDataItem([], [], connect="pairs", pen=pg.mkPen(style.INK, width=1.5))
        self.send_frame, self.recv_frame = _frame(), _frame()
        self.una = _text((1.0, 1.0), style.INK)
        self.edge = _text((0.0, 1.0), style.INK)
        self.nxt = _text((0.5, 0.0), style.INK)
        self.recv_caption = _text((0.0, 1.0), style.MUTED)
        self.recv_flag = _text((0.5, 0.5), style.ZERO_WINDOW, bold=True, boxed=True)
        self.send_flag = _text((0.5, 0.5), style.ZERO_WINDOW, bold=True, boxed=True)
        self.recv_values = _text((0.0, 0.0), style.INK)
        self.note = _text((0.5, 0.5), style.MUTED)
        for item in (self.send, self.recv, self.ticks, self.send_frame, self.recv_frame,
                     self.title, self.una, self.edge, self.nxt, self.recv_caption,
                     self.recv_flag, self.send_flag, self.recv_values, self.note):
            plot.addItem(item)
        self.place(BarGeometry.of(900.0))

    def place(self, geo: BarGeometry) -> None:
        """Put the items that do not move with the numbers where ``geo`` says."""
        self.title.setPos(4.0, self.base + sum(BAR_Y) / 2)
        self.recv_caption.setPos(geo.recv[0], self.y(BAR_Y[1] + LABEL_GAP))
        self.recv_flag.setPos(sum(geo.recv) / 2, self.base + sum(BAR_Y) / 2)
        self.recv_values.setPos(geo.recv[0], self.y(BAR_Y[0] - LABEL_GAP))
        self.note.setPos((geo.send[0] + geo.recv[1]) / 2, self.base + sum(BAR_Y) / 2)

    def y(self, frac: float) -> float:
        return self.base + frac


class WindowBars(QWidget):
    """Both sides' sliding-window bars, drawn for one cursor time at a time.

    Signals: none. Slots: :meth:`set_time` (the playback cursor moved), :meth:`show_row`
    (stepping one segment at a time: the bookkeeping once that segment took effect).
    """

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timeline = timeline
        self._cursor = Cursor(timeline)
        self._facts: dict[Side, WindowAt | None] = {Side.CLIENT: None, Side.SERVER: None}
        self._values: dict[Side, dict[str, Value]] = {}
        self.plot_widget = pg.PlotWidget(background=style.BACKGROUND)
        self.plot_widget.setAntialiasing(True)
        plot = self.plot_widget.getPlotItem()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.getViewBox().setDefaultPadding(0.0)
        self._width = 900.0
        self._geo = BarGeometry.of(self._width)
        plot.setRange(xRange=(0.0, self._width), yRange=Y_RANGE, padding=0.0)
        plot.getViewBox().disableAutoRange()
        plot.layout.setContentsMargins(0, 0, 0, 0)
        self._items = {side: _SideItems(plot, side) for side in Side}
        self.plot_widget.setFixedHeight(plot_height())
        self.plot_widget.setMinimumWidth(MIN_WIDTH)
        self.plot_widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.plot_widget.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.legend = QLabel(_legend_html())
        self.legend.setObjectName("windowLegend")
        self.legend.setFont(style.axis_font())
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setStyleSheet(f"color: {style.INK.name()}; background: "
                                  f"{style.BACKGROUND.name()}; padding: 0px 4px 4px 6px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot_widget)
        layout.addWidget(self.legend)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self._height_for(720))
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(self.backgroundRole(), style.BACKGROUND)
        self.setPalette(pal)
        for side in Side:
            self._draw(side, None)
        self.set_time(timeline.start)

    def _height_for(self, width: int) -> int:
        """The plot and the legend wrapped at ``width`` (two lines unless narrower)."""
        return plot_height() + self.legend.heightForWidth(width)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(720, self.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(MIN_WIDTH, self.height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        wanted = self._height_for(event.size().width())
        if wanted != self.height() and wanted > 0:
            self.setFixedHeight(wanted)          # the legend wrapped onto another line
        width = float(max(self.plot_widget.width(), 1))
        if abs(width - self._width) < 0.5:
            return
        self._width = width
        self._geo = BarGeometry.of(width)
        self.plot_widget.getPlotItem().setRange(xRange=(0.0, width), yRange=Y_RANGE,
                                                padding=0.0)
        for side in Side:
            self._items[side].place(self._geo)
            self._draw(side, self._facts[side])

    def geometry_used(self) -> BarGeometry:
        """Where the bars are drawn now (widget pixels)."""
        return self._geo

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    def set_time(self, t: float) -> None:
        """Show both sides' bookkeeping at cursor time ``t``."""
        for side in Side:
            self._show(side, self._cursor.window_facts_at(side, t))

    def show_row(self, index: int) -> None:
        """Show both sides' bookkeeping once segment ``index`` took effect."""
        for side in Side:
            self._show(side, self._cursor.window_after(side, index))

    def values(self, side: Side) -> dict[str, Value]:
        """What the bars of ``side`` show now (relative sequence numbers, octets)."""
        return dict(self._values[side])

    def _show(self, side: Side, facts: WindowAt | None) -> None:
        if facts is not None and facts == self._facts[side]:
            return
        self._facts[side] = facts
        self._draw(side, facts)

    # ------------------------------------------------------------------ drawing
    def _draw(self, side: Side, facts: WindowAt | None) -> None:
        items = self._items[side]
        name = f"<b>{side.value}</b>"
        if facts is None or not facts.connected:
            state = "nothing known yet" if facts is None else facts.state.value
            items.title.setHtml(f"{name}<br>{state}")
            items.note.setText("no connection" if facts is not None else
                               "no window known yet")
            self._clear(items)
            self._values[side] = {"shown": False,
                                  "state": None if facts is None else facts.state.value}
            return
        color = style.state_color(facts.state).name()
        items.title.setHtml(f"{name}<br><span style='color:{color}'>{facts.state.value}</span>")
        items.note.setText("")
        send = self._draw_send(items, facts)
        recv = self._draw_recv(items, facts)
        self._values[side] = {"shown": True, "state": facts.state.value, "since": facts.since,
                              **send, **recv}

    @staticmethod
    def _clear(items: _SideItems) -> None:
        for bars in (items.send, items.recv):
            bars.setVisible(False)
        items.ticks.setData([], [])
        for frame in (items.send_frame, items.recv_frame):
            frame.setVisible(False)
        for text in (items.una, items.edge, items.nxt, items.recv_caption, items.recv_values):
            text.setText("")
        for flag in (items.send_flag, items.recv_flag):
            flag.setVisible(False)

    def _draw_send(self, items: _SideItems, facts: WindowAt) -> dict[str, Value]:
        span = SendSpan.of(facts)
        bar = self._geo.send

        def x(value: int) -> float:
            return span.x(value, bar)

        parts = [(span.lo, span.una, style.WINDOW_ACKED),
                 (span.una, span.nxt, style.WINDOW_IN_FLIGHT),
                 (span.nxt, max(span.nxt, span.edge), style.WINDOW_USABLE),
                 (max(span.nxt, span.edge), span.hi, style.WINDOW_BEYOND)]
        parts = [(a, b, c) for a, b, c in parts if b > a]
        y0, y1 = items.y(BAR_Y[0]), items.y(BAR_Y[1])
        _set_bars(items.send, [(x(a), x(b), c) for a, b, c in parts], y0, y1)
        marks = [span.una, span.nxt] + ([span.edge] if facts.peer_window_known else [])
        xs = [x(m) for m in marks for _ in (0, 1)]
        ys = [items.y(y) for _ in marks for y in (BAR_Y[0] - LABEL_GAP, BAR_Y[1] + LABEL_GAP)]
        items.ticks.setData(xs, ys)
        blocked = facts.send_blocked
        _set_frame(items.send_frame, x(span.lo), x(span.hi), y0, y1, blocked)
        above, below = items.y(BAR_Y[1] + LABEL_GAP), items.y(BAR_Y[0] - LABEL_GAP)
        # labels stay over the bar: near its left end UNA reads rightwards (clear of the
        # side's name), near its right end UNA+WND reads leftwards (clear of the receive
        # bar); NXT is centred on its mark as far as the bar allows
        una = f"UNA {span.una}"
        items.una.setText(una)
        items.una.setAnchor((0.0 if x(span.una) - _advance(una) < bar[0] else 1.0, 1.0))
        items.una.setPos(x(span.una), above)
        nxt = f"NXT {span.nxt}"
        items.nxt.setText(nxt)
        half = _advance(nxt) / 2
        items.nxt.setPos(min(max(x(span.nxt), bar[0] + half), bar[1] - half), below)
        if facts.peer_window_known:
            taken = [(_span_of(items.una, x(span.una), una), above),
                     (_span_of(items.nxt, items.nxt.pos().x(), nxt), below)]
            # a crowded narrow bar shows the number alone (the tick says where)
            for edge in (f"UNA+WND {span.edge}", f"{span.edge}"):
                anchor, y, cost = _place(x(span.edge), _advance(edge),
                                         (bar[0], bar[1] + RIGHT_PAD), taken, above, below)
                if cost == 0:
                    break
            items.edge.setText(edge)
            items.edge.setColor(style.ZERO_WINDOW if blocked else style.INK)
            items.edge.setAnchor((anchor, 1.0 if y == above else 0.0))
            items.edge.setPos(x(span.edge), y)
        else:                       # no edge to mark: the note ends at the bar's end
            items.edge.setText(_fitting(bar[1] - x(span.una) - _advance(una) - 6,
                                        "peer's window not known yet", "window not known",
                                        ""))
            items.edge.setColor(style.MUTED)
            items.edge.setAnchor((1.0, 1.0))
            items.edge.setPos(bar[1], above)
        # the flag sits on the space beyond the window, clear of the markers
        _set_flag(items.send_flag, "ZERO WINDOW: blocked" if blocked else "")
        items.send_flag.setPos((x(max(span.nxt, span.edge)) + bar[1]) / 2,
                               items.y(sum(BAR_Y) / 2))
        snap = facts.snapshot
        return {"una": span.una, "nxt": span.nxt,
                "edge": span.edge if facts.peer_window_known else None,
                "snd_wnd": snap.snd_wnd if facts.peer_window_known else None,
                "acknowledged": span.una, "in_flight": span.nxt - span.una,
                "usable": max(0, span.edge - span.nxt), "send_blocked": blocked,
                "snd_queued": snap.snd_queued if facts.buffers_known else None,
                "view_lo": span.lo, "view_hi": span.hi, "edge_label": items.edge.toPlainText(),
                "send_flag": items.send_flag.toPlainText().strip() if blocked else ""}

    def _draw_recv(self, items: _SideItems, facts: WindowAt) -> dict[str, Value]:
        snap = facts.snapshot
        free = snap.rcv_wnd
        buffered = snap.rcv_buffered if facts.buffers_known else 0
        capacity = max(buffered + free, 1)
        left, right = self._geo.recv

        def x(value: int) -> float:
            return left + value / capacity * (right - left)

        parts = [(0, buffered, style.WINDOW_BUFFERED), (buffered, buffered + free,
                                                        style.WINDOW_FREE)]
        parts = [(a, b, c) for a, b, c in parts if b > a]
        y0, y1 = items.y(BAR_Y[0]), items.y(BAR_Y[1])
        _set_bars(items.recv, [(x(a), x(b), c) for a, b, c in parts], y0, y1)
        zero = facts.advertises_zero
        _set_frame(items.recv_frame, left, right, y0, y1, zero)
        _set_flag(items.recv_flag, "ZERO WINDOW" if zero else "")
        room = right - left
        if facts.buffers_known:
            items.recv_caption.setText("receive buffer")
            items.recv_values.setText(_fitting(room, f"buffered {buffered} · free {free}",
                                               f"buf {buffered} · free {free}"))
        else:
            items.recv_caption.setText(_fitting(room, "buffer not known from a capture",
                                                "buffer not captured", "buffer ?"))
            items.recv_values.setText(_fitting(room, f"free {free} (advertised window)",
                                               f"free {free} (advertised)", f"free {free}"))
        return {"rcv_buffered": snap.rcv_buffered if facts.buffers_known else None,
                "rcv_free": free, "zero_window": zero, "buffers_known": facts.buffers_known,
                "recv_label": items.recv_values.toPlainText(),
                "recv_caption": items.recv_caption.toPlainText(),
                "recv_flag": items.recv_flag.toPlainText().strip() if zero else ""}


def _set_bars(bars: pg.BarGraphItem, parts: list[tuple[float, float, QColor]], y0: float,
              y1: float) -> None:
    """Show ``parts`` (x from, x to, colour) as one row of bars; none hides the item."""
    bars.setVisible(bool(parts))
    if parts:
        n = len(parts)
        bars.setOpts(x0=[a for a, _, _ in parts], x1=[b for _, b, _ in parts], y0=[y0] * n,
                     y1=[y1] * n, brushes=[QBrush(c) for _, _, c in parts], pens=[_NO_PEN] * n)


def _span_of(item: pg.TextItem, at: float, text: str) -> tuple[float, float]:
    """The pixels a label anchored at ``at`` covers horizontally."""
    width = _advance(text)
    left = at - item.anchor.x() * width
    return (left, left + width)


def _place(at: float, width: float, limits: tuple[float, float],
           taken: list[tuple[tuple[float, float], float]], above: float,
           below: float) -> tuple[float, float, float]:
    """Where the UNA+WND label goes: (horizontal anchor, y, 0), the first of above-right,
    above-left, below-right, below-left of its mark that stays within ``limits`` and
    clear of the labels ``taken`` ((left, right), y); else the one overlapping least,
    with the pixels it overlaps."""
    best: tuple[float, float, float] | None = None
    for y in (above, below):
        for anchor in (0.0, 1.0):
            left = at - anchor * width
            right = left + width
            outside = max(0.0, limits[0] - 2 - left) + max(0.0, right - limits[1])
            overlap = sum(max(0.0, min(right + 2, b + 2) - max(left, a))
                          for (a, b), ty in taken if ty == y)
            cost = outside + overlap
            if cost == 0:
                return anchor, y, 0.0
            if best is None or cost < best[0]:
                best = (cost, anchor, y)
    assert best is not None
    return best[1], best[2], best[0]


def _set_flag(flag: pg.TextItem, text: str) -> None:
    flag.setText(f" {text} ")
    flag.setVisible(bool(text))


def _set_frame(frame: QGraphicsRectItem, x0: float, x1: float, y0: float, y1: float,
               alarm: bool) -> None:
    pen = QPen(style.ZERO_WINDOW if alarm else style.MUTED, 2.5 if alarm else 1.0)
    pen.setCosmetic(True)
    frame.setPen(pen)
    frame.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
    frame.setVisible(True)


def _legend_html() -> str:
    """One entry per swatch; an entry never breaks inside, the line breaks between them."""
    def swatch(color: QColor, text: str) -> str:
        border = style.MUTED.name() if color == style.WINDOW_BEYOND else color.name()
        words = text.replace(" ", "&nbsp;")
        return (f"<span style='color:{border}; background-color:{color.name()}'>"
                f"&nbsp;&nbsp;&nbsp;</span>&nbsp;{words}")
    send = " &nbsp; ".join([swatch(style.WINDOW_ACKED, "acknowledged"),
                            swatch(style.WINDOW_IN_FLIGHT, "in flight"),
                            swatch(style.WINDOW_USABLE, "usable"),
                            swatch(style.WINDOW_BEYOND, "beyond the window")])
    recv = " &nbsp; ".join([swatch(style.WINDOW_BUFFERED, "buffered"),
                            swatch(style.WINDOW_FREE, "free = advertised window")])
    muted = style.MUTED.name()
    return (f"<span style='color:{muted}'>send:</span> {send}<br>"
            f"<span style='color:{muted}'>receive:</span> {recv}")
