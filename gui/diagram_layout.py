"""Geometry of the two-lane diagram: where every lane, row, arrow and badge goes.

Rules:
- Computed once per Timeline (and width); painting only reads it and never measures.
- Vertical axis: *rows*, not a linear clock. Every sent, arrived or lost segment gets a
  row of its own, in the Timeline's event order. A state change joins the latest row
  when it happened at the same time and that side has no badge there yet; a segment
  joins the latest row when it happened at the same time and that row holds only
  badges (so SYN_SENT and its SYN, or LISTEN and the SYN sent meanwhile, share a row).
  The gap between consecutive rows is the elapsed time scaled so that the median
  one-way delay spans ``DELAY_ROWS`` rows, but never less than ``row_gap`` (one label
  line plus air); a pause longer than ``MAX_GAP_ROWS`` rows is drawn that long and the
  time axis marks the break, so a compressed pause is still the longest gap drawn.
  So arrows slope by their travel time, yet no two labels overlap, whatever the
  timing: a label sits in the band just above its own row, and rows carrying segments
  are at least one label band apart. Simultaneous segments (an arrival and the send it
  triggers) get distinct rows, so a reply's label never sits on the incoming arrow.
- Lookups for painting (``*_between``) are bisections over y-sorted lists, so a frame
  costs the rows it shows, not the size of the trace.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field
from itertools import accumulate

from PySide6.QtGui import QFontMetricsF

from core.states import Side, TcpState
from core.trace import SegmentArrived, SegmentLost, SegmentSent, StateChanged, Timeline
from gui import style
from gui.labels import initial_sequence_numbers, record_label, time_text

MARGIN = 24.0
LABEL_PAD = 10.0          # from a lane to the first character of a label
BADGE_PAD_X = 6.0
BADGE_GAP = 8.0           # between a badge and its lane
MIN_LANE_GAP = 360.0
MAX_LANE_GAP = 720.0
DELAY_ROWS = 2.5          # a median one-way delay spans this many row gaps
MAX_GAP_ROWS = 4.0        # a longer pause is drawn this long, with a break mark
LABEL_SAMPLE = 2000       # labels measured to choose the lane distance


@dataclass(frozen=True, slots=True)
class Arrow:
    """One segment: from (x0, y0) on the sender's lane to (x1, y1)."""

    index: int
    x0: float
    y0: float
    x1: float
    y1: float
    lost: bool
    top: float            # painting bounds, label band included
    bottom: float


@dataclass(frozen=True, slots=True)
class Badge:
    side: Side
    state: TcpState
    y: float


@dataclass(frozen=True, slots=True)
class LaneSpan:
    """A stretch of one lifeline spent in one state."""

    side: Side
    state: TcpState
    y0: float
    y1: float


@dataclass(slots=True)
class _Row:
    """The row being filled while rows are assigned."""

    y: float
    time: float
    has_segment: bool = False
    badge_sides: set[Side] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Tick:
    """A time-axis caption at row ``y``; ``break_before`` marks a compressed pause."""

    y: float
    text: str
    break_before: bool


class DiagramLayout:
    """Positions of everything drawn for one Timeline at one width."""

    def __init__(self, timeline: Timeline, *, width: float | None = None,
                 show_title: bool = True) -> None:
        self.timeline = timeline
        self.show_title = show_title
        self._metrics()
        self.iss = initial_sequence_numbers(timeline)
        self.row_gap = max(self.label_height, self.badge_height) + 10.0
        self._rows()
        self._columns(width)
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

    # --------------------------------------------------------------------- rows
    def _pixels_per_second(self) -> float:
        delays = [r.arrived - r.sent for r in self.timeline.segments
                  if r.arrived is not None and r.arrived > r.sent]
        if not delays:
            times = sorted({e.time for e in self.timeline.events})
            delays = [b - a for a, b in zip(times, times[1:], strict=False)]
        typical = statistics.median(delays) if delays else 1.0
        return DELAY_ROWS * self.row_gap / typical

    def _rows(self) -> None:
        """Assign a y to every row event; see the module docstring for the rule."""
        tl = self.timeline
        scale = self._pixels_per_second()
        self.content_top = 0.0           # shifted in _finish once the header is known
        self.initial_y = self.row_gap * 0.5
        y = self.initial_y + self.badge_height * 0.5 + self.label_height + 8.0
        sent_y: dict[int, float] = {}
        end_y: dict[int, float] = {}
        badges: list[Badge] = [Badge(side=Side.CLIENT, state=tl.initial[0], y=self.initial_y),
                               Badge(side=Side.SERVER, state=tl.initial[1], y=self.initial_y)]
        ticks: list[Tick] = []
        last: _Row | None = None

        for ev in tl.events:
            is_segment = isinstance(ev, SegmentSent | SegmentArrived | SegmentLost)
            if not is_segment and not isinstance(ev, StateChanged):
                continue
            joins = last is not None and last.time == ev.time and (
                not last.has_segment if is_segment else ev.side not in last.badge_sides)
            if last is None or not joins:
                compressed = False
                if last is None:
                    row_y = y
                else:
                    step = (ev.time - last.time) * scale
                    if step > MAX_GAP_ROWS * self.row_gap:
                        step, compressed = MAX_GAP_ROWS * self.row_gap, True
                    row_y = last.y + max(self.row_gap, step)
                if last is None or ev.time != last.time:
                    ticks.append(Tick(y=row_y, text=time_text(ev.time - tl.start),
                                      break_before=compressed))
                last = _Row(y=row_y, time=ev.time)
            row_y = last.y
            if isinstance(ev, SegmentSent):
                sent_y[ev.index] = row_y
            elif isinstance(ev, SegmentArrived | SegmentLost):
                end_y[ev.index] = row_y
            elif isinstance(ev, StateChanged):
                badges.append(Badge(side=ev.side, state=ev.new, y=row_y))
                last.badge_sides.add(ev.side)
            last.has_segment = last.has_segment or is_segment

        self._sent_y = sent_y
        self._end_y = end_y
        self.badges = badges
        self.ticks = ticks
        last_row = last.y if last is not None else self.initial_y
        self.rows_bottom = last_row + self.row_gap * 1.5

    # ------------------------------------------------------------------ columns
    def _columns(self, width: float | None) -> None:
        tick_w = max((self.fm_axis.horizontalAdvance(t.text) for t in self.ticks), default=0.0)
        self.axis_width = max(tick_w, self.fm_axis.horizontalAdvance("time (ms)")) + 8.0
        records = self.timeline.segments[:LABEL_SAMPLE]
        widest = max((self.fm_label.horizontalAdvance(record_label(r, self.iss))
                      for r in records), default=0.0)
        natural = min(MAX_LANE_GAP, max(MIN_LANE_GAP, widest + 2 * LABEL_PAD + 24.0))
        fixed = 2 * MARGIN + self.axis_width + 2 * (self.badge_width + BADGE_GAP) + 12.0
        self._legend_items()
        natural = max(natural, self.legend_width - fixed)
        if width is None:
            self.lane_gap = natural
        else:
            if width - fixed < MIN_LANE_GAP:
                raise ValueError(f"width {width:g} is too small; "
                                 f"the diagram needs at least {fixed + MIN_LANE_GAP:g} px")
            self.lane_gap = width - fixed
        self.axis_right = MARGIN + self.axis_width
        self.client_x = self.axis_right + 12.0 + self.badge_width + BADGE_GAP
        self.server_x = self.client_x + self.lane_gap
        self.width = self.server_x + BADGE_GAP + self.badge_width + MARGIN
        self.label_max_width = self.lane_gap - 2 * LABEL_PAD - 16.0

    def _legend_items(self) -> None:
        """Two legend lines: segment kinds (and marks), then state phases."""
        fm = self.fm_text
        swatch = 26.0
        kinds: list[tuple[object, str]] = [(k, k.value) for k in style.FlagKind]
        kinds += [("lost", "lost"), ("ghost", "not captured")]
        x = 0.0
        self.legend_kinds: list[tuple[float, object, str]] = []
        for key, text in kinds:
            self.legend_kinds.append((x, key, text))
            x += swatch + 6.0 + fm.horizontalAdvance(text) + 18.0
        line1 = x
        self.legend_phases: list[tuple[float, style.Phase, float]] = []
        x = 0.0
        for phase in style.Phase:
            w = self.fm_badge.horizontalAdvance(phase.value) + 2 * BADGE_PAD_X
            self.legend_phases.append((x, phase, w))
            x += w + 10.0
        self.legend_swatch = swatch
        self.legend_caption_width = fm.horizontalAdvance("Segments") + 12.0
        self.legend_width = self.legend_caption_width + max(line1, x) + 2 * MARGIN

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
        top += 2 * (self.badge_height + 6.0) + 10.0
        self.heading_y = top
        top += self.fm_heading.height() + self.fm_text.height() + 6.0
        self.lanes_top = top
        dy = top
        self.initial_y += dy
        self.badges = [Badge(side=b.side, state=b.state, y=b.y + dy) for b in self.badges]
        self.ticks = [Tick(y=t.y + dy, text=t.text, break_before=t.break_before)
                      for t in self.ticks]
        self.rows_bottom += dy
        self.height = self.rows_bottom + MARGIN
        self._arrows(dy)
        self._spans()

    def _arrows(self, dy: float) -> None:
        arrows: list[Arrow] = []
        mid = (self.client_x + self.server_x) / 2
        for rec in self.timeline.segments:
            x0 = self.client_x if rec.sender is Side.CLIENT else self.server_x
            x1 = self.server_x if rec.sender is Side.CLIENT else self.client_x
            y0 = self._sent_y[rec.index] + dy
            end = self._end_y.get(rec.index)
            y1 = (end if end is not None else self._sent_y[rec.index] + self.row_gap) + dy
            if rec.lost:
                x1 = mid
            arrows.append(Arrow(index=rec.index, x0=x0, y0=y0, x1=x1, y1=y1, lost=rec.lost,
                                top=min(y0, y1) - self.label_height - 6.0,
                                bottom=max(y0, y1) + 6.0))
        arrows.sort(key=lambda a: a.top)
        self.arrows = arrows
        self._arrow_tops = [a.top for a in arrows]
        # running maximum of bottoms: the first arrow that can reach below y
        self._arrow_reach = list(accumulate((a.bottom for a in arrows), max))
        self._badge_ys = [b.y for b in sorted(self.badges, key=lambda b: b.y)]
        self.badges.sort(key=lambda b: b.y)
        self._tick_ys = [t.y for t in self.ticks]

    def _spans(self) -> None:
        spans: list[LaneSpan] = []
        for side in Side:
            mine = [b for b in self.badges if b.side is side]
            for this, nxt in zip(mine, mine[1:] + [None], strict=False):
                y1 = nxt.y if nxt is not None else self.rows_bottom
                spans.append(LaneSpan(side=side, state=this.state, y0=this.y, y1=y1))
        spans.sort(key=lambda s: s.y0)
        self.spans = spans

    # ------------------------------------------------------------------ lookups
    def arrows_between(self, top: float, bottom: float) -> list[Arrow]:
        """Arrows whose painting bounds meet the band [top, bottom]."""
        start = bisect.bisect_left(self._arrow_reach, top)
        stop = bisect.bisect_right(self._arrow_tops, bottom)
        return [a for a in self.arrows[start:stop] if a.bottom >= top]

    def badges_between(self, top: float, bottom: float) -> list[Badge]:
        half = self.badge_height
        lo = bisect.bisect_left(self._badge_ys, top - half)
        hi = bisect.bisect_right(self._badge_ys, bottom + half)
        return self.badges[lo:hi]

    def ticks_between(self, top: float, bottom: float) -> list[Tick]:
        pad = self.row_gap * MAX_GAP_ROWS  # a break mark sits above its tick
        lo = bisect.bisect_left(self._tick_ys, top - pad)
        hi = bisect.bisect_right(self._tick_ys, bottom + pad)
        return self.ticks[lo:hi]

    def spans_between(self, top: float, bottom: float) -> list[LaneSpan]:
        # few spans per lane (one per state change); a linear filter is enough
        return [s for s in self.spans if s.y1 >= top and s.y0 <= bottom]

    def lane_x(self, side: Side) -> float:
        return self.client_x if side is Side.CLIENT else self.server_x
