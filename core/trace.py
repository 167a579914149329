"""The trace model: immutable events and the :class:`Timeline` the GUI draws.

Both sources produce a Timeline: a replay infers it from a capture, a simulation
records it as it runs. The GUI only reads it.

Invariants:
- Events are frozen values, ordered by time; ties keep the order in which they
  happened (an arrival comes before the state change it causes).
- Segment ``index`` is the position in ``Timeline.segments`` (0-based, send order).
- Row ``i`` (see :meth:`Timeline.states_after`) is the state of both sides once segment
  ``i`` and every segment before it took effect (arrived, or lost); reading down the
  rows never goes back in time, so each side's states follow its changes in order.
- ``Timeline.ghosts`` are segments that must have existed but were never captured (a
  replay infers them): drawn beside the segments, they have no events, rows or frame;
  each has ``ghost=True`` and ``index`` = its position in ``ghosts``.
- ``Timeline.uncertain`` lists what a replay cannot decide: the Timeline shows the best
  explanation of the capture, and each :class:`Uncertainty` says what else fits the
  same packets ("either ... or ..."). A simulation has none.
- ``Timeline.windows`` (a replay's) gives each side's bookkeeping as a series in time
  order: SND.NXT in it never moves back.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from core.progress import Progress, ignore
from core.tcp.segment import Segment, seq_diff
from core.tcp.states import Side, TcpState, Timer, Trigger


@dataclass(frozen=True, slots=True, kw_only=True)
class Peer:
    """One end of the connection: its role, address and port."""

    side: Side
    address: str
    port: int

    @property
    def label(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSnapshot:
    """One side's send and receive bookkeeping (absolute sequence numbers).

    Send space: acknowledged < SND.UNA <= in flight < SND.NXT <= usable < SND.UNA+SND.WND.
    Receive space: ``rcv_buffered`` octets wait for the application; ``rcv_wnd`` is free.
    """

    side: Side
    iss: int
    irs: int | None
    snd_una: int
    snd_nxt: int
    snd_wnd: int
    snd_queued: int
    rcv_nxt: int
    rcv_wnd: int
    rcv_buffered: int

    @property
    def in_flight(self) -> int:
        return seq_diff(self.snd_nxt, self.snd_una)

    @property
    def usable(self) -> int:
        return max(0, self.snd_wnd - self.in_flight)

    @property
    def zero_window(self) -> bool:
        """True when this side advertises no room to its peer."""
        return self.rcv_wnd == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentRecord:
    """One arrow of the diagram."""

    index: int
    sender: Side
    segment: Segment
    sent: float
    arrived: float | None
    frame: int | None = None
    labels: tuple[str, ...] = ()
    ghost: bool = False

    @property
    def receiver(self) -> Side:
        return self.sender.peer

    @property
    def lost(self) -> bool:
        return self.arrived is None

    @property
    def effect_time(self) -> float:
        return self.sent if self.arrived is None else self.arrived


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    time: float
    side: Side


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentSent(Event):
    """``copied_at``: for a copy the link made of a segment (a simulation's
    ``LINK_COPY``), where on the path it made it, as a fraction of the way from the
    sender (0) to the receiver (1); None for a segment its sender sent."""

    index: int
    copied_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentArrived(Event):
    index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentLost(Event):
    """``time`` is when the diagram shows the loss (halfway). A simulation also knows
    ``lost_at``, where on the path it was lost (a fraction of the way from the sender,
    in [0, 1)), and ``due``, when it would have arrived; None: not known."""

    index: int
    reason: str = "dropped by the link"
    lost_at: float | None = None
    due: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(Event):
    old: TcpState
    new: TcpState
    trigger: Trigger | None
    segment: int | None = None
    inferred: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerStarted(Event):
    timer: Timer
    deadline: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerStopped(Event):
    timer: Timer
    expired: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AppCalled(Event):
    call: str
    result: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppNotified(Event):
    """TCP tells the application something went wrong (reset, refused, timed out)."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowChanged(Event):
    snapshot: WindowSnapshot


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveTimer:
    side: Side
    timer: Timer
    started: float
    deadline: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Uncertainty:
    """Something the capture cannot decide. The Timeline shows one reading (the best:
    fewest losses, consistent delays); ``text`` says "either <shown> or <other>"."""

    time: float                       # where the doubt begins
    side: Side | None                 # the lane whose state is in doubt, if any
    segments: tuple[int, ...]         # the arrows concerned (Timeline segment indices)
    text: str
    #: each side's state sequence under the other reading (only the sides that differ)
    alternative: tuple[tuple[Side, tuple[TcpState, ...]], ...] = ()
    #: captured segments lost under the other reading
    alternative_lost: tuple[int, ...] = ()
    #: ghosts (``Timeline.ghosts`` indices) never sent under the other reading
    alternative_unsent: tuple[int, ...] = ()
    #: captured segments the other reading leaves open (arrived or lost, it looks the same)
    alternative_open: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """Both sides' state and window once one segment and those before it took effect."""

    client: TcpState
    server: TcpState
    client_window: WindowSnapshot | None
    server_window: WindowSnapshot | None

    def state(self, side: Side) -> TcpState:
        return self.client if side is Side.CLIENT else self.server

    def window(self, side: Side) -> WindowSnapshot | None:
        return self.client_window if side is Side.CLIENT else self.server_window


def _segment_ref(event: Event) -> int | None:
    if isinstance(event, SegmentSent | SegmentArrived | SegmentLost):
        return event.index
    if isinstance(event, StateChanged):
        return event.segment
    return None


def _is_stimulus(event: Event) -> bool:
    """An event that starts a new step of processing (everything else is a consequence)."""
    if isinstance(event, SegmentArrived | SegmentLost | AppCalled):
        return True
    return isinstance(event, TimerStopped) and event.expired


class WindowSeries:
    """Each side's window bookkeeping as it changed, in time order (a replay's)."""

    __slots__ = ("_times", "_values")

    def __init__(self, times: Mapping[Side, Sequence[float]],
                 values: Mapping[Side, Sequence[WindowSnapshot | None]]) -> None:
        self._times = times
        self._values = values

    def at(self, side: Side, time: float) -> tuple[float, WindowSnapshot] | None:
        """``side``'s bookkeeping at ``time`` and since when; None before the first."""
        times = self._times[side]
        pos = bisect.bisect_right(times, time)
        if pos == 0:
            return None
        snap = self._values[side][pos - 1]
        return None if snap is None else (times[pos - 1], snap)

    @property
    def ready(self) -> bool:
        """The series is made (a lazy one: once ``prepare`` ran)."""
        return True

    def prepare(self, progress: Progress = ignore) -> None:
        """Make the series now (a lazy one is made on first use); ``progress`` as
        :mod:`core.progress` says (it may raise ``Cancelled``: nothing is kept then)."""


class Timeline:
    """A finished, immutable trace of one connection."""

    __slots__ = ("title", "client", "server", "segments", "events", "initial",
                 "rows", "_changes", "msl", "_sparse", "notes", "ghosts", "uncertain",
                 "windows", "_states")

    def __init__(self, *, title: str, client: Peer, server: Peer,
                 segments: Sequence[SegmentRecord], events: Iterable[Event],
                 initial: tuple[TcpState, TcpState] = (TcpState.CLOSED, TcpState.CLOSED),
                 msl: float | None = None, rows: Sequence[Row] | None = None,
                 sparse: Sequence[Event] | None = None,
                 notes: Sequence[str] = (),
                 ghosts: Sequence[SegmentRecord] = (),
                 uncertain: Sequence[Uncertainty] = (),
                 windows: WindowSeries | None = None,
                 row_states: tuple[Sequence[TcpState], Sequence[TcpState]] | None = None
                 ) -> None:
        """Without ``rows``, everything is given as objects and rows are computed. With
        ``rows``, ``segments``, ``events`` (time-ordered) and ``rows`` may be lazy
        sequences (a replay of a long stream), and ``sparse`` lists the events that are
        not about one segment (state changes, timers, notices). ``ghosts`` are segments
        inferred but never captured (see the module invariants); the first labels say why
        each must have existed. ``row_states``: with lazy ``rows``, both sides' state in each
        row as two columns, so that :meth:`states_after` makes no row."""
        self.title = title
        self.client = client
        self.server = server
        self.initial = initial
        self.msl = msl
        self.notes = tuple(notes)
        self.ghosts = tuple(ghosts)
        self.uncertain = tuple(uncertain)
        self.windows = windows
        self._states = row_states if rows is not None else None
        for i, rec in enumerate(self.ghosts):
            if rec.index != i or not rec.ghost or rec.frame is not None:
                raise ValueError(f"ghost {i} must have index {i}, ghost=True and no frame")
        self.segments: Sequence[SegmentRecord]
        self.events: Sequence[Event]
        if rows is None:
            self.segments = tuple(segments)
            for i, rec in enumerate(self.segments):
                if rec.index != i:
                    raise ValueError(f"segment {i} carries index {rec.index}")
            # stable sort by time keeps the recorded order of simultaneous events
            self.events = tuple(sorted(events, key=lambda e: e.time))
            self._sparse = [e for e in self.events if _segment_ref(e) is None
                            or isinstance(e, StateChanged)]
        else:
            if len(rows) != len(segments):
                raise ValueError(f"{len(rows)} rows for {len(segments)} segments")
            self.segments = segments
            self.events = events if isinstance(events, Sequence) else tuple(events)
            self._sparse = list(sparse or ())
        self._changes: dict[Side, tuple[list[float], list[TcpState]]] = {
            Side.CLIENT: ([], []), Side.SERVER: ([], [])}
        for ev in self._sparse:
            if isinstance(ev, StateChanged):
                times, states = self._changes[ev.side]
                times.append(ev.time)
                states.append(ev.new)
        self.rows: Sequence[Row] = self._compute_rows() if rows is None else rows

    def _compute_rows(self) -> tuple[Row, ...]:
        # Segment i takes effect once everything it caused has happened: just before the
        # next stimulus (an arrival, a loss, an application call, a timer expiry). Row i
        # is taken at the latest such point of segments 0..i, so reading down the rows
        # never goes back in time (the replay's rows mean the same).
        last_pos: dict[int, int] = {}
        for pos, ev in enumerate(self.events):
            ref = _segment_ref(ev)
            if ref is not None:
                last_pos[ref] = pos
        state = {Side.CLIENT: self.initial[0], Side.SERVER: self.initial[1]}
        window: dict[Side, WindowSnapshot | None] = {Side.CLIENT: None, Side.SERVER: None}
        points: list[Row] = []
        point_of: list[int | None] = [None] * len(self.segments)
        waiting: list[int] = []

        def flush() -> None:
            if not waiting:
                return
            points.append(Row(client=state[Side.CLIENT], server=state[Side.SERVER],
                              client_window=window[Side.CLIENT],
                              server_window=window[Side.SERVER]))
            for index in waiting:
                point_of[index] = len(points) - 1
            waiting.clear()

        for pos, ev in enumerate(self.events):
            if _is_stimulus(ev):
                flush()
            if isinstance(ev, StateChanged):
                state[ev.side] = ev.new
            elif isinstance(ev, WindowChanged):
                window[ev.side] = ev.snapshot
            ref = _segment_ref(ev)
            if ref is not None and last_pos[ref] == pos:
                waiting.append(ref)
        flush()
        missing = [i for i, p in enumerate(point_of) if p is None]
        if missing:
            raise ValueError(f"segments {missing[:5]} have no event in the timeline")
        rows = []
        latest = 0
        for p in point_of:
            assert p is not None
            latest = max(latest, p)
            rows.append(points[latest])
        return tuple(rows)

    def __len__(self) -> int:
        return len(self.segments)

    def peer(self, side: Side) -> Peer:
        return self.client if side is Side.CLIENT else self.server

    @property
    def start(self) -> float:
        return self.events[0].time if self.events else 0.0

    @property
    def end(self) -> float:
        return self.events[-1].time if self.events else 0.0

    def states_after(self, index: int) -> tuple[TcpState, TcpState]:
        """(client, server) state once segment ``index`` and those before it took effect."""
        if self._states is not None:
            return self._states[0][index], self._states[1][index]
        row = self.rows[index]
        return row.client, row.server

    def state_at(self, side: Side, time: float) -> TcpState:
        """``side``'s state at ``time`` (changes at exactly ``time`` included)."""
        times, states = self._changes[side]
        pos = bisect.bisect_right(times, time)
        if pos == 0:
            return self.initial[0] if side is Side.CLIENT else self.initial[1]
        return states[pos - 1]

    def state_changes(self, side: Side | None = None) -> list[StateChanged]:
        return [e for e in self._sparse if isinstance(e, StateChanged)
                and (side is None or e.side is side)]

    def timers_at(self, time: float) -> list[ActiveTimer]:
        """Timers running at ``time``: started at or before it, not yet stopped."""
        running: dict[tuple[Side, Timer], ActiveTimer] = {}
        for ev in self._sparse:
            if ev.time > time:
                break
            if isinstance(ev, TimerStarted):
                running[(ev.side, ev.timer)] = ActiveTimer(
                    side=ev.side, timer=ev.timer, started=ev.time, deadline=ev.deadline)
            elif isinstance(ev, TimerStopped):
                running.pop((ev.side, ev.timer), None)
        return list(running.values())


@dataclass(slots=True)
class TimelineBuilder:
    """Collects events while a source runs, then freezes them into a Timeline."""

    title: str
    client: Peer
    server: Peer
    msl: float | None = None
    initial: tuple[TcpState, TcpState] = (TcpState.CLOSED, TcpState.CLOSED)
    _segments: list[SegmentRecord] = field(default_factory=list)
    _events: list[Event] = field(default_factory=list)

    def add(self, event: Event) -> None:
        self._events.append(event)

    def sent(self, time: float, sender: Side, segment: Segment, *,
             frame: int | None = None, labels: tuple[str, ...] = (),
             copied_at: float | None = None) -> int:
        index = len(self._segments)
        self._segments.append(SegmentRecord(index=index, sender=sender, segment=segment,
                                            sent=time, arrived=None, frame=frame,
                                            labels=labels))
        self._events.append(SegmentSent(time=time, side=sender, index=index,
                                        copied_at=copied_at))
        return index

    def arrived(self, time: float, index: int) -> None:
        rec = self._segments[index]
        self._segments[index] = replace(rec, arrived=time)
        self._events.append(SegmentArrived(time=time, side=rec.receiver, index=index))

    def lost(self, time: float, index: int, reason: str = "dropped by the link", *,
             lost_at: float | None = None, due: float | None = None) -> None:
        rec = self._segments[index]
        self._events.append(SegmentLost(time=time, side=rec.receiver, index=index,
                                        reason=reason, lost_at=lost_at, due=due))

    def build(self) -> Timeline:
        return Timeline(title=self.title, client=self.client, server=self.server,
                        segments=self._segments, events=self._events,
                        initial=self.initial, msl=self.msl)
