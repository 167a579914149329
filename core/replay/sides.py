"""The two sides of :mod:`core.replay.infer`'s walk and what the walk records.

    Tcb           one side's state and numbers (SND.UNA, SND.NXT, RCV.NXT, ...)
    Inference     what a walk found (both states per row, events, anomalies, conflicts)
    Run           the walk's bookkeeping, and the slow paths of the rules: every send
                  with SYN, FIN or RST or from a state that needs a closer look
                  (``sent``), every arrival that may change a state (``arrived``)

The rules are those of :mod:`core.replay.infer`; its loop does the common segments
inline, in the words of ``Run.sent`` and ``Run.take_data`` (``infer(reference=True)``
sends every segment through them; tests compare the two walks).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.replay.conflict import Conflict
from core.replay.ooo import OutOfOrder
from core.tcp.classify import Receiver, classify
from core.tcp.segment import Flag, Segment, seq_add, seq_diff
from core.tcp.states import Action, Side, TcpState, Timer, Trigger
from core.tcp.table import Opening, Row, lookup
from core.trace import AppNotified, Event, StateChanged, TimerStarted

S = TcpState
SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
Arr = np.ndarray[Any, np.dtype[Any]]
_MASK = 0xFFFFFFFF
_HALF = 0x80000000
#: Receive window assumed at the receiver: a capture rarely shows the true one, and
#: classification must not drop segments that the receiver evidently took.
_ASSUMED_RCV_WND = 1 << 30
_ABORTS_FROM = frozenset({S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2,
                          S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT})
#: an RST without ACK from these states answers from a TCP that no longer has the
#: connection (RFC 9293 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>); an abort sends RST+ACK, and
#: a closing side resetting data after close() changes state at that RST
_FORGETS_FROM = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})
_REPORTS = {Action.REPORT_RESET: "connection reset by peer",
            Action.REPORT_REFUSED: "connection refused",
            Action.REPORT_TIMEOUT: "connection timed out"}


class Tcb:
    """One side of the walk: its state and numbers (None: not known yet)."""

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


class Run:
    """The walk's bookkeeping beside the two sides, and the slow paths of rules 2-6."""

    __slots__ = ("client", "server", "out", "time_wait", "series", "reveals", "flushes",
                 "states", "numbers", "rfc1337", "step", "sparse_at", "sparse_times", "keep",
                 "keep_numbers")

    def __init__(self, client: Tcb, server: Tcb, out: Inference, time_wait: float,
                 keep: bool = False, numbers: bool = False) -> None:
        self.client, self.server, self.out, self.time_wait = client, server, out, time_wait
        self.keep, self.keep_numbers = keep or numbers, numbers
        self.rfc1337: frozenset[Side] = frozenset()
        #: rule 8: per side, times and bookkeeping values
        self.series: tuple[tuple[list[float], list[tuple[int | None, ...]]], ...] = (
            ([], []), ([], []))
        #: rule 5: the steps of the flush points made by a send (the others are the
        #: arrivals and losses, and the end); with ``keep``, the step of every flush
        #: point, both states there and (``keep_numbers``) both sides' numbers
        self.reveals: list[int] = []
        self.flushes: list[int] = []
        self.states: list[tuple[TcpState, TcpState]] = []
        self.numbers: list[tuple[tuple[int | None, ...], tuple[int | None, ...]]] = []
        #: the walk's step (its position among sends and arrivals in time order), and
        #: per sparse event, the step that made it and its time
        self.step = 0
        self.sparse_at: list[int] = []
        self.sparse_times: list[float] = []

    def note(self, tcb: Tcb, time: float) -> None:
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
        made by a send (``reveal``) is noted, the others follow from the walk. With
        ``keep``, the point's step, both states and (``keep_numbers``) both sides'
        numbers are recorded."""
        if reveal:
            self.reveals.append(step)
        if self.keep:
            self.flushes.append(step)
            self.states.append((self.client.state, self.server.state))
            if self.keep_numbers:
                self.numbers.append((snapshot(self.client), snapshot(self.server)))

    # ------------------------------------------------------------------ sending
    @staticmethod
    def app_trigger(tcb: Tcb, flags: int, seq: int) -> Trigger | None:
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

    def sent(self, tcb: Tcb, peer: Tcb, time: float, k: int, trigger: Trigger | None,
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

    def unseen_syn_ack(self, tcb: Tcb, peer: Tcb, ack: int, time: float, k: int) -> None:
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

    def listen(self, tcb: Tcb, time: float, k: int) -> None:
        """A CLOSED side about to take a SYN must have listened first (an uncaptured
        listen(): CLOSED -> LISTEN is the table's only way to SYN_RECEIVED from there)."""
        if tcb.state is S.CLOSED:
            self.change(tcb, S.LISTEN, Trigger.PASSIVE_OPEN, time, k)

    def evidence(self, tcb: Tcb, peer: Tcb, ack: int, time: float, k: int) -> None:
        """Rule 4: our ACK says we received up to ``ack``."""
        tcb.rcv_nxt = ack
        if (peer.fin_seq is not None and not tcb.fin_received
                and seq_diff(ack, peer.fin_seq) > 0):
            tcb.fin_received = True
            row = lookup(tcb.state, Trigger.RCV_FIN, tcb.opening)
            if row is not None:
                self.change(tcb, row.target(tcb.state), Trigger.RCV_FIN, time, k)

    # ----------------------------------------------------------------- arriving
    def arrived(self, tcb: Tcb, peer: Tcb, time: float, k: int, flags: int, seq: int,
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

    def act(self, tcb: Tcb, peer: Tcb, action: Action, seg: Segment, time: float,
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
    def take_data(tcb: Tcb, seq: int, length: int) -> None:
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
    def row(self, tcb: Tcb, trigger: Trigger, k: int) -> Row | None:
        """The table's row for ``trigger`` in ``tcb``'s state; None (noted) if none."""
        row = lookup(tcb.state, trigger, tcb.opening)
        if row is None:
            self.out.anomalies.append(
                f"{tcb.side.value}: {trigger.value} in {tcb.state.value} (segment {k})")
        return row

    def fire(self, tcb: Tcb, trigger: Trigger, time: float, k: int) -> None:
        row = self.row(tcb, trigger, k)
        if row is None:
            return
        if trigger is Trigger.ACTIVE_OPEN:
            tcb.opening = Opening.ACTIVE
        self.change(tcb, row.target(tcb.state), trigger, time, k)

    def change(self, tcb: Tcb, new: TcpState, trigger: Trigger | None, time: float, k: int,
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
