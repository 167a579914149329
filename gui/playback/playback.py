"""The playback cursor over one Timeline: play, pause, step, seek, speed.

Rules:
- The cursor is an animation time on the Timeline's clock, from its first event to
  :func:`core.cursor.animation_end` (past the last packet when a TIME_WAIT countdown
  still runs).
- *Stops* are the times something happens: every send, arrival and state change, and
  the end (a TIME_WAIT deadline past the last event). Stepping goes to the next or
  previous stop; the segment of a stop is the last segment sent or arriving by then.
- Two ways to play: ``real time`` (the cursor moves ``speed`` animation seconds per wall
  second) and ``step`` (one stop every 1/speed wall seconds). Speed is 0.1x to 100x.
- The controller owns the only clock (a QTimer ticking ``TICK_MS``); tests move time
  with :meth:`advance` instead of waiting.
- The scrubber's scale (:meth:`fraction`, :meth:`seek_fraction`) is the capture, not the
  clock: between two stops it is linear, but a pause longer than ``IDLE_GAPS`` typical
  gaps between stops counts as that many (as the diagram's axis breaks do), a gap shorter
  than a quarter of a typical one as a quarter, and a TIME_WAIT running past the last
  event is a tail of at most ``TAIL_SHARE`` of the bar. So a 1.5 s exchange followed by
  60 s of TIME_WAIT fills most of the bar, and every stop has a place of its own.
"""

from __future__ import annotations

import bisect
from enum import Enum

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from core import cursor as core_cursor
from core.trace import Timeline
from core.trace_columns import segment_columns

SPEED_MIN, SPEED_MAX = 0.1, 100.0
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0)
TICK_MS = 16
IDLE_GAPS = 3.0
TAIL_SHARE = 0.12


class Pacing(Enum):
    REAL_TIME = "real time"
    STEP = "one segment per step"


class PlaybackController(QObject):
    """A cursor over one Timeline.

    Signals:
        moved(float): the cursor moved to this animation time.
        stepped(int): a step or seek landed on a stop of this segment (-1: none).
        started(): playing began.
        paused(): playing stopped (by pause or at the end).
        finished(): the cursor reached the end while playing.
        speed_changed(float): the speed factor changed.
        pacing_changed(object): the pacing (a :class:`Pacing`) changed.
    """

    moved = Signal(float)
    stepped = Signal(int)
    started = Signal()
    paused = Signal()
    finished = Signal()
    speed_changed = Signal(float)
    pacing_changed = Signal(object)

    def __init__(self, timeline: Timeline, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timeline = timeline
        self._start = timeline.start
        self._end = max(core_cursor.animation_end(timeline), self._start)
        self._build_stops()
        self._time = self._start
        self._speed = 1.0
        self._pacing = Pacing.REAL_TIME
        self._step_debt = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._on_tick)
        self._clock = QElapsedTimer()

    def _build_stops(self) -> None:
        cols = segment_columns(self._timeline)
        idx = np.arange(len(cols), dtype=np.int64)
        done = ~np.isnan(cols.arrived)
        times = np.concatenate([cols.sent, cols.arrived[done]])
        refs = np.concatenate([idx, idx[done]])
        # state changes, and the end: where a TIME_WAIT still running at the last
        # event expires
        extra = [ev.time for ev in self._timeline.state_changes()] + [self._end]
        times = np.concatenate([times, np.array(extra, dtype=np.float64)])
        refs = np.concatenate([refs, np.full(len(extra), -1, dtype=np.int64)])
        order = np.lexsort((refs, times))       # at one time: segment events last
        times, refs = times[order], refs[order]
        # the segment of a stop: the last segment sent or arriving at or before it
        latest = np.maximum.accumulate(np.where(refs >= 0, np.arange(len(refs)), -1))
        seg = np.where(latest >= 0, refs[latest], -1)
        last = np.r_[times[1:] != times[:-1], True]   # one stop per time (never empty:
        times, seg = times[last], seg[last]           # the end is always a stop)
        keep = (times >= self._start) & (times <= self._end)
        self._stops: list[float] = times[keep].tolist()
        self._stop_segment: list[int] = seg[keep].tolist()
        self._build_scale()

    def _build_scale(self) -> None:
        """The scrubber's knots: times and their positions in [0, 1] (module rules)."""
        knots = np.unique(np.array([self._start, *self._stops, self._end], dtype=np.float64))
        gaps = np.diff(knots)
        self._knot_t: list[float] = [self._start]
        self._knot_f: list[float] = [0.0]
        if not len(gaps):
            return
        cols = segment_columns(self._timeline)
        ends = np.concatenate([cols.sent, cols.arrived[~np.isnan(cols.arrived)]])
        last_segment = float(ends.max()) if len(ends) else self._start
        tail = knots[1:] > last_segment           # gaps after the last send or arrival
        body = gaps[~tail]
        typical = float(np.median(body if len(body) else gaps))
        floor = typical / 4
        weights = np.clip(gaps, floor, IDLE_GAPS * typical)
        if tail.any() and len(body):
            # what is left after the last segment (TIME_WAIT draining): one stretch of at
            # most TAIL_SHARE of the bar, its gaps in proportion to their time
            rest = float(weights[~tail].sum())
            room = TAIL_SHARE / (1 - TAIL_SHARE) * rest
            span = float(gaps[tail].sum())
            share = min(span, room) / span if span > 0 else 0.0
            weights[tail] = np.maximum(gaps[tail] * share, floor)
        place = np.concatenate([[0.0], np.cumsum(weights)])
        self._knot_t = knots.tolist()
        self._knot_f = (place / place[-1]).tolist()

    # ------------------------------------------------------------ properties
    @property
    def timeline(self) -> Timeline:
        return self._timeline

    @property
    def time(self) -> float:
        return self._time

    @property
    def start_time(self) -> float:
        return self._start

    @property
    def end_time(self) -> float:
        return self._end

    @property
    def stops(self) -> list[float]:
        return list(self._stops)

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def pacing(self) -> Pacing:
        return self._pacing

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def fraction(self) -> float:
        """Where the cursor is on the scrubber, from start (0) to end (1)."""
        return self.fraction_of(self._time)

    def fraction_of(self, time: float) -> float:
        """Where ``time`` is on the scrubber's scale (module rules)."""
        return _interpolate(time, self._knot_t, self._knot_f)

    def time_of(self, fraction: float) -> float:
        """The time at ``fraction`` of the scrubber (the inverse of :meth:`fraction_of`)."""
        return _interpolate(fraction, self._knot_f, self._knot_t)

    def segment_at_cursor(self) -> int:
        """The last segment sent or arriving at or before the cursor (-1 if none)."""
        pos = bisect.bisect_right(self._stops, self._time) - 1
        return self._stop_segment[pos] if pos >= 0 else -1

    # --------------------------------------------------------------- control
    def seek(self, time: float) -> None:
        """Move the cursor to ``time`` (clamped to the animation)."""
        time = min(max(time, self._start), self._end)
        if time != self._time:
            self._time = time
            self.moved.emit(time)

    def seek_fraction(self, fraction: float) -> None:
        """Seek to a place on the scrubber (its scale, not the clock's)."""
        self.seek(self.time_of(fraction))

    def _land(self, pos: int) -> None:
        self.seek(self._stops[pos])
        self.stepped.emit(self._stop_segment[pos])

    def step_forward(self) -> bool:
        """To the next stop; False at the end."""
        pos = bisect.bisect_right(self._stops, self._time)
        if pos >= len(self._stops):
            if self._time < self._end:
                self.seek(self._end)
                return True
            return False
        self._land(pos)
        return True

    def step_back(self) -> bool:
        """To the previous stop; False at the start."""
        pos = bisect.bisect_left(self._stops, self._time) - 1
        if pos < 0:
            if self._time > self._start:
                self.seek(self._start)
                return True
            return False
        self._land(pos)
        return True

    def to_start(self) -> None:
        self.pause()
        self.seek(self._start)

    def to_end(self) -> None:
        self.pause()
        self.seek(self._end)

    def set_speed(self, factor: float) -> None:
        factor = min(SPEED_MAX, max(SPEED_MIN, factor))
        if factor != self._speed:
            self._speed = factor
            self.speed_changed.emit(factor)

    def faster(self) -> None:
        pos = bisect.bisect_right(SPEEDS, self._speed + 1e-9)
        self.set_speed(SPEEDS[min(pos, len(SPEEDS) - 1)])

    def slower(self) -> None:
        pos = bisect.bisect_left(SPEEDS, self._speed - 1e-9) - 1
        self.set_speed(SPEEDS[max(pos, 0)])

    def set_pacing(self, pacing: Pacing) -> None:
        if pacing is not self._pacing:
            self._pacing = pacing
            self._step_debt = 0.0
            self.pacing_changed.emit(pacing)

    def play(self) -> None:
        if self.playing:
            return
        if self._time >= self._end:
            self.seek(self._start)
        self._step_debt = 0.0
        self._clock.start()
        self._timer.start()
        self.started.emit()

    def pause(self) -> None:
        if self.playing:
            self._timer.stop()
            self.paused.emit()

    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def _on_tick(self) -> None:
        elapsed = self._clock.restart() / 1000.0
        self.advance(elapsed)

    def advance(self, wall_seconds: float) -> None:
        """Play forward as ``wall_seconds`` of wall time would (the timer calls this)."""
        if self._pacing is Pacing.REAL_TIME:
            self.seek(self._time + wall_seconds * self._speed)
        else:
            self._step_debt += wall_seconds * self._speed
            while self._step_debt >= 1.0 and self._time < self._end:
                self._step_debt -= 1.0
                self.step_forward()
        if self._time >= self._end and self.playing:
            self._timer.stop()
            self.paused.emit()
            self.finished.emit()


def _interpolate(x: float, xs: list[float], ys: list[float]) -> float:
    """Piecewise linear ``ys`` over ascending ``xs``, clamped at both ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x) - 1
    x0, x1 = xs[i], xs[i + 1]
    return ys[i] + (ys[i + 1] - ys[i]) * ((x - x0) / (x1 - x0) if x1 > x0 else 0.0)
