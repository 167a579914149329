"""One TCP endpoint driven by the transition table in :mod:`core.tcp.table` (sans-IO).

Rules:
1. Every entry point takes ``now``; nothing reads a clock. Timers are deadlines:
   ask :meth:`Endpoint.next_deadline`, call :meth:`Endpoint.handle_timer` when due.
2. :meth:`Endpoint.receive` classifies a segment with RFC 9293 3.10.7's checks into
   triggers; state changes and side effects come only from table rows.
3. Output is pulled: :meth:`take_segments` and :meth:`take_events`.
4. An application call or timer with no row raises :class:`IllegalTransition`.
5. Timestamps and SACK (:mod:`core.tcp.tcpopts`) ride on the segments the rows send: once
   negotiated, every segment but a SYN or an RST answering a stray segment carries TS,
   and every such ACK SACK blocks while out-of-order data is held (a D-SACK first).
6. A FIN that arrives ahead of RCV.NXT (a gap before it) is held, like out-of-order data,
   and ACKed at once (a duplicate ACK, RFC 5681 4.2); it takes effect (the RCV_FIN row)
   when the gap is filled, as Linux's out-of-order queue does.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import IllegalTransition
from core.tcp.classify import Receiver, acks_new, classify, is_duplicate_ack
from core.tcp.config import EndpointConfig
from core.tcp.payload import fill
from core.tcp.rtt import RttEstimator
from core.tcp.segment import (
    NO_OPTIONS,
    SEQ_MOD,
    Flag,
    Options,
    Segment,
    seq_add,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_le,
)
from core.tcp.states import Action, Side, TcpState, Timer, Trigger, TriggerKind
from core.tcp.table import SENDING, Opening, Row, allowed, lookup, table_text, to_dot
from core.tcp.tcpopts import (
    SACK_BASE,
    SACK_BLOCK,
    TS_SPACE,
    ReceivedBlocks,
    Scoreboard,
    Timestamps,
    duplicate_range,
    sack_room,
)
from core.tcp.window import MAX_WSCALE, ReceiveBuffer, SendBuffer, window_field
from core.text import counted
from core.trace import (
    AppCalled,
    AppNotified,
    Event,
    StateChanged,
    TimerStarted,
    TimerStopped,
    WindowChanged,
    WindowSnapshot,
)

__all__ = ["Endpoint", "EndpointConfig", "table_text", "to_dot"]

S = TcpState
T = Trigger
_TIMER_TRIGGER = {Timer.TIME_WAIT: T.TIMEOUT_2MSL, Timer.RETRANSMIT: T.TIMEOUT_RETRANSMIT,
                  Timer.USER: T.TIMEOUT_USER, Timer.PERSIST: T.TIMEOUT_PERSIST,
                  Timer.DELAYED_ACK: T.TIMEOUT_DELAYED_ACK,
                  Timer.KEEPALIVE: T.TIMEOUT_KEEPALIVE}
_KEEPALIVE_STATES = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})
#: states in which queued data may still go out (our FIN may be queued behind it)
_DATA_STATES = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK})
_DEFAULT_MSS = 536  # RFC 9293 3.7.1, when the peer sent no MSS option
_ISS_STRIDE = 64_000_000  # a reopened endpoint picks a later ISS, like the RFC's clock
#: triggers of a segment that is dropped unprocessed: it leaves TS.Recent alone
_DROPPED = frozenset({T.RCV_UNACCEPTABLE, T.RCV_RST_IGNORED, T.RCV_BAD_ACK, T.RCV_SEGMENT})
#: states whose FIN arriving early is held until the gap before it fills (rule 6)
_HOLDS_FIN = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2})


class Endpoint:
    """One side of a TCP connection: the state machine plus SND/RCV bookkeeping."""

    def __init__(self, side: Side, config: EndpointConfig | None = None,
                 on_row: Callable[[TcpState, Trigger, Row], None] | None = None) -> None:
        self.side = side
        self.config = config or EndpointConfig()
        self.state = S.CLOSED
        self.opening: Opening | None = None
        self.error: str | None = None
        self._on_row = on_row
        self._events: list[Event] = []
        self._out: list[Segment] = []
        self._timers: dict[Timer, float] = {}
        self._opened = 0
        self._last_challenge = float("-inf")
        self._last_snapshot: WindowSnapshot | None = None
        self._new_tcb(self.config.iss)

    def _new_tcb(self, iss: int) -> None:
        self.iss = iss
        self.snd_una = self.snd_nxt = iss
        self.snd_wnd = 0
        self.irs: int | None = None
        self.rcv_nxt = 0
        self._sndbuf = SendBuffer()
        self._rcvbuf = ReceiveBuffer(self.config.recv_buffer)
        self._ooo: dict[int, bytes] = {}  # out-of-order data by sequence number
        self.delivered = 0  # octets delivered in order on this connection, read or not
        self._dup_acks = 0
        self._acked = 0  # the last ACK number sent
        self._unacked_segments = 0  # in-order data segments not yet acknowledged
        self._heard = False
        self._in_order = True  # the last data segment started at or before RCV.NXT
        self._probes = 0  # keep-alive probes without an answer
        self._quickacks = self.config.quickack
        self._fin_queued = False
        self._fin_seq: int | None = None
        self._fin_received = False
        self._ooo_fin: int | None = None  # where a FIN that came ahead of RCV.NXT sits
        self._peer_mss = _DEFAULT_MSS
        self._peer_wscale: int | None = None
        self._snd_shift = 0
        self._rcv_shift = 0
        self._rtt = RttEstimator(self.config.rto_initial, self.config.rto_min,
                                 self.config.rto_max)
        self._timed: tuple[int, float] | None = None  # (end seq, send time) being timed
        self._probe_backoff = 0
        self._ack_due = False
        self._progressed = False
        self._ts = Timestamps(offset=self.config.ts_offset)
        self._sack_ok = False  # both SYNs carried SACK-permitted
        self._sack_blocks = ReceivedBlocks()  # what we tell the peer we hold
        self._scoreboard = Scoreboard()  # what the peer told us it holds

    # ----- queries -------------------------------------------------------------------
    @property
    def rcv_wnd(self) -> int:
        return self._rcvbuf.free

    @property
    def syn_acked(self) -> bool:
        return seq_gt(self.snd_una, self.iss)

    @property
    def fin_sent(self) -> bool:
        return self._fin_seq is not None

    @property
    def fin_acked(self) -> bool:
        return self._fin_seq is not None and seq_gt(self.snd_una, self._fin_seq)

    @property
    def fin_received(self) -> bool:
        """The peer's FIN has arrived in order: reads will return end-of-file."""
        return self._fin_received

    @property
    def buffered(self) -> int:
        """Octets delivered in order and not yet read."""
        return len(self._rcvbuf)

    @property
    def send_room(self) -> int:
        """Octets send() can take now: the free space of the send buffer."""
        limit = self.config.send_buffer
        return SEQ_MOD if limit is None else max(0, limit - len(self._sndbuf))

    @property
    def received(self) -> bytes:
        """Octets delivered in order and not yet read (see :meth:`read`)."""
        return bytes(self._rcvbuf.data)

    def next_deadline(self) -> float | None:
        return min(self._timers.values(), default=None)

    def timers(self) -> dict[Timer, float]:
        return dict(self._timers)

    def allowed_calls(self) -> list[Trigger]:
        return allowed(self.state, self._opening_key(), TriggerKind.APP)

    def snapshot(self) -> WindowSnapshot:
        return WindowSnapshot(side=self.side, iss=self.iss, irs=self.irs, snd_una=self.snd_una,
                              snd_nxt=self.snd_nxt, snd_wnd=self.snd_wnd,
                              snd_queued=len(self._sndbuf) - self._data_in_flight(),
                              rcv_nxt=self.rcv_nxt, rcv_wnd=self.rcv_wnd,
                              rcv_buffered=len(self._rcvbuf))

    def take_segments(self) -> list[Segment]:
        out, self._out = self._out, []
        return out

    def take_events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    # ----- application calls ---------------------------------------------------------
    def passive_open(self, now: float) -> None:
        self._call(now, T.PASSIVE_OPEN)

    def active_open(self, now: float) -> None:
        self._call(now, T.ACTIVE_OPEN)

    def send(self, now: float, data: bytes, *, record: bool = True) -> int:
        """Queue as much of ``data`` as the send buffer has room for; return how much.

        ``record=False``: a blocked send() going on (the caller records its result)."""
        taken = data[:self.send_room]
        result = None
        if record:
            result = (f"{counted(len(taken), 'byte')} queued" if len(taken) == len(data) else
                      f"{len(taken)} of {counted(len(data), 'byte')} queued (send buffer full)")
        self._call(now, T.SEND, taken, result=result)
        return len(taken)

    def close(self, now: float) -> None:
        self._call(now, T.CLOSE)

    def abort(self, now: float) -> None:
        self._call(now, T.ABORT)

    def read(self, now: float, size: int | None = None) -> bytes:
        """The application reads; a window that reopens from zero is announced."""
        was_closed = self.rcv_wnd == 0
        data = self._rcvbuf.read(size)
        count = f"{len(data)} byte{'' if len(data) == 1 else 's'}"
        result = f"{count}: {preview(data)}" if data else (
            "0 bytes (end of stream)" if self._fin_received else "0 bytes")
        self._events.append(AppCalled(time=now, side=self.side, call="read", result=result))
        if was_closed and self.rcv_wnd and self.state.synchronized:
            self._ack_due = True
        self._finish(now)
        return data

    def _call(self, now: float, trigger: Trigger, data: bytes = b"", *,
              result: str | None = "ok") -> None:
        row = self._row(trigger)
        if trigger in (T.PASSIVE_OPEN, T.ACTIVE_OPEN):
            self._new_tcb((self.config.iss + self._opened * _ISS_STRIDE) % SEQ_MOD)
            self._opened += 1
            self.opening = Opening.PASSIVE if trigger is T.PASSIVE_OPEN else Opening.ACTIVE
            self.error = None
        if data:
            self._sndbuf.queue(data)
        if result is not None:
            self._events.append(AppCalled(time=now, side=self.side, call=trigger.value,
                                          result=result))
        self._run(now, trigger, row, None)
        self._finish(now)

    # ----- arriving segments ---------------------------------------------------------
    def receive(self, now: float, seg: Segment) -> None:
        self._heard = True
        triggers = classify(self._receiver(), seg)
        if self.irs is not None and triggers:
            self._note_options(seg, triggers)
        for trigger in triggers:
            self._run(now, trigger, self._row(trigger), seg)
        self._hold_fin(now, seg, triggers)
        if self._sack_blocks.dsack is not None:
            self._ack_due = True  # a duplicate is reported at once
        self._finish(now)

    def _hold_fin(self, now: float, seg: Segment, triggers: list[Trigger]) -> None:
        """Rule 6: keep a FIN that came early; run RCV_FIN once the gap before it fills."""
        if (seg.has(Flag.FIN) and not seg.has(Flag.RST) and self.irs is not None
                and self.state in _HOLDS_FIN and not self._fin_received
                and T.RCV_FIN not in triggers and T.RCV_FIN_ACK_OF_FIN not in triggers
                and triggers and triggers[0] not in _DROPPED):
            at = seq_add(seg.seq, seg.length)
            if 0 < seq_diff(at, self.rcv_nxt) < max(self.rcv_wnd, 1):
                self._ooo_fin = at
                self._ack_due = True            # out of order: a duplicate ACK at once
        if (self._ooo_fin is not None and self._ooo_fin == self.rcv_nxt
                and self.state in _HOLDS_FIN and not self._fin_received):
            self._ooo_fin = None
            self._run(now, T.RCV_FIN, self._row(T.RCV_FIN), None)

    def _note_options(self, seg: Segment, triggers: list[Trigger]) -> None:
        """Before the rows run: TS.Recent (RFC 7323 4.3) and a D-SACK (RFC 2883). In
        TIME_WAIT only a segment at RCV.NXT (an ACK, an RST) moves TS.Recent: Linux
        answers anything else (the peer's FIN again, an old duplicate) from its
        time-wait socket with the TSval it last took (tcp_timewait_state_process).
        Nor does a SYN sent again reaching SYN_RECEIVED: Linux's answer to it, and its
        timer's SYN+ACKs, echo the first SYN (tcp_check_req), as the kernel lab's
        lost_synack captures show."""
        if triggers[0] not in _DROPPED and (self.state is not S.TIME_WAIT
                                            or seg.seq == self.rcv_nxt) and not (
                self.state is S.SYN_RECEIVED and seg.has(Flag.SYN) and not seg.has(Flag.ACK)
                and seg.seq == self.irs):
            self._ts.on_arrival(seg, self._acked)
        if self._sack_ok and (triggers[0] is T.RCV_UNACCEPTABLE or T.RCV_DATA in triggers):
            dup = duplicate_range(seg, self.rcv_nxt, self._ooo)
            if dup is not None:
                self._sack_blocks.duplicate(*dup)

    def _receiver(self) -> Receiver:
        return Receiver(state=self.state, iss=self.iss, irs=self.irs, snd_una=self.snd_una,
                        snd_nxt=self.snd_nxt, rcv_nxt=self.rcv_nxt, rcv_wnd=self.rcv_wnd,
                        fin_seq=self._fin_seq, fin_received=self._fin_received,
                        snd_wnd=self.snd_wnd, snd_shift=self._snd_shift,
                        dup_acks=self._dup_acks, rfc1337=self.config.rfc1337)

    # ----- timers --------------------------------------------------------------------
    def handle_timer(self, now: float) -> None:
        """Fire every timer whose deadline is at or before ``now``, earliest first."""
        while True:
            due = [(deadline, timer.value, timer) for timer, deadline in self._timers.items()
                   if deadline <= now]
            if not due:
                break
            _, _, timer = min(due)
            del self._timers[timer]
            self._events.append(TimerStopped(time=now, side=self.side, timer=timer,
                                             expired=True))
            trigger = _TIMER_TRIGGER[timer]
            if timer is Timer.KEEPALIVE and self._probes >= self.config.keepalive_probes:
                trigger = T.TIMEOUT_USER  # no answer to any probe: the peer is gone
            self._run(now, trigger, self._row(trigger), None)
            self._finish(now)

    def _start_timer(self, now: float, timer: Timer, duration: float) -> None:
        self._timers[timer] = now + duration
        self._events.append(TimerStarted(time=now, side=self.side, timer=timer,
                                         deadline=now + duration))

    def _stop_timer(self, now: float, timer: Timer) -> None:
        if self._timers.pop(timer, None) is not None:
            self._events.append(TimerStopped(time=now, side=self.side, timer=timer,
                                             expired=False))

    def _update_timers(self, now: float) -> None:
        outstanding = self.state in SENDING and self.snd_nxt != self.snd_una
        progressed, self._progressed = self._progressed, False
        if outstanding and (progressed or Timer.RETRANSMIT not in self._timers):
            self._start_timer(now, Timer.RETRANSMIT, self._rtt.rto)
        elif not outstanding:
            self._stop_timer(now, Timer.RETRANSMIT)
        blocked = (self.state in _DATA_STATES and not outstanding and self.snd_wnd == 0
                   and len(self._sndbuf) > 0)
        if blocked and Timer.PERSIST not in self._timers:
            self._start_timer(now, Timer.PERSIST, self._probe_interval())
        elif not blocked:
            self._stop_timer(now, Timer.PERSIST)
        if Timer.DELAYED_ACK in self._timers and self._acked == self.rcv_nxt:
            self._stop_timer(now, Timer.DELAYED_ACK)  # an outgoing segment carried it
        idle = self.config.keepalive_idle
        heard, self._heard = self._heard, False
        if heard:
            self._probes = 0
        if idle is not None and self.state in _KEEPALIVE_STATES and not outstanding:
            if heard or progressed or Timer.KEEPALIVE not in self._timers:
                self._start_timer(now, Timer.KEEPALIVE, idle)
        else:
            self._stop_timer(now, Timer.KEEPALIVE)
        waiting = outstanding or self.state is S.FIN_WAIT_2
        if waiting and (progressed or Timer.USER not in self._timers):
            self._start_timer(now, Timer.USER, self.config.user_timeout)
        elif not waiting:
            self._stop_timer(now, Timer.USER)

    # ----- the engine ----------------------------------------------------------------
    def _opening_key(self) -> Opening | None:
        return self.opening if self.state is S.SYN_RECEIVED else None

    def _row(self, trigger: Trigger) -> Row:
        row = lookup(self.state, trigger, self._opening_key())
        if row is None:
            raise IllegalTransition(self.side, self.state, trigger)
        return row

    def _run(self, now: float, trigger: Trigger, row: Row, seg: Segment | None) -> None:
        if self._on_row is not None:
            self._on_row(self.state, trigger, row)
        old = self.state
        self.state = row.target(old)
        if self.state is not old:
            self._events.append(StateChanged(time=now, side=self.side, old=old, new=self.state,
                                             trigger=trigger))
        for action in row.actions:
            self._do(now, action, seg)

    def _finish(self, now: float) -> None:
        if self._ack_due:
            self._emit(now, flags=Flag.ACK, seq=self.snd_nxt)
        self._update_timers(now)
        snap = self.snapshot()
        if snap != self._last_snapshot:
            self._last_snapshot = snap
            self._events.append(WindowChanged(time=now, side=self.side, snapshot=snap))

    def _do(self, now: float, action: Action, seg: Segment | None) -> None:
        handler = _ACTIONS[action]
        handler(self, now, seg)

    # ----- actions -------------------------------------------------------------------
    def _syn_options(self, now: float, reply_to_scale: bool, *, answer: bool = False) -> Options:
        """A SYN offers what the configuration enables; a SYN+ACK (``answer``) only what
        the peer's SYN offered too."""
        offer = self.config.wscale if reply_to_scale else None
        ts, sack = ((self._ts.enabled, self._sack_ok) if answer
                    else (self.config.timestamps, self.config.sack))
        stamp = (self._ts.value(now), self._ts.recent if answer else 0) if ts else None
        return Options(mss=self.config.mss, wscale=offer, sack_permitted=sack, timestamp=stamp)

    def _established_options(self, now: float, flags: Flag) -> Options:
        stamp = (self._ts.value(now), self._ts.recent) if self._ts.enabled else None
        blocks = (self._sack_blocks.take(sack_room(self._ts.enabled))
                  if self._sack_ok and flags & Flag.ACK else ())
        if stamp is None and not blocks:
            return NO_OPTIONS
        return Options(timestamp=stamp, sack_blocks=blocks)

    def _send_mss(self) -> int:
        """Payload octets a segment may carry: the MSS less the options it will carry
        (as Linux: 1448 with timestamps and a 1460-octet MSS)."""
        space = TS_SPACE if self._ts.enabled else 0
        if self._sack_ok:
            blocks = self._sack_blocks.pending(sack_room(self._ts.enabled))
            space += SACK_BASE + SACK_BLOCK * blocks if blocks else 0
        return max(1, min(self._peer_mss, self.config.mss) - space)

    def _emit(self, now: float, *, flags: Flag, seq: int, payload: bytes = b"",
              options: Options | None = None, ack: int | None = None,
              window: int | None = None) -> None:
        if options is None:
            options = self._established_options(now, flags)
        if flags & Flag.ACK:
            ack = self.rcv_nxt if ack is None else ack
            self._ack_due = False
            self._acked = ack
            self._unacked_segments = 0
        if window is None:  # a SYN's window is never scaled (RFC 7323 2.2)
            window = (min(self.rcv_wnd, 0xFFFF) if flags & Flag.SYN
                      else window_field(self.rcv_wnd, self._rcv_shift))
        self._out.append(Segment(seq=seq, ack=ack or 0, flags=flags, window=window,
                                 length=len(payload), payload=payload, options=options))

    def _time(self, now: float, end: int) -> None:
        """Time this new transmission for an RTT sample unless one is being timed."""
        if self._timed is None:
            self._timed = (end, now)

    def _a_send_syn(self, now: float, seg: Segment | None) -> None:
        self.snd_nxt = seq_add(self.iss, 1)
        self._time(now, self.snd_nxt)
        self._emit(now, flags=Flag.SYN, seq=self.iss, options=self._syn_options(now, True))

    def _a_send_syn_ack(self, now: float, seg: Segment | None) -> None:
        self.snd_nxt = seq_add(self.iss, 1)
        self._time(now, self.snd_nxt)
        self._emit(now, flags=Flag.SYN | Flag.ACK, seq=self.iss,
                   options=self._syn_options(now, self._peer_wscale is not None
                                             or self.opening is Opening.ACTIVE, answer=True))

    def _a_accept_syn(self, now: float, seg: Segment | None) -> None:
        assert seg is not None
        self.irs = seg.seq
        self.rcv_nxt = seq_add(seg.seq, 1)
        self._peer_mss = seg.options.mss or _DEFAULT_MSS
        self._peer_wscale = seg.options.wscale
        if self.config.wscale is not None and self._peer_wscale is not None:
            self._snd_shift = min(self._peer_wscale, MAX_WSCALE)
            self._rcv_shift = self.config.wscale
        self.snd_wnd = seg.window  # a SYN's window is never scaled (RFC 7323 2.2)
        self._ts.on_syn(seg, self.config.timestamps)
        self._sack_ok = self.config.sack and seg.options.sack_permitted

    def _a_accept_ack(self, now: float, seg: Segment | None) -> None:
        assert seg is not None
        if is_duplicate_ack(self._receiver(), seg):
            self._dup_acks += 1
        elif acks_new(self.snd_una, self.snd_nxt, seg.ack):
            self._dup_acks = 0
        if acks_new(self.snd_una, self.snd_nxt, seg.ack):
            acked = seq_diff(seg.ack, self.snd_una)
            acked -= 1 if not self.syn_acked else 0
            if self._fin_seq is not None and seq_gt(seg.ack, self._fin_seq):
                acked -= 1
            self._sndbuf.acknowledge(acked)
            self.snd_una = seg.ack
            self._progressed = True
            self._rtt.backoff = 0
            if self._timed is not None and seq_ge(seg.ack, self._timed[0]):
                self._rtt.sample(now - self._timed[1])
                self._timed = None
        if self._sack_ok:
            self._scoreboard.update(seg.options.sack_blocks, self.snd_una, self.snd_nxt)
        if seq_le(self.snd_una, seg.ack):  # not an old ACK: take its window
            shift = 0 if seg.has(Flag.SYN) else self._snd_shift
            if self.snd_wnd == 0 and seg.window:
                self._probe_backoff = 0  # the window reopened
            self.snd_wnd = seg.window << shift

    def _data_in_flight(self) -> int:
        end = self._fin_seq if self._fin_seq is not None else self.snd_nxt
        start = self.snd_una if self.syn_acked else seq_add(self.iss, 1)
        return max(0, seq_diff(end, start))

    def _a_send_data(self, now: float, seg: Segment | None) -> None:
        if not self.syn_acked or self.fin_sent or self.state not in _DATA_STATES:
            return
        mss = self._send_mss()
        while True:
            in_flight = self._data_in_flight()
            unsent = len(self._sndbuf) - in_flight
            usable = self.snd_wnd - seq_diff(self.snd_nxt, self.snd_una)
            if unsent <= 0 or usable <= 0:
                break
            size = min(unsent, mss, usable)
            if self.config.nagle and size < mss and self._data_in_flight():
                break  # Nagle: a small segment waits until the data in flight is ACKed
            flags = Flag.ACK | (Flag.PSH if size == unsent else Flag(0))
            self._emit(now, flags=flags, seq=self.snd_nxt,
                       payload=self._sndbuf.chunk(in_flight, size))
            self.snd_nxt = seq_add(self.snd_nxt, size)
            self._time(now, self.snd_nxt)
        if self._fin_queued and len(self._sndbuf) == self._data_in_flight():
            self._fin_seq = self.snd_nxt
            self._emit(now, flags=Flag.FIN | Flag.ACK, seq=self.snd_nxt)
            self.snd_nxt = seq_add(self.snd_nxt, 1)
            self._time(now, self.snd_nxt)

    def _a_queue_fin(self, now: float, seg: Segment | None) -> None:
        self._fin_queued = True
        self._a_send_data(now, seg)

    def _a_send_ack(self, now: float, seg: Segment | None) -> None:
        self._ack_due = True

    def _a_send_delayed_ack(self, now: float, seg: Segment | None) -> None:
        delay = self.config.delayed_ack
        self._unacked_segments += 1
        if seg is not None and seg.length and self._quickacks > 0:
            self._quickacks -= 1
            delay = None  # quick-ACK mode: ACK data at once
        # ACK at once: delayed ACK off, every second segment, or out-of-order data
        if delay is None or self._unacked_segments >= 2 or self._ooo or not self._in_order:
            self._ack_due = True
        elif Timer.DELAYED_ACK not in self._timers:
            self._start_timer(now, Timer.DELAYED_ACK, delay)

    def _a_send_keepalive(self, now: float, seg: Segment | None) -> None:
        # like Linux: an old sequence number with no data, so the peer must answer
        self._emit(now, flags=Flag.ACK, seq=seq_add(self.snd_una, -1))
        self._probes += 1
        self._start_timer(now, Timer.KEEPALIVE, self.config.keepalive_interval)

    def _a_send_challenge_ack(self, now: float, seg: Segment | None) -> None:
        assert seg is not None
        if seg.length and not seg.has(Flag.SYN):
            self._ack_due = True  # data is never part of an ACK loop
        elif now - self._last_challenge >= self.config.ack_ratelimit:
            self._last_challenge = now
            self._ack_due = True

    def _a_send_rst(self, now: float, seg: Segment | None) -> None:
        assert seg is not None
        # a reply to a segment that has no connection here advertises no window and,
        # as Linux's, carries no options
        if seg.has(Flag.ACK):
            self._emit(now, flags=Flag.RST, seq=seg.ack, window=0, options=NO_OPTIONS)
        else:
            self._emit(now, flags=Flag.RST | Flag.ACK, seq=0, ack=seg.end, window=0,
                       options=NO_OPTIONS)

    def _a_send_rst_abort(self, now: float, seg: Segment | None) -> None:
        self._emit(now, flags=Flag.RST | Flag.ACK, seq=self.snd_nxt)  # Linux: with TS

    def _a_retransmit(self, now: float, seg: Segment | None) -> None:
        if not self.syn_acked:
            if self.irs is None:
                self._emit(now, flags=Flag.SYN, seq=self.iss,
                           options=self._syn_options(now, True))
            else:
                self._a_send_syn_ack(now, seg)
        elif (not self._resend_oldest_data(now) and self._fin_seq is not None
              and not self.fin_acked):
            self._emit(now, flags=Flag.FIN | Flag.ACK, seq=self._fin_seq)
        self._timed = None  # Karn: never time a retransmitted segment
        self._rtt.back_off()
        self._start_timer(now, Timer.RETRANSMIT, self._rtt.rto)

    def _resend_oldest_data(self, now: float) -> bool:
        """Send the first unacknowledged segment of data again, up to the first octet the
        peer SACKed; False if there is none."""
        size = min(self._data_in_flight(), self._send_mss())
        sacked = self._scoreboard.next_sacked(self.snd_una)
        if sacked is not None and seq_diff(sacked, self.snd_una) > 0:
            size = min(size, seq_diff(sacked, self.snd_una))
        if size:
            flags = Flag.ACK | (Flag.PSH if size == len(self._sndbuf) else Flag(0))
            self._emit(now, flags=flags, seq=self.snd_una, payload=self._sndbuf.chunk(0, size))
            self._timed = None  # Karn: never time a retransmitted segment
        return size > 0

    def _a_fast_retransmit(self, now: float, seg: Segment | None) -> None:
        self._resend_oldest_data(now)

    def _a_send_probe(self, now: float, seg: Segment | None) -> None:
        # Linux's zero-window probe: an old sequence number, so the peer must answer
        # with an ACK carrying its current window.
        self._emit(now, flags=Flag.ACK, seq=seq_add(self.snd_una, -1))
        if self._probe_interval() < self.config.rto_max:
            self._probe_backoff += 1
        self._start_timer(now, Timer.PERSIST, self._probe_interval())

    def _probe_interval(self) -> float:
        return min(self._rtt.base * float(2 ** self._probe_backoff), self.config.rto_max)

    def _a_accept_data(self, now: float, seg: Segment | None) -> None:
        assert seg is not None
        # octets a hand-made segment only counts are the pattern's, at their own place
        start = 0 if self.irs is None else max(0, seq_diff(seg.seq, seq_add(self.irs, 1)))
        payload = fill(seg.payload, seg.length, start)
        ahead = seq_diff(seg.seq, self.rcv_nxt)
        self._in_order = ahead <= 0
        if ahead > 0:  # a gap before it: keep it (within the window) for later
            room = self.rcv_wnd - ahead  # keep only what lies inside the window
            if room > 0 and seg.seq not in self._ooo:
                self._ooo[seg.seq] = payload[:room]
            if room > 0 and self._sack_ok:  # its block goes first (RFC 2018 4)
                self._sack_blocks.add(seg.seq, seq_add(seg.seq, min(room, len(payload))))
            return
        self._deliver(payload[-ahead:])
        while True:  # the gap may now be filled by segments that came early
            ready = [s for s in self._ooo if seq_diff(s, self.rcv_nxt) <= 0]
            if not ready:
                break
            for start in ready:
                data = self._ooo.pop(start)
                old = seq_diff(self.rcv_nxt, start)
                if old < len(data):
                    self._deliver(data[old:])
        self._sack_blocks.advance(self.rcv_nxt)

    def _deliver(self, data: bytes) -> None:
        taken = self._rcvbuf.push(data)
        self.delivered += taken
        self.rcv_nxt = seq_add(self.rcv_nxt, taken)
        if self.config.auto_read:
            self._rcvbuf.read()

    def _a_accept_fin(self, now: float, seg: Segment | None) -> None:
        self.rcv_nxt = seq_add(self.rcv_nxt, 1)
        self._fin_received = True

    def _a_start_2msl(self, now: float, seg: Segment | None) -> None:
        self._start_timer(now, Timer.TIME_WAIT, self.config.time_wait_length)

    def _stop_all(self, now: float) -> None:
        for timer in list(self._timers):
            self._stop_timer(now, timer)

    def _a_forget_peer(self, now: float, seg: Segment | None) -> None:
        self._stop_all(now)
        self._new_tcb(self.iss)

    def _a_delete_tcb(self, now: float, seg: Segment | None) -> None:
        self._stop_all(now)
        self._sndbuf = SendBuffer()
        self._fin_queued = False
        self._ack_due = False
        self._ts.enabled = self._sack_ok = False  # no connection: nothing negotiated
        self._sack_blocks.clear()

    def _report(self, now: float, message: str) -> None:
        self.error = message
        self._events.append(AppNotified(time=now, side=self.side, message=message))

    def _a_report_reset(self, now: float, seg: Segment | None) -> None:
        self._report(now, "connection reset by peer")

    def _a_report_refused(self, now: float, seg: Segment | None) -> None:
        self._report(now, "connection refused")

    def _a_report_timeout(self, now: float, seg: Segment | None) -> None:
        self._report(now, "connection timed out")


_Handler = Callable[[Endpoint, float, Segment | None], None]
_ACTIONS: dict[Action, _Handler] = {
    Action.ACCEPT_SYN: Endpoint._a_accept_syn,
    Action.SEND_SYN: Endpoint._a_send_syn,
    Action.SEND_SYN_ACK: Endpoint._a_send_syn_ack,
    Action.SEND_ACK: Endpoint._a_send_ack,
    Action.SEND_DELAYED_ACK: Endpoint._a_send_delayed_ack,
    Action.SEND_KEEPALIVE: Endpoint._a_send_keepalive,
    Action.SEND_CHALLENGE_ACK: Endpoint._a_send_challenge_ack,
    Action.SEND_DATA: Endpoint._a_send_data,
    Action.QUEUE_FIN: Endpoint._a_queue_fin,
    Action.SEND_RST: Endpoint._a_send_rst,
    Action.SEND_RST_ABORT: Endpoint._a_send_rst_abort,
    Action.RETRANSMIT: Endpoint._a_retransmit,
    Action.SEND_PROBE: Endpoint._a_send_probe,
    Action.FAST_RETRANSMIT: Endpoint._a_fast_retransmit,
    Action.ACCEPT_ACK: Endpoint._a_accept_ack,
    Action.ACCEPT_DATA: Endpoint._a_accept_data,
    Action.ACCEPT_FIN: Endpoint._a_accept_fin,
    Action.START_2MSL: Endpoint._a_start_2msl,
    Action.FORGET_PEER: Endpoint._a_forget_peer,
    Action.DELETE_TCB: Endpoint._a_delete_tcb,
    Action.REPORT_RESET: Endpoint._a_report_reset,
    Action.REPORT_REFUSED: Endpoint._a_report_refused,
    Action.REPORT_TIMEOUT: Endpoint._a_report_timeout,
}
def preview(data: bytes, limit: int = 24) -> str:
    """``'hello'``: the octets as in a Python bytes literal, elided after ``limit`` chars."""
    pieces: list[str] = []
    size = 0
    for octet in data:
        piece = "\\'" if octet == 0x27 else repr(bytes([octet]))[2:-1]
        if size + len(piece) > limit:
            pieces.append("...")
            break
        pieces.append(piece)
        size += len(piece)
    return f"'{''.join(pieces)}'"


_missing = set(Action) - set(_ACTIONS)
if _missing:  # pragma: no cover - a programming error caught at import
    raise RuntimeError(f"actions without a handler: {_missing}")
