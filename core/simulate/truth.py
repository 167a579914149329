"""What a replay of a simulated capture should find: the truth, and the comparison.

    captured_truth(timeline, frames, tap="client") -> Truth
    compare(truth, replayed) -> Comparison
    state_sequence(timeline, side) -> tuple[TcpState, ...]

``timeline`` is a simulation's Timeline (every event with its true time); ``frames``
are the :class:`Sighting` s of one TCP stream of a capture written from it (frame
number, capture time, simulated segment index; the capture writer knows them). The
replayed Timeline is compared with the truth on: (a) each side's state sequence
(``initial`` then every ``StateChanged.new``), exactly; (b) which captured segments never
arrived, exactly, and no ghost that matches no uncaptured segment; (c) per direction,
the order in which captured segments arrived (over the frames both say arrived). A case
*matches* when (a) and (b) hold. Sides are matched by address and port: in a simultaneous
open (both SYNs captured) either side may be called the client; anywhere else a replay
that calls the server the client mismatches on (a).

Normalisation (each one applied is named in ``Truth.notes``; nothing else is changed):
N1 Before the capture. A side's leading *silent* changes (an application call whose
   table row sends nothing: ``listen()``), made before the side sent or received any
   segment of the stream, are folded into its first state: a capture cannot date them,
   and the replay starts from its ``initial`` states (a server before a captured SYN is
   LISTEN). ``connect()`` is not silent: its SYN shows it, so CLOSED -> SYN_SENT stays.
N2 After the capture. A side's trailing changes made after its last captured activity
   (in event order: its last send or arrival of a captured segment) and not caused by
   the arrival of a captured segment are dropped: TIME_WAIT -> CLOSED at 2MSL, a user
   timeout, an abort whose RST was lost before the tap, a later connection on the same
   ports. A change caused by a captured segment stays however late it comes (the far
   side's LAST_ACK -> CLOSED), and so does one whose own segment was captured.
N3 Unseen listeners. A LISTEN entered by a silent change and not left by the arrival of
   a captured segment (a server that listens again after a crash or a close, and only
   answers strays with RST, as a closed port does) is removed with the change into it:
   no packet distinguishes it from CLOSED.
Losses: a captured segment whose ``arrived`` is None never arrived (lost after the tap,
or still in flight where the run stopped); the replay must say so, except (``either``,
each named in ``Truth.notes``; the replay may say lost or arrived):
L1 a segment its receiving host dropped without effect (the simulator's "accept queue
   full"): no capture before that host can tell it from a loss;
L2 a lost segment without sequence space (a pure ACK, an RST), seen by every interface
   of the capture (so no tap shows it missing), whose loss nothing later reveals: for
   an ACK, its receiver never sends again, after the ACK was due, anything the ACK
   acknowledged; for an RST, its receiver sends nothing after it was due. (A SYN, FIN
   or data is retransmitted: always strict.)
L3 twins: captured segments identical on the wire and seen at the same time (the same
   sender, seq, ack, flags, length and window, first sighted in the same microsecond:
   two ACKs answering two copies of a SYN+ACK) cannot be told apart, so within such a
   group only the number said lost must be right, not which.
Uncaptured segments (lost before the tap) may be ghosts; a ghost matching none of them
(sender, seq, SYN/FIN/RST, length) is a mismatch, a missing ghost is only counted
(``Comparison.unseen_losses``).
Uncertainty: ``Comparison.matches`` judges the reading the replay shows. Where the
replay says the capture cannot decide (``Timeline.uncertain``), ``matches_either`` also
accepts the other reading of one uncertainty, or of two independent ones (no side's
states changed by both): their ``alternative`` state sequences, and their losses (the
shown ones, except that an uncertainty's segments shown lost arrive unless
``alternative_lost`` names them, and those it names are lost; ``alternative_open``
names those either fate fits), and the ghosts ``alternative_unsent`` names were never
sent, so they match nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.tcp.segment import Flag, flags_text, seq_diff
from core.tcp.states import Action, Side, TcpState, TriggerKind
from core.tcp.table import lookup
from core.trace import (
    SegmentArrived,
    SegmentLost,
    SegmentRecord,
    SegmentSent,
    StateChanged,
    Timeline,
)

_SENDS = frozenset({Action.SEND_SYN, Action.SEND_SYN_ACK, Action.SEND_ACK,
                    Action.SEND_DELAYED_ACK, Action.SEND_KEEPALIVE,
                    Action.SEND_CHALLENGE_ACK, Action.SEND_DATA, Action.QUEUE_FIN,
                    Action.SEND_RST, Action.SEND_RST_ABORT, Action.RETRANSMIT,
                    Action.SEND_PROBE, Action.FAST_RETRANSMIT})
#: the simulator's note on a segment its receiving host dropped without effect
RECEIVER_DROPPED = "accept queue full"
_SHAPE = Flag.SYN | Flag.FIN | Flag.RST
_OPEN = Flag.SYN | Flag.ACK


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """One frame of a capture: its number (1-based), when it was recorded, which
    segment of the simulated Timeline it shows, and the interface (tap) that saw it."""

    frame: int
    time: float
    index: int
    interface: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Truth:
    """What a perfect replay of one captured stream finds (see the module docstring)."""

    tap: str
    client: tuple[TcpState, ...]
    server: tuple[TcpState, ...]
    frame_of: dict[int, int]            # simulated index -> its first frame
    lost_seen: frozenset[int]           # frames whose segment never arrived
    either: frozenset[int]              # frames that may be said lost or arrived (L1, L2)
    twin: dict[int, int]                # frame -> first frame of its identical twins (L3)
    unseen: tuple[SegmentRecord, ...]   # the stream's segments no frame shows
    unseen_lost: int                    # of which lost on the way
    arrivals: dict[Side, tuple[int, ...]]  # per sender: frames in order of arrival
    notes: tuple[str, ...]
    client_label: str                   # the client's address:port
    both_opened: bool                   # both sides sent a SYN without ACK (seen or not)

    def states(self, side: Side) -> tuple[TcpState, ...]:
        return self.client if side is Side.CLIENT else self.server


def state_sequence(timeline: Timeline, side: Side) -> tuple[TcpState, ...]:
    """``side``'s initial state, then the state after each of its changes."""
    first = timeline.initial[0] if side is Side.CLIENT else timeline.initial[1]
    return (first, *(c.new for c in timeline.state_changes(side)))


def _silent(change: StateChanged) -> bool:
    """An application call whose row sends nothing (``listen()``, closing a listener)."""
    trigger = change.trigger
    if trigger is None or trigger.kind is not TriggerKind.APP:
        return False
    row = lookup(change.old, trigger, None)
    return row is not None and not _SENDS.intersection(row.actions)


def _first_activity(timeline: Timeline, side: Side, members: set[int]) -> int:
    """Position in ``timeline.events`` of ``side``'s first send or arrival of a segment
    of the stream (``len(events)`` if none)."""
    for pos, event in enumerate(timeline.events):
        if (isinstance(event, SegmentSent | SegmentArrived) and event.side is side
                and event.index in members):
            return pos
    return len(timeline.events)


def _last_activity(timeline: Timeline, side: Side, captured: set[int]) -> int:
    """Position in ``timeline.events`` of ``side``'s last send or arrival of a captured
    segment (-1 if none)."""
    for pos in range(len(timeline.events) - 1, -1, -1):
        event = timeline.events[pos]
        if (isinstance(event, SegmentSent | SegmentArrived) and event.side is side
                and event.index in captured):
            return pos
    return -1


def _side_truth(timeline: Timeline, side: Side, members: set[int], captured: set[int],
                notes: list[str]) -> tuple[TcpState, ...]:
    changes = timeline.state_changes(side)
    position = {id(e): pos for pos, e in enumerate(timeline.events)
                if isinstance(e, StateChanged)}
    start = timeline.initial[0] if side is Side.CLIENT else timeline.initial[1]
    # N1: leading silent changes before the side's first segment
    first = _first_activity(timeline, side, members)
    while changes and _silent(changes[0]) and position[id(changes[0])] < first:
        notes.append(f"N1 {side.value}: {changes[0].old.name} -> {changes[0].new.name} "
                     f"({changes[0].trigger.value if changes[0].trigger else '?'}) "
                     "before the capture")
        start = changes[0].new
        changes = changes[1:]
    # N2: trailing changes after the side's last captured activity, not caused by a
    # captured segment
    last = _last_activity(timeline, side, captured)
    end = len(changes)
    while (end and position[id(changes[end - 1])] > last
           and changes[end - 1].segment not in captured):
        end -= 1
    for change in changes[end:]:
        notes.append(f"N2 {side.value}: {change.old.name} -> {change.new.name} at "
                     f"{change.time:.6f} s, after its last captured segment")
    changes = changes[:end]
    # N3: a LISTEN entered silently and not left by a captured segment's arrival
    kept: list[StateChanged] = []
    k = 0
    while k < len(changes):
        change = changes[k]
        after = changes[k + 1] if k + 1 < len(changes) else None
        if (change.new is TcpState.LISTEN and _silent(change)
                and (after is None or after.segment not in captured)):
            notes.append(f"N3 {side.value}: {change.old.name} -> LISTEN at "
                         f"{change.time:.6f} s, never shown by a packet")
            if after is not None:  # X -> LISTEN -> Y becomes X -> Y (or nothing if Y is X)
                k += 1
                if after.new is not change.old:
                    kept.append(StateChanged(time=after.time, side=side, old=change.old,
                                             new=after.new, trigger=after.trigger,
                                             segment=after.segment))
            k += 1
            continue
        kept.append(change)
        k += 1
    return (start, *(c.new for c in kept))


class _Later:
    """Per sender, its captured segments by send time: is there one sent after ``t``
    (with sequence space, starting before ``ack``)?"""

    def __init__(self, segments: Sequence[SegmentRecord], captured: set[int],
                 sender: Side) -> None:
        mine = sorted((segments[j] for j in captured if segments[j].sender is sender),
                      key=lambda r: r.sent)
        self.sent = [r.sent for r in mine]
        self.base = mine[0].segment.seq if mine else 0
        # suffix minimum of the relative seq of segments that occupy sequence space
        self.low: list[float] = [float("inf")] * (len(mine) + 1)
        for k in range(len(mine) - 1, -1, -1):
            seg = mine[k].segment
            spaced = seg.length or seg.flags & (Flag.SYN | Flag.FIN)
            rel = seq_diff(seg.seq, self.base) if spaced else float("inf")
            self.low[k] = min(self.low[k + 1], rel)

    def any_after(self, t: float) -> bool:
        return bisect.bisect_right(self.sent, t) < len(self.sent)

    def resends_before(self, t: float, ack: int) -> bool:
        return seq_diff(ack, self.base) > self.low[bisect.bisect_right(self.sent, t)]


def _unrevealed(segments: Sequence[SegmentRecord], i: int, later: dict[Side, _Later],
                losses: dict[int, SegmentLost]) -> bool:
    """True for a lost segment without sequence space whose loss no captured segment
    reveals (rule L2; the caller checks that every interface saw it)."""
    lost = segments[i]
    seg = lost.segment
    if seg.length or seg.flags & (Flag.SYN | Flag.FIN):
        return False
    event = losses.get(i)
    if event is not None and event.due is not None:
        due = event.due
    else:  # without ``due``, the link records a loss halfway
        due = lost.sent + 2 * ((event.time if event else lost.sent) - lost.sent)
    peer = later[lost.receiver]
    if seg.flags & Flag.RST:
        return not peer.any_after(due)
    if not seg.flags & Flag.ACK:
        return False
    return not peer.resends_before(due, seg.ack)


def captured_truth(timeline: Timeline, frames: Sequence[Sighting],
                   tap: str = "client") -> Truth:
    """The truth for the stream whose frames are ``frames`` (see the module docstring).

    The stream's segments are the simulated ones from its first to its last captured
    segment (in send order), so uncaptured segments between them belong to it."""
    if not frames:
        raise ValueError("a stream has at least one frame")
    frame_of: dict[int, int] = {}
    for sighting in frames:
        frame_of.setdefault(sighting.index, sighting.frame)
    captured = set(frame_of)
    members = set(range(min(captured), max(captured) + 1))
    notes: list[str] = []
    client = _side_truth(timeline, Side.CLIENT, members, captured, notes)
    server = _side_truth(timeline, Side.SERVER, members, captured, notes)
    segments = timeline.segments
    either: set[int] = set()
    for i in sorted(captured):
        if any(RECEIVER_DROPPED in label for label in segments[i].labels):
            either.add(frame_of[i])
            notes.append(f"L1 frame {frame_of[i]}: dropped by the receiving host")
    lost_seen = frozenset(frame_of[i] for i in captured if segments[i].arrived is None)
    first_seen = {s.index: s.time for s in sorted(frames, key=lambda s: s.frame)
                  if s.frame == frame_of[s.index]}
    groups: dict[tuple[object, ...], int] = {}
    twin: dict[int, int] = {}
    for i in sorted(captured, key=lambda i: frame_of[i]):
        seg = segments[i].segment
        key = (segments[i].sender, seg.seq, seg.ack, seg.flags, seg.length, seg.window,
               round(first_seen[i] * 1e6))
        twin[frame_of[i]] = groups.setdefault(key, frame_of[i])
    losses = {e.index: e for e in timeline.events if isinstance(e, SegmentLost)}
    later = {side: _Later(segments, captured, side) for side in Side}
    interfaces = {s.interface for s in frames}
    seen_by: dict[int, set[int]] = {}
    for sighting in frames:
        seen_by.setdefault(sighting.index, set()).add(sighting.interface)
    for i in sorted(captured):
        if (segments[i].arrived is None and seen_by[i] == interfaces
                and _unrevealed(segments, i, later, losses)):
            either.add(frame_of[i])
            notes.append(f"L2 frame {frame_of[i]}: {flags_text(segments[i].segment.flags)} "
                         "lost, nothing captured later reveals it")
    unseen = tuple(segments[i] for i in sorted(members - captured))
    arrivals: dict[Side, tuple[int, ...]] = {}
    for sender in Side:
        came = [(segments[i].arrived or 0.0, frame_of[i]) for i in captured
                if segments[i].sender is sender and segments[i].arrived is not None]
        arrivals[sender] = tuple(frame for _, frame in sorted(came))
    return Truth(tap=tap, client=client, server=server, frame_of=frame_of,
                 lost_seen=lost_seen, either=frozenset(either), twin=twin, unseen=unseen,
                 unseen_lost=sum(1 for rec in unseen if rec.arrived is None),
                 arrivals=arrivals, notes=tuple(notes), client_label=timeline.client.label,
                 both_opened=len({segments[i].sender for i in range(max(captured) + 1)
                                  if segments[i].segment.flags & _OPEN == Flag.SYN}) == 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """How a replay of the captured stream agrees with its :class:`Truth`.

    ``kinds`` are short, aggregatable mismatch patterns (for statistics); ``details``
    say the same with both sequences and the frames involved (to reproduce)."""

    states_ok: bool
    losses_ok: bool
    order_ok: bool
    kinds: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    unseen_losses: int = 0        # segments lost before the tap
    ghosts: int = 0               # ghosts the replay drew
    false_ghosts: int = 0
    uncertain: int = 0            # uncertainties the replay flagged
    other_reading: bool = False   # no match, but a flagged uncertainty's other reading is

    @property
    def matches(self) -> bool:
        return self.states_ok and self.losses_ok

    @property
    def matches_either(self) -> bool:
        """A match, or the truth is the other reading of an uncertainty the replay
        flagged (one uncertainty, or two independent ones)."""
        return self.matches or self.other_reading


def _names(states: Sequence[TcpState]) -> str:
    return " ".join(s.name for s in states)


def _divergence(side: Side, truth: Sequence[TcpState], got: Sequence[TcpState]) -> str:
    """The first place two state sequences part, as an aggregatable pattern."""
    n = 0
    while n < len(truth) and n < len(got) and truth[n] is got[n]:
        n += 1
    before = truth[n - 1].name if n else "start"
    want = truth[n].name if n < len(truth) else "end"
    have = got[n].name if n < len(got) else "end"
    return f"{side.value} after {before}: truth {want}, replay {have}"


def _seg_text(rec: SegmentRecord, swapped: bool = False) -> str:
    seg = rec.segment
    sender = rec.sender.peer if swapped else rec.sender
    return f"{sender.value} {flags_text(seg.flags)} len {seg.length}"


def compare(truth: Truth, replayed: Timeline) -> Comparison:
    """Compare a replayed Timeline with ``truth`` (see the module docstring)."""
    kinds: list[str] = []
    details: list[str] = []
    states_ok = True
    # sides are matched by address and port; in a simultaneous open either side may be
    # called the client, anywhere else calling the server the client is a mismatch
    swapped = replayed.client.label != truth.client_label
    if swapped and not truth.both_opened:
        states_ok = False
        kinds.append(f"roles [{truth.tap} tap]: replay swaps client and server")
        details.append(f"roles: the simulated client {truth.client_label} is the "
                       f"replay's server")

    def theirs(side: Side) -> Side:
        return side.peer if swapped else side

    for side in Side:
        want, got = truth.states(side), state_sequence(replayed, theirs(side))
        if want != got:
            states_ok = False
            kinds.append(f"states [{truth.tap} tap]: " + _divergence(side, want, got))
            details.append(f"{side.value} states: truth [{_names(want)}] "
                           f"replay [{_names(got)}]")
    by_frame = {rec.frame: rec for rec in replayed.segments if rec.frame is not None}
    said_lost = {frame for frame, rec in by_frame.items() if rec.arrived is None}
    losses_ok = True
    for frame in _lost_wrong(truth, said_lost):
        rec = by_frame.get(frame)
        what = _seg_text(rec, swapped) if rec is not None else "?"
        losses_ok = False
        if frame in truth.lost_seen:
            kinds.append(f"loss [{truth.tap} tap]: {what} lost after the tap, replay: arrived")
            details.append(f"frame {frame} ({what}): lost after the tap, replay: arrived")
        else:
            kinds.append(f"loss [{truth.tap} tap]: {what} arrived, replay: lost")
            details.append(f"frame {frame} ({what}): arrived, replay: lost")
    false_ghosts = 0
    invented: set[int] = set()
    shapes = {(r.sender, r.segment.seq, r.segment.flags & _SHAPE, r.segment.length)
              for r in truth.unseen}
    for ghost in replayed.ghosts:
        seg = ghost.segment
        if (theirs(ghost.sender), seg.seq, seg.flags & _SHAPE, seg.length) not in shapes:
            false_ghosts += 1
            invented.add(ghost.index)
            losses_ok = False
            kinds.append(f"ghost [{truth.tap} tap]: {_seg_text(ghost, swapped)} matches no "
                         "uncaptured segment")
            details.append(f"ghost {ghost.index} ({_seg_text(ghost, swapped)}, seq {seg.seq}) "
                           "matches no uncaptured segment")
    order_ok = True
    for sender in Side:
        # over the frames both say arrived (a loss mismatch is reported above)
        got_order = tuple(rec.frame for rec in sorted(
            (r for r in replayed.segments if r.sender is theirs(sender)
             and r.arrived is not None and r.frame is not None),
            key=lambda r: (r.arrived or 0.0, r.index)))
        got_set = set(got_order)
        want_order = tuple(f for f in truth.arrivals[sender] if f in got_set)
        got_order = tuple(f for f in got_order if f in truth.arrivals[sender])
        if want_order != got_order:
            order_ok = False
            kinds.append(f"order [{truth.tap} tap]: {sender.value}'s segments arrive in "
                         "another order")
            details.append(f"{sender.value} arrivals: truth frames {list(want_order)}, "
                           f"replay {list(got_order)}")
    other = False
    if not (states_ok and losses_ok) and (not swapped or truth.both_opened):
        other = any(_reading_matches(truth, reading, theirs, frozenset(invented))
                    for reading in _alternatives(replayed))
    if other:
        details.append("an uncertainty the replay flagged has the truth as its other reading")
    return Comparison(states_ok=states_ok, losses_ok=losses_ok, order_ok=order_ok,
                      kinds=tuple(kinds), details=tuple(details),
                      unseen_losses=truth.unseen_lost, ghosts=len(replayed.ghosts),
                      false_ghosts=false_ghosts, uncertain=len(replayed.uncertain),
                      other_reading=other)


def _lost_wrong(truth: Truth, said_lost: set[int]) -> list[int]:
    """Frames whose loss is said wrongly (rules L1-L3)."""
    diff = (truth.lost_seen ^ said_lost) - truth.either
    balance: dict[int, int] = {}  # rule L3: per group of twins, only the count
    for frame in diff:
        group = truth.twin.get(frame, frame)
        balance[group] = balance.get(group, 0) + (1 if frame in truth.lost_seen else -1)
    return [f for f in sorted(diff) if balance[truth.twin.get(f, f)] != 0]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Reading:
    states: dict[Side, tuple[TcpState, ...]]   # replay sides
    lost: set[int]                             # frames
    unsent: frozenset[int] = frozenset()       # ghosts (indices) that were never sent
    open: frozenset[int] = frozenset()         # frames lost or arrived: either is right


def _alternatives(replayed: Timeline) -> list[_Reading]:
    """The other readings the flagged uncertainties allow: each one's alone, and those of
    two at a time (independent doubts: no side's states changed by both). A doubt's
    reading has its sides' state sequences and its losses: the shown ones, but its
    segments shown lost arrive unless ``alternative_lost`` names them, and those it
    names are lost."""
    segments = replayed.segments
    shown_lost = {rec.index for rec in segments if rec.arrived is None}
    shown = {side: state_sequence(replayed, side) for side in Side}
    doubts = list(replayed.uncertain)
    choices = [[d] for d in doubts]
    if 1 < len(doubts) <= 8:
        choices += [[a, b] for i, a in enumerate(doubts) for b in doubts[i + 1:]
                    if not {side for side, _ in a.alternative}
                    & {side for side, _ in b.alternative}]
    out = []
    for chosen in choices:
        states = dict(shown)
        lost = set(shown_lost)
        unsent: set[int] = set()
        undecided: set[int] = set()
        for doubt in chosen:
            unsent |= set(doubt.alternative_unsent)
            undecided |= set(doubt.alternative_open)
            states.update(dict(doubt.alternative))
            lost = ((lost - (set(doubt.segments) - set(doubt.alternative_lost)))
                    | set(doubt.alternative_lost))
        frames = {segments[i].frame for i in lost if 0 <= i < len(segments)}
        out.append(_Reading(states=states, lost={f for f in frames if f is not None},
                            unsent=frozenset(unsent), open=frozenset(
                                f for i in undecided if 0 <= i < len(segments)
                                and (f := segments[i].frame) is not None)))
    return out


def _reading_matches(truth: Truth, reading: _Reading, theirs: Callable[[Side], Side],
                     false_ghosts: frozenset[int] = frozenset()) -> bool:
    return (all(truth.states(side) == reading.states[theirs(side)] for side in Side)
            and not set(_lost_wrong(truth, reading.lost)) - reading.open
            and false_ghosts <= reading.unsent)


__all__ = ["RECEIVER_DROPPED", "Comparison", "Sighting", "Truth", "captured_truth",
           "compare", "state_sequence"]
