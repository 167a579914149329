"""Both sides' TCP states along a captured stream, inferred from what each side sent and
received, with the transition table of :mod:`core.table`.

Rules:
1. Events are processed in time order (see :mod:`core.replay.timing`): a send, then the
   arrival at the peer, or a loss.
2. A send changes its sender's state only when it reveals an application call: a SYN
   without ACK is connect() (CLOSED -> SYN_SENT), a first FIN is close(), an RST from a
   synchronized state is an abort. Everything else a side sends is a consequence of what
   it received, already accounted for.
2b. A segment numbered right after its sender's first captured FIN (``fins``), sent
   before any FIN of its sender was, follows a FIN the capture missed (lost before the
   capture point; the captured one is its resend): close() came before it. With
   ``early_close`` (the peer FIN's segment -> the revealing segment), close() came
   before that FIN arrived instead: the other reading when that segment ACKs the
   peer's FIN (a FIN may carry the ACK of the peer's, so the capture cannot tell).
3. An arrival is classified by RFC 9293 3.10.7 (:func:`core.classify.classify`) against
   what the receiver knows, and each trigger is looked up in the table. Segments that
   cannot change a state (data and ACKs in ESTABLISHED, FIN_WAIT_2, CLOSE_WAIT) take a
   fast path that only moves the numbers.
4. A side's own ACK numbers are evidence of what it received: they move its RCV.NXT
   forward over anything the capture missed (a FIN included), and an ACK sent from
   SYN_SENT means the peer's SYN+ACK came, captured or not.
5. Row k holds both states once segment k and every segment before it (in capture
   order) took effect: each segment takes effect at a flush point (just before the next
   arrival, loss or state-changing send after its own arrival or loss), and row k is the
   latest flush point of segments 0..k. Read down the rows, time never goes back, so
   each side's states follow its ``StateChanged`` events (``inferred=True``) in order.
6. Nothing here raises on odd traffic: a trigger with no row leaves the state as it is
   and is counted in ``Inference.anomalies``.
7. A side only sends what its state allows (:func:`send_conflict`): a CLOSED side sends
   nothing but RST or a new SYN, a SYN+ACK comes from SYN_RECEIVED, nothing is resent
   once the peer's ACK of it arrived (data of more than one octet, or a FIN, wholly
   below SND.UNA: the culprit is the ACK that moved SND.UNA; a one-octet keep-alive
   probe ends at SND.UNA and is allowed), no SYN is sent once synchronized. A send its
   sender's inferred state forbids is a :class:`Conflict`: the fates the walk was given
   are wrong (:mod:`core.replay.explain` repairs them and walks again).
8. With ``series``, each side's window bookkeeping is also kept as a series in time
   order (``Inference.series``): a new entry whenever an event changes that side's
   numbers, so SND.NXT never moves back; and both sides' numbers at each row's flush
   point (``Inference.client_windows``, ``server_windows``; rule 5). It costs
   snapshots per event, so a replay asks for it only when something draws the windows
   (:class:`core.replay.columns.LazyWindowSeries`); without ``series`` those lists
   are empty.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.classify import Receiver, classify
from core.progress import TICK_MASK, Progress, ignore
from core.replay.ooo import OutOfOrder
from core.segment import Flag, Segment, flags_text, seq_add, seq_diff
from core.states import Action, Side, TcpState, Timer, Trigger
from core.table import Opening, Row, lookup
from core.trace import AppNotified, Event, StateChanged, TimerStarted

S = TcpState
SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
_SYN_FIN_RST = SYN | FIN | RST
Arr = np.ndarray[Any, np.dtype[Any]]
_MASK = 0xFFFFFFFF
_HALF = 0x80000000
#: Receive window assumed at the receiver: a capture rarely shows the true one, and
#: classification must not drop segments that the receiver evidently took.
_ASSUMED_RCV_WND = 1 << 30
_FAST = frozenset({S.ESTABLISHED, S.FIN_WAIT_2, S.CLOSE_WAIT})
#: states that may send anything but a SYN (rule 7 needs no closer look)
_FREE = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK})
_ABORTS_FROM = frozenset({S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2,
                          S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT})
#: an RST without ACK from these states answers from a TCP that no longer has the
#: connection (RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>); an abort sends RST+ACK, and
#: a closing side resetting data after close() changes state at that RST
_FORGETS_FROM = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})
_REPORTS = {Action.REPORT_RESET: "connection reset by peer",
            Action.REPORT_REFUSED: "connection refused",
            Action.REPORT_TIMEOUT: "connection timed out"}

# event kinds in the merged, time-ordered event list
SENT, ARRIVED, LOST, SPARSE = 0, 1, 2, 3


class _Tcb:
    __slots__ = ("side", "state", "synced", "opening", "iss", "irs", "snd_una", "snd_nxt",
                 "snd_wnd", "rcv_nxt", "rcv_wnd", "fin_seq", "fin_received", "ooo", "shift",
                 "cause", "syn_acked", "una_by")

    def __init__(self, side: Side, state: TcpState, shift: int) -> None:
        self.side = side
        self.state = state
        self.synced = state.synchronized
        self.opening: Opening | None = None
        self.iss: int | None = None
        self.irs: int | None = None
        self.snd_una: int | None = None
        self.snd_nxt: int | None = None
        self.snd_wnd = 0
        self.rcv_nxt: int | None = None
        self.rcv_wnd = 0
        self.fin_seq: int | None = None
        self.fin_received = False
        self.ooo = OutOfOrder()             # out-of-order data: start -> end
        self.shift = shift                  # applied to this side's window field
        self.cause: int | None = None       # the arrival behind the last state change
        self.syn_acked = False              # it sent a SYN+ACK (answered a peer's SYN)
        self.una_by: int | None = None      # the arrival that last moved SND.UNA



#: (iss, irs, snd_una, snd_nxt, snd_wnd, rcv_nxt, rcv_wnd); unknown numbers are None
snapshot = operator.attrgetter("iss", "irs", "snd_una", "snd_nxt", "snd_wnd", "rcv_nxt",
                               "rcv_wnd")


@dataclass(slots=True)
class Inference:
    """What :func:`infer` found; per segment arrays are in timeline order."""

    client_after: list[TcpState]
    server_after: list[TcpState]
    sparse: list[Event]                   # state changes, timers, notices
    #: per row, each side's numbers (see ``snapshot``), with ``series`` (rule 8)
    client_windows: list[tuple[int | None, ...]] = field(default_factory=list)
    server_windows: list[tuple[int | None, ...]] = field(default_factory=list)
    #: the events in time order: kind (SENT, ARRIVED, LOST, SPARSE), and the segment
    #: (or for SPARSE, the index in ``sparse``) of each, and its time
    kinds: Arr = field(default_factory=lambda: np.zeros(0, np.int64))
    refs: Arr = field(default_factory=lambda: np.zeros(0, np.int64))
    times: Arr = field(default_factory=lambda: np.zeros(0, np.float64))
    anomalies: list[str] = field(default_factory=list)
    #: segments (ACKs sent from SYN_SENT) that prove an uncaptured SYN+ACK (rule 4)
    unseen_syn_acks: list[int] = field(default_factory=list)
    #: per side (client, server): times and bookkeeping values (rule 8)
    series: tuple[tuple[list[float], list[tuple[int | None, ...]]],
                  tuple[list[float], list[tuple[int | None, ...]]]] = (([], []), ([], []))
    #: RSTs without ACK from a side that had forgotten the connection (a restart)
    forgotten: list[int] = field(default_factory=list)
    #: the first send its sender's state forbids (rule 7), when the walk stopped there
    conflict: Conflict | None = None
    #: sends that broke rule 7 but were let through (the walk was told to tolerate them)
    tolerated: list[Conflict] = field(default_factory=list)


TOO_FAR, MISSING_SYN, MISSING_SYN_ACK, UNANSWERED, PROMPTED, ELIMINATED = (
    "too far", "missing SYN", "missing SYN+ACK", "unanswered probe", "prompted",
    "prompted, by elimination")


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """Rule 7 broken: segment ``segment`` could not be sent from ``state``."""

    segment: int
    side: Side
    state: TcpState
    kind: str                   # TOO_FAR: an arrival moved the side on too early;
    #                             MISSING_SYN: it must have received the peer's SYN
    culprit: int | None         # TOO_FAR: the arrival behind the side's last change
    reason: str


def send_conflict(state: TcpState, flags: int, seq: int, length: int, iss: int | None,
                  snd_una: int | None, cause: int | None,
                  answered: bool = True) -> str | None:
    """Rule 7: None when a side in ``state`` may send this segment, else the conflict kind;
    ``answered``: the side sent a SYN+ACK since it entered SYN_RECEIVED."""
    if flags & RST:
        return None
    syn, ack = flags & SYN, flags & ACK
    if state is S.CLOSED or state is S.LISTEN:
        fresh = iss is None or seq != iss
        if syn and fresh and (state is S.CLOSED or ack):
            return None                       # connect(), or a SYN+ACK to an unseen SYN
        return TOO_FAR if cause is not None else None
    if state is S.SYN_SENT:
        if syn:
            return MISSING_SYN if ack else None
        # an ACK from SYN_SENT: the peer's SYN+ACK came (a captured one, if there is
        # one, arrived; otherwise rule 4 infers an uncaptured one)
        return MISSING_SYN_ACK if ack else None
    if state is S.SYN_RECEIVED:
        # a SYN taken in SYN_SENT is answered by SYN+ACK before anything else
        return None if syn or answered or cause is None else TOO_FAR
    if syn:
        return TOO_FAR                        # the handshake is not over for this side
    if state is S.FIN_WAIT_2 or state is S.TIME_WAIT:
        end = (seq + length + (1 if flags & FIN else 0)) & _MASK
        if (length or flags & FIN) and snd_una is not None and seq_diff(end, snd_una) > 0:
            return TOO_FAR                    # resends what the peer's ACK covered
    return None


def infer(*, send: list[float], arrive: list[float | None], from_client: list[bool],
          flags: list[int], seq: list[int], ack: list[int], length: list[int],
          window: list[int], shifts: tuple[int, int], initial: tuple[TcpState, TcpState],
          time_wait: float, stop_on_conflict: bool = False,
          tolerate: frozenset[int] = frozenset(), series: bool = False,
          fins: tuple[int | None, int | None] = (None, None),
          early_close: dict[int, int] | None = None,
          rfc1337: frozenset[Side] = frozenset(),
          progress: Progress = ignore) -> Inference:
    """Replay the segments through both sides' state machines (module rules). With
    ``stop_on_conflict``, the walk ends at the first send rule 7 forbids (unless it is in
    ``tolerate``) and returns it in ``Inference.conflict``. The sides in ``rfc1337``
    ignore RSTs in TIME_WAIT. ``progress(events done, events)`` counts sends and
    arrivals (two per segment) as :mod:`core.progress` says. ``arrive`` holds a time
    or None (lost) per segment, never NaN.

    The loop handles the common segments (no SYN, FIN or RST) inline, in the words of
    :meth:`_Run.sent` and :meth:`_Run.arrived`'s fast path; the rest go to ``_Run``."""
    n = len(send)
    progress(0, 2 * n)
    client = _Tcb(Side.CLIENT, initial[0], shifts[0])
    server = _Tcb(Side.SERVER, initial[1], shifts[1])
    sent_at = np.array(send, dtype=np.float64)
    fate = np.array(arrive, dtype=np.float64)                  # None -> nan
    lost_at = np.isnan(fate)
    at = np.concatenate([sent_at, np.where(lost_at, sent_at, fate)])
    tie = np.concatenate([np.arange(n, dtype=np.float64), np.arange(n) + 0.5])
    events = np.lexsort((tie, at))
    progress(0, 2 * n)
    out = Inference(client_after=[initial[0]] * n, server_after=[initial[1]] * n,
                    sparse=[])
    if series:
        out.client_windows, out.server_windows = [()] * n, [()] * n
    run = _Run(client, server, out, time_wait, series)
    run.rfc1337 = rfc1337
    fast, free = _FAST, _FREE
    # (sender, receiver) by from_client
    pairs = ((server, client), (client, server))
    # rule 5: the step of each segment's arrival (or loss), -1 until walked; a segment
    # waits for the next flush point after it (see _Run.monotone_rows)
    row_at = [-1] * n
    pending = False
    # rule 2b: the number right after each side's first captured FIN (-1: none), by
    # from_client
    after = [-1 if f is None else (f + 1) & _MASK for f in fins]
    after_fin = (after[1], after[0])
    sfr = _SYN_FIN_RST
    for step, e in enumerate(events.tolist()):
        if not step & TICK_MASK:
            progress(step, 2 * n)
        if e < n:
            k = e
            time = send[k]
            fc = from_client[k]
            sender, receiver = pairs[fc]
            f = flags[k]
            state = sender.state
            if not f & sfr and state in free and seq[k] != after_fin[fc]:
                # the common send, inline: no application call (rule 2), nothing to
                # flush, rule 7's one question, then _Run.sent's numbers
                s, ln = seq[k], length[k]
                if ln > 1 and sender.una_by is not None:
                    una = sender.snd_una
                    if una is not None and ((una - ((s + ln) & _MASK)) & _MASK) < _HALF:
                        # a resend of octets an arrived ACK covered: no TCP sends that
                        conflict = _conflict(k, sender, state, TOO_FAR, sender.una_by, f)
                        if stop_on_conflict and k not in tolerate:
                            out.conflict = conflict
                            break
                        out.tolerated.append(conflict)
                if sender.snd_una is None:
                    sender.snd_una = s
                end = (s + ln) & _MASK
                nxt = sender.snd_nxt
                if nxt is None or 0 < ((end - nxt) & _MASK) < _HALF:
                    sender.snd_nxt = end
                sender.rcv_wnd = window[k] << sender.shift
                if f & ACK:
                    a = ack[k]
                    rcv_nxt = sender.rcv_nxt
                    if rcv_nxt is None or 0 < ((a - rcv_nxt) & _MASK) < _HALF:
                        if receiver.fin_seq is None or sender.fin_received:
                            sender.rcv_nxt = a              # rule 4, no FIN in question
                        else:
                            run.step = step
                            run.evidence(sender, receiver, a, time, k)
                if series:
                    run.note(sender, time)
                continue
            if f & sfr:
                trigger = run.app_trigger(sender, f, seq[k])
            elif (seq[k] == after_fin[fc] and sender.fin_seq is None and state in free):
                # rule 2b: this segment follows a FIN the capture missed: close() came
                trigger = Trigger.CLOSE
                sender.fin_seq = (seq[k] - 1) & _MASK
            else:
                trigger = None
            if pending and (trigger is not None or (
                    state is S.SYN_SENT and f & ACK and not f & (SYN | RST))):
                run.flush(step, reveal=True)                # this send reveals a change
                pending = False
            kind, culprit = None, sender.cause
            if state in free and not f & SYN:
                una = sender.snd_una
                if (length[k] > 1 or f & FIN) and una is not None and sender.una_by is not None:
                    # a resend of octets an arrived ACK covered: no TCP sends that
                    end = (seq[k] + length[k] + (1 if f & FIN else 0)) & _MASK
                    if ((una - end) & _MASK) < _HALF:
                        kind, culprit = TOO_FAR, sender.una_by
            else:
                kind = send_conflict(
                    state, f, seq[k], length[k], sender.iss, sender.snd_una,
                    sender.cause, sender.syn_acked or sender.opening is not Opening.ACTIVE)
            if kind is not None:
                conflict = _conflict(k, sender, state, kind, culprit, f)
                if stop_on_conflict and k not in tolerate:
                    out.conflict = conflict
                    break
                out.tolerated.append(conflict)
            run.step = step
            run.sent(sender, receiver, time, k, trigger, f, seq[k], ack[k], length[k],
                     window[k])
            if series:
                run.note(sender, time)
            continue
        k = e - n
        if pending and series:
            run.flush(step)
        pending = True
        row_at[k] = step
        arrived = arrive[k]
        if arrived is None:
            continue                        # lost
        time = arrived
        sender, receiver = pairs[from_client[k]]
        f = flags[k]
        if early_close and k in early_close and receiver.fin_seq is None \
                and receiver.state in free:
            # rule 2b: the receiver's uncaptured FIN left before this FIN arrived
            run.step = step
            theirs = after_fin[not from_client[k]]
            receiver.fin_seq = (theirs - 1) & _MASK
            if receiver.snd_nxt is None or seq_diff(theirs, receiver.snd_nxt) > 0:
                receiver.snd_nxt = theirs
            run.fire(receiver, Trigger.CLOSE, time, early_close[k])
        if receiver.state in fast and not f & _SYN_FIN_RST:
            # rule 3's fast path, inline: numbers only; rule 8 only when they moved
            una = receiver.snd_una
            if series:
                wnd, rcv = receiver.snd_wnd, receiver.rcv_nxt
            if f & ACK and una is not None and receiver.snd_nxt is not None:
                a = ack[k]     # acks_new, inline: SND.UNA < a <= SND.NXT (mod 2**32)
                if 0 < ((a - una) & _MASK) <= _HALF \
                        and ((receiver.snd_nxt - a) & _MASK) <= _HALF:
                    receiver.snd_una = a
                    receiver.una_by = k
                receiver.snd_wnd = window[k] << sender.shift
            if length[k]:
                # _Run.take_data, inline
                s, rcv_nxt = seq[k], receiver.rcv_nxt
                end = (s + length[k]) & _MASK
                if rcv_nxt is None:
                    receiver.rcv_nxt = end
                elif 0 < ((s - rcv_nxt) & _MASK) < _HALF:     # ahead: held
                    receiver.ooo.hold(s, end, rcv_nxt)
                elif 0 < ((end - rcv_nxt) & _MASK) < _HALF:
                    receiver.rcv_nxt = receiver.ooo.release(end) if receiver.ooo else end
            if series and (una != receiver.snd_una or wnd != receiver.snd_wnd
                           or rcv != receiver.rcv_nxt):
                run.note(receiver, time)
        else:
            run.step = step
            run.arrived(receiver, sender, time, k, f, seq[k], ack[k], length[k], window[k])
            if series:
                run.note(receiver, time)
    else:
        step = len(events)                  # every event walked (no conflict stopped it)
    if pending:
        run.flush(step)
    progress(2 * n, 2 * n)
    run.monotone_rows(row_at, initial, step, lambda: progress(2 * n, 2 * n))
    run.event_order(events[:step], n, lost_at, at[events[:step]])
    out.series = (run.series[0], run.series[1])
    progress(2 * n, 2 * n)
    return out


def _conflict(k: int, sender: _Tcb, state: TcpState, kind: str, culprit: int | None,
              flags: int) -> Conflict:
    return Conflict(segment=k, side=sender.side, state=state, kind=kind, culprit=culprit,
                    reason=f"{sender.side.value} sends {_flag_text(flags)} in {state.value}")


def _flag_text(flags: int) -> str:
    return flags_text(Flag(flags & 0x1FF))


class _Run:
    __slots__ = ("client", "server", "out", "time_wait", "series", "reveals", "flushes",
                 "numbers", "rfc1337", "step", "sparse_at", "sparse_times", "keep_numbers")

    def __init__(self, client: _Tcb, server: _Tcb, out: Inference, time_wait: float,
                 numbers: bool = False) -> None:
        self.client, self.server, self.out, self.time_wait = client, server, out, time_wait
        self.keep_numbers = numbers
        self.rfc1337: frozenset[Side] = frozenset()
        #: rule 8: per side, times and bookkeeping values
        self.series: tuple[tuple[list[float], list[tuple[int | None, ...]]], ...] = (
            ([], []), ([], []))
        #: rule 5: the steps of the flush points made by a send (the others are the
        #: arrivals and losses, and the end); with ``keep_numbers``, the step of every
        #: flush point and both sides' numbers there
        self.reveals: list[int] = []
        self.flushes: list[int] = []
        self.numbers: list[tuple[tuple[int | None, ...], tuple[int | None, ...]]] = []
        #: the walk's step (its position among sends and arrivals in time order), and
        #: per sparse event, the step that made it and its time
        self.step = 0
        self.sparse_at: list[int] = []
        self.sparse_times: list[float] = []

    def note(self, tcb: _Tcb, time: float) -> None:
        """Rule 8: a new entry in ``tcb``'s series when its numbers changed."""
        times, values = self.series[0 if tcb.side is Side.CLIENT else 1]
        now = snapshot(tcb)
        if not values or values[-1] != now:
            if times and times[-1] == time:
                values[-1] = now
            else:
                times.append(time)
                values.append(now)

    def flush(self, step: int, reveal: bool = False) -> None:
        """Rule 5: a flush point at ``step`` (before that step's event took effect); one
        made by a send (``reveal``) is noted, the others follow from the walk."""
        if reveal:
            self.reveals.append(step)
        if self.keep_numbers:
            self.flushes.append(step)
            self.numbers.append((snapshot(self.client), snapshot(self.server)))

    def monotone_rows(self, row_at: list[int], initial: tuple[TcpState, TcpState], end: int,
                      check: Callable[[], None]) -> None:
        """Rule 5: row k is the latest flush point of segments 0..k. ``row_at``: the step
        of each segment's arrival or loss (-1: not walked), ``end`` the steps walked. A
        segment's flush point is the first after its step: the next arrival or loss, a
        send that flushed (``reveals``), or the end. The states there are those after
        every change made before that step; ``check()`` between the passes."""
        at = np.array(row_at, dtype=np.int64)
        walked = np.sort(at[at >= 0])
        if not walked.size:
            return                              # no flush point: the initial states
        points = np.sort(np.concatenate([walked, np.array(self.reveals, np.int64), [end]]))
        first = points[np.searchsorted(points, walked[0], side="right")]
        flush = np.where(at >= 0, points[np.minimum(np.searchsorted(points, at, side="right"),
                                                    points.size - 1)], first)
        latest = np.maximum.accumulate(flush)
        check()
        out = self.out
        for side, start in ((Side.CLIENT, initial[0]), (Side.SERVER, initial[1])):
            steps, states = [], [start]
            for ev, step in zip(out.sparse, self.sparse_at, strict=True):
                if isinstance(ev, StateChanged) and ev.side is side:
                    steps.append(step)
                    states.append(ev.new)
            rows = np.array(states, dtype=object)[
                np.searchsorted(np.array(steps, np.int64), latest, side="left")].tolist()
            if side is Side.CLIENT:
                out.client_after = rows
            else:
                out.server_after = rows
        if self.keep_numbers:
            check()
            numbers = [self.numbers[p] for p in np.searchsorted(
                np.array(self.flushes, np.int64), latest, side="left").tolist()]
            out.client_windows = [r[0] for r in numbers]
            out.server_windows = [r[1] for r in numbers]

    def event_order(self, events: Arr, n: int, lost: Arr, times: Arr) -> None:
        """``Inference.kinds``, ``refs`` and ``times``: the walked ``events`` (positions
        in the sends followed by the arrivals, time order; ``times`` theirs), each sparse
        event right after the step that made it."""
        refs = np.where(events < n, events, events - n)
        kinds = np.where(events < n, SENT, np.where(lost[refs], LOST, ARRIVED))
        if self.sparse_at:
            at = np.array(self.sparse_at, dtype=np.int64) + 1
            kinds = np.insert(kinds, at, SPARSE)
            refs = np.insert(refs, at, np.arange(at.size))
            times = np.insert(times, at, self.sparse_times)
        out = self.out
        out.kinds, out.refs, out.times = kinds, refs, times

    # ------------------------------------------------------------------ sending
    @staticmethod
    def app_trigger(tcb: _Tcb, flags: int, seq: int) -> Trigger | None:
        """The application call a segment reveals (rule 2), if any."""
        if flags & SYN and not flags & ACK and not flags & RST:
            return Trigger.ACTIVE_OPEN if tcb.state is S.CLOSED else None
        if flags & RST:
            if tcb.state in _FORGETS_FROM and not flags & ACK:
                return None                   # a reply from a TCP without the connection
            if tcb.state in _ABORTS_FROM and (tcb.snd_nxt is None or seq == tcb.snd_nxt):
                return Trigger.ABORT
            return None
        if flags & FIN and tcb.fin_seq is None and tcb.state not in (S.CLOSED, S.LISTEN):
            return Trigger.CLOSE
        return None

    def sent(self, tcb: _Tcb, peer: _Tcb, time: float, k: int, trigger: Trigger | None,
             flags: int, seq: int, ack: int, length: int, window: int) -> None:
        if flags & RST and not flags & ACK and tcb.state in _FORGETS_FROM:
            self.out.forgotten.append(k)
            self.change(tcb, S.CLOSED, None, time, k)
            tcb.irs = tcb.rcv_nxt = tcb.fin_seq = None
            tcb.fin_received = False
            return
        syn = flags & SYN
        if syn and flags & ACK:
            tcb.syn_acked = True
        if syn and flags & ACK and tcb.state in (S.LISTEN, S.CLOSED):
            # a SYN+ACK whose SYN was not seen arriving: the SYN reached us uncaptured
            tcb.opening = Opening.PASSIVE
            tcb.irs = (ack - 1) & _MASK
            tcb.rcv_nxt = ack
            self.listen(tcb, time, k)
            self.change(tcb, S.SYN_RECEIVED, Trigger.RCV_SYN, time, k)
        if syn:
            tcb.iss = seq
            if tcb.snd_una is None or not tcb.synced:
                tcb.snd_una = seq
        if tcb.snd_una is None:
            tcb.snd_una = seq
        end = (seq + length + (1 if syn else 0) + (1 if flags & FIN else 0)) & _MASK
        if tcb.snd_nxt is None or 0 < ((end - tcb.snd_nxt) & _MASK) < _HALF:   # seq_diff > 0
            tcb.snd_nxt = end
        if flags & FIN and tcb.fin_seq is None:
            tcb.fin_seq = (end - 1) & _MASK
        tcb.rcv_wnd = window if syn else window << tcb.shift
        if flags & ACK and not syn and not flags & RST and tcb.state is S.SYN_SENT:
            self.unseen_syn_ack(tcb, peer, ack, time, k)
        if flags & ACK and not syn and tcb.synced and not flags & RST:
            if tcb.rcv_nxt is None or 0 < ((ack - tcb.rcv_nxt) & _MASK) < _HALF:
                self.evidence(tcb, peer, ack, time, k)
        if trigger is not None:
            self.fire(tcb, trigger, time, k)

    def unseen_syn_ack(self, tcb: _Tcb, peer: _Tcb, ack: int, time: float, k: int) -> None:
        """Rule 4 for the handshake: an ACK sent from SYN_SENT means the peer's SYN+ACK
        (seq ``ack - 1``) was sent and received, though the capture missed it."""
        iss = (ack - 1) & _MASK
        self.out.unseen_syn_acks.append(k)
        if peer.iss is None:
            peer.iss, peer.snd_una = iss, iss
        if peer.snd_nxt is None or seq_diff(ack, peer.snd_nxt) > 0:
            peer.snd_nxt = ack
        if peer.state in (S.LISTEN, S.CLOSED):
            peer.opening = Opening.PASSIVE
            self.listen(peer, time, k)
            self.change(peer, S.SYN_RECEIVED, Trigger.RCV_SYN, time, k)
        tcb.irs, tcb.rcv_nxt = iss, ack
        tcb.snd_una = tcb.snd_nxt
        self.fire(tcb, Trigger.RCV_SYN_ACK, time, k)

    def listen(self, tcb: _Tcb, time: float, k: int) -> None:
        """A CLOSED side about to take a SYN must have listened first (an uncaptured
        listen(): CLOSED -> LISTEN is the table's only way to SYN_RECEIVED from there)."""
        if tcb.state is S.CLOSED:
            self.change(tcb, S.LISTEN, Trigger.PASSIVE_OPEN, time, k)

    def evidence(self, tcb: _Tcb, peer: _Tcb, ack: int, time: float, k: int) -> None:
        """Rule 4: our ACK says we received up to ``ack``."""
        tcb.rcv_nxt = ack
        if (peer.fin_seq is not None and not tcb.fin_received
                and seq_diff(ack, peer.fin_seq) > 0):
            tcb.fin_received = True
            row = lookup(tcb.state, Trigger.RCV_FIN, tcb.opening)
            if row is not None:
                self.change(tcb, row.target(tcb.state), Trigger.RCV_FIN, time, k)

    # ----------------------------------------------------------------- arriving
    def arrived(self, tcb: _Tcb, peer: _Tcb, time: float, k: int, flags: int, seq: int,
                ack: int, length: int, window: int) -> None:
        """The slow path of rule 3 (the fast one is inline in :func:`infer`)."""
        seg = Segment(seq=seq, ack=ack, flags=Flag(flags), window=window, length=length)
        if tcb.rcv_nxt is None and tcb.synced:
            tcb.rcv_nxt = seq                # mid-stream start: take the first byte seen
        r = Receiver(state=tcb.state, iss=tcb.iss or 0, irs=tcb.irs,
                     snd_una=tcb.snd_una if tcb.snd_una is not None else ack,
                     snd_nxt=tcb.snd_nxt if tcb.snd_nxt is not None else ack,
                     rcv_nxt=tcb.rcv_nxt or 0, rcv_wnd=_ASSUMED_RCV_WND,
                     fin_seq=tcb.fin_seq, fin_received=tcb.fin_received,
                     rfc1337=tcb.side in self.rfc1337)
        for trigger in classify(r, seg):
            row = self.row(tcb, trigger, k)
            if row is None:
                continue
            for action in row.actions:
                self.act(tcb, peer, action, seg, time, k)
            self.change(tcb, row.target(tcb.state), trigger, time, k, cause=k)

    def act(self, tcb: _Tcb, peer: _Tcb, action: Action, seg: Segment, time: float,
            k: int) -> None:
        if action is Action.ACCEPT_SYN:
            tcb.irs = seg.seq
            tcb.rcv_nxt = seq_add(seg.seq, 1)
            if tcb.opening is None:
                tcb.opening = Opening.ACTIVE if tcb.state is S.SYN_SENT else Opening.PASSIVE
        elif action is Action.ACCEPT_ACK:
            if seg.has(Flag.ACK):
                tcb.snd_una = seg.ack
                tcb.una_by = k
                tcb.snd_wnd = seg.window << (0 if seg.has(Flag.SYN) else peer.shift)
        elif action is Action.ACCEPT_DATA:
            self.take_data(tcb, seg.seq, seg.length)
        elif action is Action.ACCEPT_FIN:
            tcb.rcv_nxt = seg.end
            tcb.fin_received = True
        elif action is Action.START_2MSL:
            self.out.sparse.append(TimerStarted(time=time, side=tcb.side, timer=Timer.TIME_WAIT,
                                                deadline=time + self.time_wait))
            self._mark_sparse(time)
        elif action in _REPORTS:
            self.out.sparse.append(AppNotified(time=time, side=tcb.side,
                                               message=_REPORTS[action]))
            self._mark_sparse(time)
        elif action in (Action.DELETE_TCB, Action.FORGET_PEER):
            tcb.irs = tcb.rcv_nxt = tcb.fin_seq = None
            tcb.fin_received = False
            tcb.ooo.clear()

    @staticmethod
    def take_data(tcb: _Tcb, seq: int, length: int) -> None:
        nxt = tcb.rcv_nxt
        end = (seq + length) & _MASK
        if nxt is None:
            tcb.rcv_nxt = end
            return
        if 0 < ((seq - nxt) & _MASK) < _HALF:          # seq_diff(seq, nxt) > 0: ahead
            tcb.ooo.hold(seq, end, nxt)
            return
        if not 0 < ((end - nxt) & _MASK) < _HALF:      # seq_diff(end, nxt) <= 0
            return
        tcb.rcv_nxt = tcb.ooo.release(end) if tcb.ooo else end

    # ------------------------------------------------------------------ changes
    def row(self, tcb: _Tcb, trigger: Trigger, k: int) -> Row | None:
        """The table's row for ``trigger`` in ``tcb``'s state; None (noted) if none."""
        row = lookup(tcb.state, trigger, tcb.opening)
        if row is None:
            self.out.anomalies.append(
                f"{tcb.side.value}: {trigger.value} in {tcb.state.value} (segment {k})")
        return row

    def fire(self, tcb: _Tcb, trigger: Trigger, time: float, k: int) -> None:
        row = self.row(tcb, trigger, k)
        if row is None:
            return
        if trigger is Trigger.ACTIVE_OPEN:
            tcb.opening = Opening.ACTIVE
        self.change(tcb, row.target(tcb.state), trigger, time, k)

    def change(self, tcb: _Tcb, new: TcpState, trigger: Trigger | None, time: float, k: int,
               cause: int | None = None) -> None:
        if new is tcb.state:
            return
        tcb.cause = cause
        self.out.sparse.append(StateChanged(time=time, side=tcb.side, old=tcb.state, new=new,
                                            trigger=trigger, segment=k, inferred=True))
        self._mark_sparse(time)
        tcb.state = new
        tcb.synced = new.synchronized

    def _mark_sparse(self, time: float) -> None:
        self.sparse_at.append(self.step)
        self.sparse_times.append(time)


