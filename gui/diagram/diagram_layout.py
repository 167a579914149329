"""Geometry of the two-lane diagram: where every lane, row, arrow and badge goes.

Rules:
- Computed once per Timeline and options (width, compact, numbering) with numpy
  columns (:mod:`core.trace_columns`), so a 100,000-segment replay is laid out without
  building its segments; painting only reads it and never measures.
- Vertical axis: *rows*, not a linear clock. Timed mode (the default): every send and
  every arrival has a row, in time order (at equal times an arrival comes before a send,
  then by segment); a state change sits on the row of the segment event that caused it,
  or gets a row of its own when nothing else happened at its time. The gap between rows
  is the elapsed time scaled so that the median one-way delay spans ``DELAY_ROWS`` rows,
  but at least ``row_gap`` above a send (its label band) and ``ARRIVAL_GAP`` above an
  arrival; a pause longer than ``MAX_GAP_ROWS`` rows is drawn that long and the time
  axis marks the break. So arrows slope by their travel time, and no two labels overlap
  whatever the timing: a label sits in the band just above its own send row.
- Compact mode (as Wireshark's Flow Graph): one row per segment in send order, evenly
  spaced, arrows level. A side's state change sits on the row of the segment that side
  sent at that very time (its SYN after connect(), the ACK answering an arrival); any
  other (an arrival nothing answered at once, a timer) gets a thin row of its own at
  its time, before the sends of that instant, so each side's badges read down the lane
  in the order its states were entered, each at the row where it took effect.
- Width: the lanes sit as far apart as the labels (and the legend) want; a narrower
  layout (``max_width``, the window's) brings them closer, down to ``MIN_LANE_GAP``,
  eliding labels, and flows the legend onto more lines.
- A badge never covers another of the same lane: a crowded one moves down and its
  connector points back at the row where the change happened.
- Lookups for painting (``*_between``) are bisections over y-sorted arrays, so a frame
  costs the rows it shows, not the size of the trace.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtGui import QFontMetricsF

from core.report import initial_numbers
from core.tcp.states import Side, TcpState
from core.trace import SegmentRecord, StateChanged, Timeline
from core.trace_columns import SegmentColumns, records_columns, segment_columns
from gui.diagram import style
from gui.diagram.labels import record_label, time_text

MARGIN = 24.0
LABEL_PAD = 10.0          # from a lane to the first character of a label
BADGE_PAD_X = 6.0
BADGE_GAP = 8.0           # between a badge and its lane
MIN_LANE_GAP = 240.0
MAX_LANE_GAP = 720.0
DELAY_ROWS = 2.5          # a median one-way delay spans this many row gaps
MAX_GAP_ROWS = 4.0        # a longer pause is drawn this long, with a break mark
ARRIVAL_GAP = 10.0        # least gap above an arrival row (it carries no label)
LABEL_SAMPLE = 400        # labels measured to choose the lane distance
SEND, ARRIVE, BADGE = 1, 0, 2
EARLY_BADGE = -1          # compact: a change not caused by a send, before sends at its time

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True, slots=True)
class Arrow:
    """One segment: from (x0, y0) on the sender's lane to (x1, y1). ``index`` counts
    the Timeline's segments, then its ghosts (``index - len(segments)``)."""

    index: int
    x0: float
    y0: float
    x1: float
    y1: float
    lost: bool
    ghost: bool
    top: float            # painting bounds, label band included
    bottom: float


@dataclass(frozen=True, slots=True)
class Badge:
    """A state change: drawn at ``y``, pointing at ``anchor`` (the row it happened on)."""

    side: Side
    state: TcpState
    y: float
    anchor: float
    time: float


@dataclass(frozen=True, slots=True)
class LaneSpan:
    """A stretch of one lifeline spent in one state."""

    side: Side
    state: TcpState
    y0: float
    y1: float


@dataclass(frozen=True, slots=True)
class LegendItem:
    """One legend entry: ``kind`` is "segment", "mark" or "phase"; ``key`` the FlagKind,
    "lost", "ghost", Mark or Phase; at ``x`` from the legend's item column, on ``line``."""

    kind: str
    key: object
    text: str
    width: float
    line: int = 0
    x: float = 0.0


@dataclass(frozen=True, slots=True)
class Tick:
    """A time-axis caption at row ``y``; ``break_before`` marks a compressed pause."""

    y: float
    text: str
    break_before: bool


class DiagramLayout:
    """Positions of everything drawn for one Timeline with one set of options."""

    def __init__(self, timeline: Timeline, *, width: float | None = None,
                 max_width: float | None = None, show_title: bool = True,
                 compact: bool = False, absolute: bool = False) -> None:
        """``width`` fixes the width; ``max_width`` narrows a wider natural layout to it
        (closer lanes, labels elided) when the narrowest layout fits in it."""
        self.timeline = timeline
        self.show_title = show_title
        self.compact = compact
        self.absolute = absolute
        self.ghosts = timeline.ghosts
        self.count = len(timeline.segments)
        self._sends_at: dict[tuple[bool, float], int] | None = None
        found = initial_numbers(timeline)
        self.iss: dict[Side, int | None] = (
            {side: 0 for side in Side} if absolute else {side: found.get(side) for side in Side})
        self._metrics()
        self.row_gap = self.label_height + 10.0
        cols = segment_columns(timeline)
        if self.ghosts:
            extra = records_columns(self.ghosts)
            cols = SegmentColumns(
                from_client=np.concatenate([cols.from_client, extra.from_client]),
                sent=np.concatenate([cols.sent, extra.sent]),
                arrived=np.concatenate([cols.arrived, extra.arrived]))
        self.cols = cols
        self._rows()
        self._columns(width, max_width)
        self._finish()

    # ------------------------------------------------------------------ metrics
    def _metrics(self) -> None:
        self.fm_label = QFontMetricsF(style.label_font())
        self.fm_badge = QFontMetricsF(style.badge_font())
        self.fm_axis = QFontMetricsF(style.axis_font())
        self.fm_text = QFontMetricsF(style.text_font())
        self.fm_heading = QFontMetricsF(style.heading_font())
        self.fm_title = QFontMetricsF(style.title_font())
        self.label_height = self.fm_label.height()
        self.badge_height = self.fm_badge.height() + 6.0
        self.badge_width = max(self.fm_badge.horizontalAdvance(s.value)
                               for s in TcpState) + 2 * BADGE_PAD_X

    def record(self, index: int) -> SegmentRecord:
        """Segment ``index`` of the Timeline, or ghost ``index - count``."""
        if index < self.count:
            return self.timeline.segments[index]
        return self.ghosts[index - self.count]

    def label(self, index: int) -> str:
        return record_label(self.record(index), self.iss)

    # --------------------------------------------------------------------- rows
    def _scale(self) -> float:
        """Pixels per second: the median one-way delay spans DELAY_ROWS rows."""
        cols = self.cols
        delays = cols.arrived - cols.sent
        delays = delays[np.isfinite(delays) & (delays > 0)]
        if not delays.size:
            times = np.unique(cols.sent)
            delays = np.diff(times)
        typical = float(np.median(delays)) if delays.size else 1.0
        return DELAY_ROWS * self.row_gap / max(typical, 1e-9)

    def _send_row_of(self, ev: StateChanged) -> int | None:
        """Compact mode: the segment on whose row change ``ev`` goes, the first its side
        sent at the very time of the change (connect() and its SYN, a FIN and its close,
        an arrival and the segment answering it), or None."""
        sends = self._sends_at
        if sends is None:
            cols = self.cols
            sends = {}
            for i, (client, t) in enumerate(zip(cols.from_client.tolist(), cols.sent.tolist(),
                                                strict=True)):
                sends.setdefault((bool(client), float(t)), i)
            self._sends_at = sends
        return sends.get((ev.side is Side.CLIENT, ev.time))

    def _orphan_changes(self, event_times: FloatArray) -> list[StateChanged]:
        """State changes that get a row of their own: timed, those caused by no segment at
        a time when no segment event happened; compact, all but those a send caused."""
        if self.compact:
            return [ev for ev in self._changes if self._send_row_of(ev) is None]
        out = []
        for ev in self._changes:
            if ev.segment is not None and ev.segment < len(self.cols):
                continue
            pos = int(np.searchsorted(event_times, ev.time))
            if pos >= len(event_times) or event_times[pos] != ev.time:
                out.append(ev)
        return out

    def _rows(self) -> None:
        cols = self.cols
        n = len(cols)
        self._changes = self.timeline.state_changes()
        arrived = ~np.isnan(cols.arrived)
        idx = np.arange(n, dtype=np.int64)
        if self.compact:
            seg_times = cols.sent
            seg_kind = np.full(n, SEND, dtype=np.int64)
            seg_ref = idx
        else:
            seg_times = np.concatenate([cols.sent, cols.arrived[arrived]])
            seg_kind = np.concatenate([np.full(n, SEND, dtype=np.int64),
                                       np.full(int(arrived.sum()), ARRIVE, dtype=np.int64)])
            seg_ref = np.concatenate([idx, idx[arrived]])
        sorted_times = np.sort(seg_times)
        orphans = self._orphan_changes(sorted_times)
        times = np.concatenate([seg_times, np.array([o.time for o in orphans], dtype=np.float64)])
        kind = np.concatenate([seg_kind, np.full(len(orphans),
                                                 EARLY_BADGE if self.compact else BADGE,
                                                 dtype=np.int64)])
        ref = np.concatenate([seg_ref, np.arange(len(orphans), dtype=np.int64)])
        order = np.lexsort((ref, kind, times))
        t, k, r = times[order], kind[order], ref[order]
        scale = self._scale()
        self.scale = scale
        cap = MAX_GAP_ROWS * self.row_gap
        least = np.where(k[1:] == SEND, self.row_gap,
                         np.where(k[1:] == ARRIVE, ARRIVAL_GAP, self.badge_height + 4.0))
        if self.compact:
            step = least
            broken = np.zeros(len(least), dtype=bool)
        else:
            span = np.diff(t) * scale
            broken = span > cap
            step = np.maximum(least, np.minimum(span, cap))
        first = self.row_gap * 0.5 + self.badge_height + self.label_height + 8.0
        y = first + np.concatenate([[0.0], np.cumsum(step)]) if len(t) else np.zeros(0)
        self.initial_y = self.row_gap * 0.5
        sent_y = np.zeros(n)
        end_y = np.full(n, np.nan)
        is_send = k == SEND
        sent_y[r[is_send]] = y[is_send]
        if self.compact:
            end_y[:] = sent_y
        else:
            is_arr = k == ARRIVE
            end_y[r[is_arr]] = y[is_arr]
        self._sent_y, self._end_y = sent_y, end_y
        self.row_y: FloatArray = y
        self.row_t: FloatArray = t
        self._row_broken = np.concatenate([[False], broken]) if len(t) else np.zeros(0, bool)
        orphan_y = {id(orphans[int(r[pos])]): float(y[pos])
                    for pos in np.flatnonzero((k == BADGE) | (k == EARLY_BADGE)).tolist()}
        self._badges(orphan_y)
        last_row = float(y[-1]) if len(y) else self.initial_y
        self.rows_bottom = last_row + self.row_gap * 1.5

    def _badges(self, orphan_y: dict[int, float]) -> None:
        tl, cols = self.timeline, self.cols
        raw: list[tuple[float, Side, TcpState, float]] = [
            (self.initial_y, Side.CLIENT, tl.initial[0], tl.start),
            (self.initial_y, Side.SERVER, tl.initial[1], tl.start)]
        for ev in self._changes:
            y = orphan_y.get(id(ev))
            if y is None and self.compact:
                row = self._send_row_of(ev)
                y = None if row is None else float(self._sent_y[row])
            if y is None and ev.segment is not None and ev.segment < len(cols):
                s = ev.segment
                if not self.compact and cols.arrived[s] == ev.time:
                    y = float(self._end_y[s])
                elif cols.sent[s] == ev.time:
                    y = float(self._sent_y[s])
            if y is None:
                y = self._row_y_at(ev.time)
            raw.append((y, ev.side, ev.new, ev.time))
        # each side's badges in the order its states were entered (the changes' order:
        # by time, ties as they happened), each at or below its row (rows at one instant
        # need not be in the order their changes happened)
        raw.sort(key=lambda b: b[3])
        least = self.badge_height + 2.0
        last: dict[Side, float] = {}
        badges = []
        for anchor, side, state, time in raw:
            y = max(anchor, last.get(side, -math.inf) + least)
            last[side] = y
            badges.append(Badge(side=side, state=state, y=y, anchor=anchor, time=time))
        badges.sort(key=lambda b: b.y)
        self.badges = badges

    def _row_y_at(self, time: float) -> float:
        """y of the last row at or before ``time``, interpolated towards the next."""
        t, y = self.row_t, self.row_y
        if not len(t):
            return self.initial_y
        i = int(np.searchsorted(t, time, side="right")) - 1
        if i < 0:
            return float(y[0])
        if i >= len(t) - 1 or t[i + 1] == t[i]:
            return float(y[i])
        frac = (time - t[i]) / (t[i + 1] - t[i])
        return float(y[i] + (y[i + 1] - y[i]) * frac)

    # ------------------------------------------------------------------ columns
    def _columns(self, width: float | None, max_width: float | None) -> None:
        self.axis_width = max(self.fm_axis.horizontalAdvance("00\u2009000\u2009000.0"),
                              self.fm_axis.horizontalAdvance("time (ms)")) + 8.0
        sample = range(min(LABEL_SAMPLE, self.count))
        widest = max((self.fm_label.horizontalAdvance(self.label(i)) for i in sample),
                     default=0.0)
        natural = min(MAX_LANE_GAP, max(MIN_LANE_GAP, widest + 2 * LABEL_PAD + 24.0))
        fixed = 2 * MARGIN + self.axis_width + 2 * (self.badge_width + BADGE_GAP) + 12.0
        self._legend_items()
        natural = max(natural, self.legend_width - fixed)
        self.min_width = fixed + MIN_LANE_GAP
        self.natural_width = fixed + natural
        if width is not None:
            if width < self.min_width:
                raise ValueError(f"width {width:g} is too small; "
                                 f"the diagram needs at least {self.min_width:g} px")
            self.lane_gap = width - fixed
        elif max_width is not None and max_width < self.natural_width:
            self.lane_gap = max(max_width, self.min_width) - fixed
        else:
            self.lane_gap = natural
        self.axis_right = MARGIN + self.axis_width
        self.client_x = self.axis_right + 12.0 + self.badge_width + BADGE_GAP
        self.server_x = self.client_x + self.lane_gap
        self.width = self.server_x + BADGE_GAP + self.badge_width + MARGIN
        self.label_max_width = self.lane_gap - 2 * LABEL_PAD - 16.0
        self._flow_legend()

    def _legend_items(self) -> None:
        """The legend's entries in three groups (segment kinds, marks of analysis labels,
        state phases) and its width on three lines."""
        fm = self.fm_text
        swatch = 26.0
        kinds: list[tuple[object, str]] = [(k, k.value) for k in style.FlagKind]
        kinds += [("lost", "lost"), ("ghost", "not captured")]
        segments = [LegendItem("segment", key, text, swatch + 6.0 + fm.horizontalAdvance(text))
                    for key, text in kinds]
        shown = style.MARKS + ((style.UNCERTAIN,) if self.timeline.uncertain else ())
        marks = [LegendItem("mark", mark, mark.meaning,
                            style.MARK_SIZE + 6.0 + fm.horizontalAdvance(mark.meaning))
                 for mark in shown]
        phases = [LegendItem("phase", phase, phase.value,
                             self.fm_badge.horizontalAdvance(phase.value) + 2 * BADGE_PAD_X)
                  for phase in style.Phase]
        self._legend_groups = (("Segments", segments, 18.0), ("Marks", marks, 18.0),
                               ("States", phases, 10.0))
        self.legend_swatch = swatch
        self.legend_caption_width = fm.horizontalAdvance("Segments") + 12.0
        longest = max(sum(item.width + gap for item in items) for _, items, gap
                      in self._legend_groups)
        self.legend_width = self.legend_caption_width + longest + 2 * MARGIN

    def _flow_legend(self) -> None:
        """Place the legend's entries in this layout's width: each group starts a line
        under its caption and wraps onto more lines when the layout is narrower."""
        room = self.width - 2 * MARGIN - self.legend_caption_width
        line = 0
        self.legend_captions: list[tuple[int, str]] = []
        self.legend: list[LegendItem] = []
        for caption, items, gap in self._legend_groups:
            self.legend_captions.append((line, caption))
            x = 0.0
            for item in items:
                if x > 0 and x + item.width > room:
                    line, x = line + 1, 0.0
                self.legend.append(LegendItem(item.kind, item.key, item.text, item.width,
                                              line, x))
                x += item.width + gap
            line += 1
        self.legend_lines = line
        # (x, mark) of the marks, in legend order (tests, and the mark glyphs' order)
        self.legend_marks: list[tuple[float, style.Mark]] = [
            (item.x, item.key) for item in self.legend if isinstance(item.key, style.Mark)]

    # ------------------------------------------------------------------- finish
    def _finish(self) -> None:
        """Stack title, legend and lane headings above the rows; shift rows down."""
        top = MARGIN
        if self.show_title:
            self.title_y = top
            top += self.fm_title.height() + 4.0
            self.subtitle_y = top
            top += self.fm_text.height() + 12.0
        self.legend_y = top
        self.legend_line = self.badge_height + 6.0
        top += self.legend_lines * self.legend_line + 10.0
        self.heading_y = top
        top += self.fm_heading.height() + self.fm_text.height() + 6.0
        self.lanes_top = top
        dy = top
        self.initial_y += dy
        self.badges = [Badge(side=b.side, state=b.state, y=b.y + dy, anchor=b.anchor + dy,
                             time=b.time) for b in self.badges]
        self.row_y = self.row_y + dy
        self._sent_y = self._sent_y + dy
        self._end_y = self._end_y + dy
        self.rows_bottom += dy
        self.height = self.rows_bottom + MARGIN
        self._arrows()
        self._ticks()
        self._spans()

    def _arrows(self) -> None:
        cols = self.cols
        lost = np.isnan(cols.arrived)
        lost_drop = 0.0 if self.compact else max(ARRIVAL_GAP, 0.5 * DELAY_ROWS * self.row_gap)
        y0 = self._sent_y
        y1 = np.where(lost, y0 + lost_drop, self._end_y)
        self._y0, self._y1, self._lost = y0, y1, lost
        top = np.minimum(y0, y1) - self.label_height - 6.0
        bottom = np.maximum(y0, y1) + 6.0
        order = np.argsort(top, kind="stable")
        self._order: IntArray = order
        self._tops: FloatArray = top[order]
        self._bottoms: FloatArray = bottom
        # running maximum of bottoms: the first arrow that can reach below y
        self._reach: FloatArray = np.maximum.accumulate(bottom[order]) if len(order) else bottom
        self.badges.sort(key=lambda b: b.y)
        self._badge_ys = [b.y for b in self.badges]

    def _ticks(self) -> None:
        """A caption on every row with a new time, skipping rows too close to the last
        caption or that would repeat its text; a break mark goes on the first caption
        after a compressed pause."""
        least = self.fm_axis.height() + 2.0
        ys: list[float] = []
        keep: list[int] = []
        breaks: list[bool] = []
        last_y = -math.inf
        last_t = math.nan
        pending_break = False
        start = self.timeline.start
        last_text = ""
        for i, (y, t, broken) in enumerate(zip(self.row_y.tolist(), self.row_t.tolist(),
                                               self._row_broken.tolist(), strict=True)):
            pending_break = pending_break or broken
            if t == last_t or y - last_y < least:
                continue
            text = time_text(t - start)
            if text == last_text:
                continue
            last_text = text
            ys.append(y)
            keep.append(i)
            breaks.append(pending_break)
            pending_break = False
            last_y, last_t = y, t
        self._tick_ys = ys
        self._tick_rows = keep
        self._tick_breaks = breaks

    def _spans(self) -> None:
        spans: list[LaneSpan] = []
        for side in Side:
            mine = [b for b in self.badges if b.side is side]
            for this, nxt in zip(mine, [*mine[1:], None], strict=True):
                y1 = nxt.anchor if nxt is not None else self.rows_bottom
                spans.append(LaneSpan(side=side, state=this.state, y0=this.anchor, y1=y1))
        spans.sort(key=lambda s: s.y0)
        self.spans = spans

    # ------------------------------------------------------------------ lookups
    @property
    def arrows(self) -> list[Arrow]:
        """Every arrow (builds them all: for tests and small diagrams)."""
        return [self.arrow(i) for i in range(len(self.cols))]

    def arrow(self, index: int) -> Arrow:
        cols = self.cols
        client = bool(cols.from_client[index])
        x0 = self.client_x if client else self.server_x
        x1 = self.server_x if client else self.client_x
        lost = bool(self._lost[index])
        if lost:
            x1 = (self.client_x + self.server_x) / 2
        y0, y1 = float(self._y0[index]), float(self._y1[index])
        return Arrow(index=index, x0=x0, y0=y0, x1=x1, y1=y1, lost=lost,
                     ghost=index >= self.count, top=min(y0, y1) - self.label_height - 6.0,
                     bottom=float(self._bottoms[index]))

    def indices_between(self, top: float, bottom: float) -> IntArray:
        """Indices of the arrows whose painting bounds meet [top, bottom]."""
        start = int(np.searchsorted(self._reach, top, side="left"))
        stop = int(np.searchsorted(self._tops, bottom, side="right"))
        cand = self._order[start:stop]
        return cand[self._bottoms[cand] >= top]

    def arrows_between(self, top: float, bottom: float) -> list[Arrow]:
        return [self.arrow(int(i)) for i in self.indices_between(top, bottom)]

    def badges_between(self, top: float, bottom: float) -> list[Badge]:
        half = self.badge_height
        lo = bisect.bisect_left(self._badge_ys, top - half)
        hi = bisect.bisect_right(self._badge_ys, bottom + half)
        return self.badges[lo:hi]

    def ticks_between(self, top: float, bottom: float) -> list[Tick]:
        pad = self.row_gap * MAX_GAP_ROWS  # a break mark sits above its tick
        lo = bisect.bisect_left(self._tick_ys, top - pad)
        hi = bisect.bisect_right(self._tick_ys, bottom + pad)
        start = self.timeline.start
        return [Tick(y=self._tick_ys[j], text=time_text(float(self.row_t[self._tick_rows[j]])
                                                        - start),
                     break_before=self._tick_breaks[j]) for j in range(lo, hi)]

    def spans_between(self, top: float, bottom: float) -> list[LaneSpan]:
        # few spans per lane (one per state change); a linear filter is enough
        return [s for s in self.spans if s.y1 >= top and s.y0 <= bottom]

    def lane_x(self, side: Side) -> float:
        return self.client_x if side is Side.CLIENT else self.server_x

    def y_at(self, time: float) -> float:
        """The cursor's y at animation time ``time`` (after the last row: by the time
        scale, never past the bottom)."""
        if len(self.row_t) and time > self.row_t[-1]:
            extra = (time - float(self.row_t[-1])) * (0.0 if self.compact else self.scale)
            return min(float(self.row_y[-1]) + extra, self.rows_bottom)
        if len(self.row_t) and time < self.row_t[0]:
            return self.initial_y
        return self._row_y_at(time)

    def time_at(self, y: float) -> float:
        """The animation time shown at ``y`` (the inverse of :meth:`y_at` on rows)."""
        if not len(self.row_y):
            return self.timeline.start
        return float(np.interp(y, self.row_y, self.row_t))

    def hit(self, x: float, y: float, tolerance: float = 6.0) -> int | None:
        """The arrow (or its label) under (x, y), nearest first; None if none."""
        best: tuple[float, int] | None = None
        for i in self.indices_between(y - tolerance, y + tolerance).tolist():
            a = self.arrow(i)
            dist = _distance(x, y, a)
            label_left = a.x0 + LABEL_PAD if a.x1 > a.x0 else a.x0 - LABEL_PAD - self.lane_gap / 2
            on_label = (a.y0 - self.label_height - 4 <= y <= a.y0
                        and label_left <= x <= label_left + self.lane_gap / 2)
            if on_label:
                dist = min(dist, tolerance / 2)
            if dist <= tolerance and (best is None or dist < best[0]):
                best = (dist, i)
        return None if best is None else best[1]


def _distance(x: float, y: float, a: Arrow) -> float:
    dx, dy = a.x1 - a.x0, a.y1 - a.y0
    length2 = dx * dx + dy * dy
    u = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - a.x0) * dx + (y - a.y0) * dy) / length2))
    return math.hypot(a.x0 + u * dx - x, a.y0 + u * dy - y)
