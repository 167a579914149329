"""Facts of a Timeline at an animation time ``t`` (seconds on the Timeline's clock).

    window_at(timeline, side, t) -> WindowSnapshot | None
    window_facts_at(timeline, side, t) -> WindowAt | None
    window_after(timeline, side, index) -> WindowAt | None
    time_wait_at(timeline, side, t) -> Countdown | None
    displayed_state_at(timeline, side, t) -> TcpState
    animation_end(timeline) -> float

:class:`Cursor` holds the indexes behind these; the functions reuse one per Timeline
(a few recent Timelines are kept). Views build their own ``Cursor`` once.

Rules:
1. A fact at ``t`` includes everything that happened at exactly ``t``, as
   :meth:`core.trace.Timeline.state_at` does.
2. Window bookkeeping comes from ``WindowChanged`` events when the Timeline records them
   (a simulation: exact times, ``buffers_known``). Otherwise (a replay) it is the
   Timeline's window series (``Timeline.windows``: each side's numbers as they changed,
   in time order); a capture does not show the buffers, so ``rcv_buffered`` and
   ``snd_queued`` are 0 meaning "not known" and ``buffers_known`` is False.
3. Queries bisect indexes built once per Timeline. A lazy Timeline (a replay) is never
   walked whole: only its events from the first TIME_WAIT on are read, once; recorded
   (tuple) events are scanned once.
4. TIME_WAIT ends at its timer's deadline even when the Timeline has no event for it (a
   capture ends first): from the deadline on, the side is shown CLOSED.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass

from core.tcp.states import Side, TcpState, Timer, Trigger
from core.trace import (
    Event,
    StateChanged,
    Timeline,
    TimerStarted,
    WindowChanged,
    WindowSnapshot,
)

_MASK = 0xFFFFFFFF
_NO_CONNECTION = frozenset({TcpState.CLOSED, TcpState.LISTEN})
#: rows read from the start of a replay to find a side's first sequence number
_BASE_PROBE = 64
_KEEP = 4


def _time(event: Event) -> float:
    return event.time


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowAt:
    """One side's window bookkeeping as shown at a cursor time.

    Relative numbers count from ``base`` (the side's ISS, or its first sequence number
    seen when a capture starts mid-stream), modulo 2**32.
    """

    side: Side
    since: float                 # when this bookkeeping took effect
    snapshot: WindowSnapshot
    state: TcpState              # the side's displayed state (rule 4)
    buffers_known: bool          # False: rcv_buffered and snd_queued are unknown (replay)
    base: int

    def relative(self, seq: int) -> int:
        return (seq - self.base) & _MASK

    @property
    def una(self) -> int:
        """SND.UNA, relative."""
        return self.relative(self.snapshot.snd_una)

    @property
    def nxt(self) -> int:
        """SND.NXT, relative."""
        return self.relative(self.snapshot.snd_nxt)

    @property
    def edge(self) -> int:
        """SND.UNA + SND.WND, relative: the first octet the peer does not allow yet."""
        return self.relative(self.snapshot.snd_una + self.snapshot.snd_wnd)

    @property
    def connected(self) -> bool:
        """False in CLOSED and LISTEN: the numbers describe no connection."""
        return self.state not in _NO_CONNECTION

    @property
    def peer_window_known(self) -> bool:
        """SND.WND holds the peer's window: the side is synchronized (a replay learns the
        window from the first ACK, not from the SYN) and has heard the peer."""
        snap = self.snapshot
        return self.state.synchronized and (snap.irs is not None or snap.snd_wnd > 0)

    @property
    def send_blocked(self) -> bool:
        """The peer advertises a zero window: nothing new may be sent (persist timer)."""
        return self.peer_window_known and self.snapshot.snd_wnd == 0

    @property
    def advertises_zero(self) -> bool:
        """This side advertises a zero receive window to its peer."""
        return self.state.synchronized and self.snapshot.rcv_wnd == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Countdown:
    """A side's TIME_WAIT at a cursor time: the 2MSL timer draining towards CLOSED."""

    side: Side
    entered: float               # when the side entered TIME_WAIT
    started: float               # when the running timer (re)started
    deadline: float
    now: float                   # the cursor time this was computed for
    msl: float | None            # the MSL in use, if the source says
    timeline_end: float          # the last captured or recorded event
    beyond_capture: bool         # ``now`` is past ``timeline_end``

    @property
    def total(self) -> float:
        """The timer's length: 2*MSL (or the configured TIME_WAIT length)."""
        return self.deadline - self.started

    @property
    def remaining(self) -> float:
        return max(0.0, self.deadline - self.now)

    @property
    def expired(self) -> bool:
        """The deadline has passed: the side is CLOSED."""
        return self.now >= self.deadline

    @property
    def restarted(self) -> bool:
        """The timer was started again in TIME_WAIT (a retransmitted FIN was re-ACKed)."""
        return self.started > self.entered

    @property
    def end_shown(self) -> bool:
        """The Timeline itself records the deadline (a simulation that ran long enough)."""
        return self.deadline <= self.timeline_end


class Cursor:
    """Indexes of one Timeline for the queries of this module (rule 3)."""

    __slots__ = ("timeline", "_windows", "_changes", "_tw", "_bases")

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self._windows: dict[Side, tuple[list[float], list[WindowSnapshot]]] | None = None
        self._changes: dict[Side, tuple[list[float], list[StateChanged]]] = {
            side: ([], []) for side in Side}
        self._tw: dict[Side, tuple[list[float], list[float]]] = {
            side: ([], []) for side in Side}
        self._bases: dict[Side, int | None] = {}
        for change in timeline.state_changes():
            times, changes = self._changes[change.side]
            times.append(change.time)
            changes.append(change)
        events = timeline.events
        if isinstance(events, tuple | list):
            windows: dict[Side, tuple[list[float], list[WindowSnapshot]]] = {
                side: ([], []) for side in Side}
            for ev in events:
                if isinstance(ev, WindowChanged):
                    times_w, snaps = windows[ev.side]
                    times_w.append(ev.time)
                    snaps.append(ev.snapshot)
                else:
                    self._note_timer(ev)
            if any(times_w for times_w, _ in windows.values()):
                self._windows = windows
        else:
            entries = [c.time for c in timeline.state_changes() if c.new is TcpState.TIME_WAIT]
            if entries:
                start = bisect.bisect_left(events, min(entries), key=_time)
                for pos in range(start, len(events)):
                    self._note_timer(events[pos])

    def _note_timer(self, ev: Event) -> None:
        if isinstance(ev, TimerStarted) and ev.timer is Timer.TIME_WAIT:
            starts, deadlines = self._tw[ev.side]
            starts.append(ev.time)
            deadlines.append(ev.deadline)

    # ------------------------------------------------------------------ windows
    @property
    def buffers_known(self) -> bool:
        """True when windows come from recorded WindowChanged events (rule 2)."""
        return self._windows is not None

    def window_facts_at(self, side: Side, t: float) -> WindowAt | None:
        """``side``'s bookkeeping at ``t``; None before anything is known of it."""
        if self._windows is not None:
            times, snaps = self._windows[side]
            pos = bisect.bisect_right(times, t)
            if pos == 0:
                return None
            return self._facts(side, t, times[pos - 1], snaps[pos - 1])
        series = self.timeline.windows
        found = None if series is None else series.at(side, t)
        return None if found is None else self._facts(side, t, *found)

    def window_after(self, side: Side, index: int) -> WindowAt | None:
        """``side``'s bookkeeping in row ``index``: once segment ``index`` took effect."""
        snap = self.timeline.rows[index].window(side)
        if snap is None:
            return None
        rec = self.timeline.segments[index]
        return self._facts(side, rec.effect_time, rec.effect_time, snap)

    def _facts(self, side: Side, t: float, since: float, snap: WindowSnapshot) -> WindowAt:
        known = self._windows is not None
        base = snap.iss if known else self._row_base(side, snap)
        return WindowAt(side=side, since=since, snapshot=snap,
                        state=self.displayed_state_at(side, t), buffers_known=known, base=base)

    def _row_base(self, side: Side, snap: WindowSnapshot) -> int:
        """A replay's relative-number origin: the side's ISS in its first known row (a
        replay without the SYN gives each row its SND.UNA as ISS, which would slide)."""
        if side not in self._bases:
            rows = self.timeline.rows
            firsts = (rows[i].window(side) for i in range(min(len(rows), _BASE_PROBE)))
            self._bases[side] = next((w.iss for w in firsts if w is not None), None)
        base = self._bases[side]
        return snap.iss if base is None else base

    # ----------------------------------------------------------------- TIME_WAIT
    def _last_change(self, side: Side, t: float) -> StateChanged | None:
        times, changes = self._changes[side]
        pos = bisect.bisect_right(times, t)
        return changes[pos - 1] if pos else None

    def time_wait_at(self, side: Side, t: float) -> Countdown | None:
        """The TIME_WAIT countdown of ``side`` at ``t``: running, or expired while the
        side stays CLOSED afterwards; None when the side is not (or no longer) there."""
        change = self._last_change(side, t)
        if change is None:
            return None
        if change.new is TcpState.TIME_WAIT:
            entered = change.time
        elif (change.new is TcpState.CLOSED and change.old is TcpState.TIME_WAIT
              and change.trigger is Trigger.TIMEOUT_2MSL):
            entered = self._entered_before(side, change.time)
        else:
            return None
        starts, deadlines = self._tw[side]
        pos = bisect.bisect_right(starts, t)
        if pos and starts[pos - 1] >= entered:
            started, deadline = starts[pos - 1], deadlines[pos - 1]
        elif self.timeline.msl is not None:
            started, deadline = entered, entered + 2 * self.timeline.msl
        else:
            return None
        end = self.timeline.end
        return Countdown(side=side, entered=entered, started=started, deadline=deadline,
                         now=t, msl=self.timeline.msl, timeline_end=end,
                         beyond_capture=t > end)

    def _entered_before(self, side: Side, t: float) -> float:
        times, changes = self._changes[side]
        pos = bisect.bisect_left(times, t)
        for i in range(pos - 1, -1, -1):
            if changes[i].new is TcpState.TIME_WAIT:
                return changes[i].time
        return t

    def displayed_state_at(self, side: Side, t: float) -> TcpState:
        """``Timeline.state_at``, except that TIME_WAIT past its deadline is CLOSED."""
        state = self.timeline.state_at(side, t)
        if state is TcpState.TIME_WAIT:
            countdown = self.time_wait_at(side, t)
            if countdown is not None and countdown.expired:
                return TcpState.CLOSED
        return state

    def animation_end(self) -> float:
        """The last event, or a later TIME_WAIT deadline so the countdown can finish."""
        end = self.timeline.end
        for side in Side:
            countdown = self.time_wait_at(side, end)
            if countdown is not None and countdown.deadline > end:
                end = countdown.deadline
        return end


_CURSORS: OrderedDict[int, Cursor] = OrderedDict()


def cursor_for(timeline: Timeline) -> Cursor:
    """The shared Cursor of ``timeline`` (built on first use; the last few are kept, and
    keeping them also keeps their Timelines, so an ``id`` is never reused meanwhile)."""
    key = id(timeline)
    cursor = _CURSORS.get(key)
    if cursor is None or cursor.timeline is not timeline:
        cursor = Cursor(timeline)
        _CURSORS[key] = cursor
        if len(_CURSORS) > _KEEP:
            _CURSORS.popitem(last=False)
    else:
        _CURSORS.move_to_end(key)
    return cursor


def window_at(timeline: Timeline, side: Side, t: float) -> WindowSnapshot | None:
    """``side``'s send/receive bookkeeping at ``t`` (module rule 2)."""
    facts = cursor_for(timeline).window_facts_at(side, t)
    return None if facts is None else facts.snapshot


def window_facts_at(timeline: Timeline, side: Side, t: float) -> WindowAt | None:
    return cursor_for(timeline).window_facts_at(side, t)


def window_after(timeline: Timeline, side: Side, index: int) -> WindowAt | None:
    return cursor_for(timeline).window_after(side, index)


def time_wait_at(timeline: Timeline, side: Side, t: float) -> Countdown | None:
    return cursor_for(timeline).time_wait_at(side, t)


def displayed_state_at(timeline: Timeline, side: Side, t: float) -> TcpState:
    return cursor_for(timeline).displayed_state_at(side, t)


def animation_end(timeline: Timeline) -> float:
    return cursor_for(timeline).animation_end()

