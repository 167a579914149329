"""Both sides' TCP states along a captured stream, inferred from what each side sent and
received, with the transition table of :mod:`core.tcp.table`.

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
3. An arrival is classified by RFC 9293 3.10.7 (:func:`core.tcp.classify.classify`) against
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

This module is the walk's loop; the two sides, what the walk records and the slow paths
of the rules are :mod:`core.replay.sides`, rule 7's verdict on a send
:mod:`core.replay.conflict`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from core.progress import TICK_MASK, Progress, ignore
from core.replay.conflict import TOO_FAR, conflict_of, send_conflict
from core.replay.sides import Inference, Run, Tcb
from core.tcp.segment import seq_diff
from core.tcp.states import Side, TcpState, Trigger
from core.tcp.table import Opening
from core.trace import StateChanged

S = TcpState
SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
_SYN_FIN_RST = SYN | FIN | RST
Arr = np.ndarray[Any, np.dtype[Any]]
_MASK = 0xFFFFFFFF
_HALF = 0x80000000
_FAST = frozenset({S.ESTABLISHED, S.FIN_WAIT_2, S.CLOSE_WAIT})
#: states that may send anything but a SYN (rule 7 needs no closer look)
_FREE = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK})

# event kinds in the merged, time-ordered event list
SENT, ARRIVED, LOST, SPARSE = 0, 1, 2, 3


def infer(*, send: list[float], arrive: list[float | None], from_client: list[bool],
          flags: list[int], seq: list[int], ack: list[int], length: list[int],
          window: list[int], shifts: tuple[int, int], initial: tuple[TcpState, TcpState],
          time_wait: float, stop_on_conflict: bool = False,
          tolerate: frozenset[int] = frozenset(), series: bool = False,
          fins: tuple[int | None, int | None] = (None, None),
          early_close: dict[int, int] | None = None,
          rfc1337: frozenset[Side] = frozenset(),
          progress: Progress = ignore, reference: bool = False) -> Inference:
    """Replay the segments through both sides' state machines (module rules). With
    ``stop_on_conflict``, the walk ends at the first send rule 7 forbids (unless it is in
    ``tolerate``) and returns it in ``Inference.conflict``. The sides in ``rfc1337``
    ignore RSTs in TIME_WAIT. ``progress(events done, events)`` counts sends and
    arrivals (two per segment) as :mod:`core.progress` says. ``arrive`` holds a time
    or None (lost) per segment, never NaN.

    The loop handles the common segments (no SYN, FIN or RST) inline, in the words of
    :meth:`Run.sent` and :meth:`Run.take_data`, and finds the rows from the steps of the
    flush points and state changes after the walk (:func:`_rows`). With ``reference``,
    every send goes to ``Run.sent``, all data to ``Run.take_data``, and the rows are
    those of each flush point as it was made: the readable definitions, which tests
    compare with the fast walk."""
    n = len(send)
    progress(0, 2 * n)
    client = Tcb(Side.CLIENT, initial[0], shifts[0])
    server = Tcb(Side.SERVER, initial[1], shifts[1])
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
    run = Run(client, server, out, time_wait, keep=reference, numbers=series)
    keep, inline = run.keep, not reference
    points = [0] * n if reference else []       # each segment's flush point (reference)
    run.rfc1337 = rfc1337
    fast, free = _FAST, _FREE
    # (sender, receiver) by from_client
    pairs = ((server, client), (client, server))
    # rule 5: the step of each segment's arrival (or loss), -1 until walked; a segment
    # waits for the next flush point after it (see _rows)
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
            if inline and not f & sfr and state in free and seq[k] != after_fin[fc]:
                # the common send, inline: no application call (rule 2), nothing to
                # flush, rule 7's one question, then Run.sent's numbers
                s, ln = seq[k], length[k]
                if ln > 1 and sender.una_by is not None:
                    una = sender.snd_una
                    if una is not None and ((una - ((s + ln) & _MASK)) & _MASK) < _HALF:
                        # a resend of octets an arrived ACK covered: no TCP sends that
                        conflict = conflict_of(k, sender.side, state, TOO_FAR, sender.una_by, f)
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
                conflict = conflict_of(k, sender.side, state, kind, culprit, f)
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
        if pending and keep:
            run.flush(step)
        pending = True
        row_at[k] = step
        if reference:
            points[k] = len(run.flushes)
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
            if length[k] and not inline:
                Run.take_data(receiver, seq[k], length[k])
            elif length[k]:
                # Run.take_data, inline
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

    def check() -> None:                    # between the passes over the rows
        progress(2 * n, 2 * n)
    if reference:
        _reference_rows(out, run, points, check)
    else:
        _rows(out, run, row_at, initial, step, check)
    _event_order(out, run, events[:step], n, lost_at, at[events[:step]])
    out.series = (run.series[0], run.series[1])
    progress(2 * n, 2 * n)
    return out


def _rows(out: Inference, run: Run, row_at: list[int], initial: tuple[TcpState, TcpState],
          end: int, check: Callable[[], None]) -> None:
    """Rule 5: row k is the latest flush point of segments 0..k. ``row_at``: the step
    of each segment's arrival or loss (-1: not walked), ``end`` the steps walked. A
    segment's flush point is the first after its step: the next arrival or loss, a send
    that flushed (``Run.reveals``), or the end. The states there are those after every
    change made before that step; ``check()`` between the passes."""
    at = np.array(row_at, dtype=np.int64)
    walked = np.sort(at[at >= 0])
    if not walked.size:
        return                              # no flush point: the initial states
    points = np.sort(np.concatenate([walked, np.array(run.reveals, np.int64), [end]]))
    first = points[np.searchsorted(points, walked[0], side="right")]
    flush = np.where(at >= 0, points[np.minimum(np.searchsorted(points, at, side="right"),
                                                points.size - 1)], first)
    latest = np.maximum.accumulate(flush)
    check()
    for side, start in ((Side.CLIENT, initial[0]), (Side.SERVER, initial[1])):
        steps, states = [], [start]
        for ev, step in zip(out.sparse, run.sparse_at, strict=True):
            if isinstance(ev, StateChanged) and ev.side is side:
                steps.append(step)
                states.append(ev.new)
        rows = np.array(states, dtype=object)[
            np.searchsorted(np.array(steps, np.int64), latest, side="left")].tolist()
        if side is Side.CLIENT:
            out.client_after = rows
        else:
            out.server_after = rows
    if run.keep_numbers:
        check()
        _numbers(out, run, np.searchsorted(np.array(run.flushes, np.int64), latest,
                                           side="left").tolist())


def _reference_rows(out: Inference, run: Run, points: list[int],
                    check: Callable[[], None]) -> None:
    """Rule 5 as the reference walk keeps it: each segment's flush point by its number
    (``points``; 0 when not walked), both states recorded at each."""
    if not points or not run.states:
        return
    at = np.maximum.accumulate(np.array(points, dtype=np.int64)).tolist()
    check()
    out.client_after = [run.states[p][0] for p in at]
    out.server_after = [run.states[p][1] for p in at]
    if run.keep_numbers:
        check()
        _numbers(out, run, at)


def _numbers(out: Inference, run: Run, at: list[int]) -> None:
    """Rule 8: each row's numbers, those of its flush point (``at``: their indices)."""
    numbers = [run.numbers[p] for p in at]
    out.client_windows = [r[0] for r in numbers]
    out.server_windows = [r[1] for r in numbers]


def _event_order(out: Inference, run: Run, events: Arr, n: int, lost: Arr,
                 times: Arr) -> None:
    """``Inference.kinds``, ``refs`` and ``times``: the walked ``events`` (positions in
    the sends followed by the arrivals, time order; ``times`` theirs), each sparse event
    right after the step that made it."""
    refs = np.where(events < n, events, events - n)
    kinds = np.where(events < n, SENT, np.where(lost[refs], LOST, ARRIVED))
    if run.sparse_at:
        at = np.array(run.sparse_at, dtype=np.int64) + 1
        kinds = np.insert(kinds, at, SPARSE)
        refs = np.insert(refs, at, np.arange(at.size))
        times = np.insert(times, at, run.sparse_times)
    out.kinds, out.refs, out.times = kinds, refs, times
