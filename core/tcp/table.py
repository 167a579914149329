"""The RFC 9293 state machine as one table of data.

Each :class:`Row` says: in any of ``states``, on ``trigger`` (and, for SYN_RECEIVED,
depending on whether the connection was opened passively), perform ``actions`` in
order and move to ``next`` (``None``: stay). :mod:`core.tcp.machine` classifies arriving
segments into triggers (RFC 9293 3.10.7's checks) and executes the rows; it holds no
per-state logic of its own.

Rules:
1. For one (state, trigger, opening) at most one row applies (checked at import).
2. A (state, trigger) with no row is an illegal move: :class:`core.errors.IllegalTransition`.
3. Every row can happen; the test suite fails if one is never exercised.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from core.tcp.states import Action, TcpState, Trigger, TriggerKind

S = TcpState
T = Trigger
A = Action


class Opening(Enum):
    """How the connection in SYN_RECEIVED was opened (RFC 9293 3.10.7.4)."""

    PASSIVE = "passive"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    states: frozenset[TcpState]
    trigger: Trigger
    next: TcpState | None
    actions: tuple[Action, ...]
    note: str
    opening: Opening | None = None

    def target(self, state: TcpState) -> TcpState:
        return state if self.next is None else self.next

    @property
    def key(self) -> str:
        """A stable name for coverage checks, e.g. ``FIN_WAIT_1|FIN|-``."""
        states = "+".join(sorted(s.name for s in self.states))
        return f"{states}|{self.trigger.name}|{self.opening.value if self.opening else '-'}"


def _row(states: TcpState | Iterable[TcpState], trigger: Trigger, next_: TcpState | None,
         actions: Iterable[Action], note: str, opening: Opening | None = None) -> Row:
    group = frozenset([states]) if isinstance(states, TcpState) else frozenset(states)
    return Row(states=group, trigger=trigger, next=next_, actions=tuple(actions), note=note,
               opening=opening)


#: states that have a connection record with the peer's sequence numbers
SYNCED = (S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING,
          S.LAST_ACK, S.TIME_WAIT)
#: states in which the peer's FIN has been received
FIN_RECEIVED = (S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT)
#: states that may have something unacknowledged in flight
SENDING = (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING,
           S.LAST_ACK)
_RESET = (A.REPORT_RESET, A.DELETE_TCB)
_P, _A = Opening.PASSIVE, Opening.ACTIVE

ROWS: tuple[Row, ...] = (
    # --- application calls (RFC 9293 3.10.1-3.10.5) ---
    _row(S.CLOSED, T.PASSIVE_OPEN, S.LISTEN, [], "listen(): wait for a SYN"),
    _row(S.CLOSED, T.ACTIVE_OPEN, S.SYN_SENT, [A.SEND_SYN], "connect(): send SYN"),
    _row(S.LISTEN, T.CLOSE, S.CLOSED, [A.DELETE_TCB], "close a listening socket"),
    _row(S.SYN_SENT, T.CLOSE, S.CLOSED, [A.DELETE_TCB], "give up connecting"),
    _row(S.SYN_RECEIVED, T.CLOSE, S.FIN_WAIT_1, [A.QUEUE_FIN],
         "close before the handshake ends: FIN follows once our SYN is ACKed"),
    _row(S.ESTABLISHED, T.CLOSE, S.FIN_WAIT_1, [A.QUEUE_FIN],
         "active close: FIN after the queued data"),
    _row(S.CLOSE_WAIT, T.CLOSE, S.LAST_ACK, [A.QUEUE_FIN],
         "passive close: our FIN answers the peer's"),
    _row((S.SYN_SENT, S.SYN_RECEIVED), T.SEND, None, [],
         "data waits in the send buffer until the handshake ends"),
    _row((S.ESTABLISHED, S.CLOSE_WAIT), T.SEND, None, [A.SEND_DATA],
         "send as much as the peer's window allows"),
    _row((S.LISTEN, S.SYN_SENT), T.ABORT, S.CLOSED, [A.DELETE_TCB], "abort: nothing to reset"),
    _row((S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT), T.ABORT,
         S.CLOSED, [A.SEND_RST_ABORT, A.DELETE_TCB], "abort (SO_LINGER 0): send RST"),
    _row((S.CLOSING, S.LAST_ACK, S.TIME_WAIT), T.ABORT, S.CLOSED, [A.DELETE_TCB],
         "abort while closing: just forget the connection"),
    # --- segments in CLOSED and LISTEN ---
    _row(S.CLOSED, T.RCV_RST, None, [], "an RST to a closed port is dropped"),
    _row(S.CLOSED, T.RCV_SYN, None, [A.SEND_RST],
         "SYN to a closed port: answer RST+ACK (connection refused)"),
    _row(S.CLOSED, T.RCV_SEGMENT, None, [A.SEND_RST],
         "no connection: answer any segment with RST"),
    _row(S.LISTEN, T.RCV_RST, None, [], "an RST to a listener is dropped"),
    _row(S.LISTEN, T.RCV_BAD_ACK, None, [A.SEND_RST], "an ACK to a listener is answered by RST"),
    _row(S.LISTEN, T.RCV_SYN, S.SYN_RECEIVED, [A.ACCEPT_SYN, A.SEND_SYN_ACK],
         "first handshake step seen by the server: answer SYN+ACK"),
    _row(S.LISTEN, T.RCV_SEGMENT, None, [], "neither SYN, ACK nor RST: drop"),
    # --- SYN_SENT ---
    _row(S.SYN_SENT, T.RCV_SYN_ACK, S.ESTABLISHED,
         [A.ACCEPT_SYN, A.ACCEPT_ACK, A.SEND_ACK, A.SEND_DATA],
         "SYN+ACK acknowledges our SYN: the client is established"),
    _row(S.SYN_SENT, T.RCV_SYN, S.SYN_RECEIVED, [A.ACCEPT_SYN, A.SEND_SYN_ACK],
         "simultaneous open: the peer's SYN crossed ours"),
    _row(S.SYN_SENT, T.RCV_BAD_ACK, None, [A.SEND_RST],
         "ACK of something we never sent: answer RST, keep waiting"),
    _row(S.SYN_SENT, T.RCV_RST, S.CLOSED, [A.REPORT_REFUSED, A.DELETE_TCB],
         "RST that acknowledges our SYN: connection refused"),
    _row(S.SYN_SENT, T.RCV_RST_IGNORED, None, [], "RST without an acceptable ACK is dropped"),
    _row(S.SYN_SENT, T.RCV_SEGMENT, None, [], "no SYN, no RST: drop"),
    # --- SYN_RECEIVED ---
    _row(S.SYN_RECEIVED, T.RCV_ACK_OF_SYN, S.ESTABLISHED, [A.ACCEPT_ACK, A.SEND_DATA],
         "third handshake step: the server is established"),
    _row(S.SYN_RECEIVED, T.RCV_SYN_ACK, S.ESTABLISHED, [A.ACCEPT_ACK, A.SEND_DATA],
         "simultaneous open: the peer's SYN+ACK acknowledges our SYN"),
    _row(S.SYN_RECEIVED, T.RCV_SYN_AGAIN, None, [A.SEND_SYN_ACK],
         "the peer retransmitted its SYN: our SYN+ACK was lost, send it again"),
    _row(S.SYN_RECEIVED, T.RCV_BAD_ACK, None, [A.SEND_RST],
         "ACK that does not acknowledge our SYN: answer RST"),
    _row(S.SYN_RECEIVED, T.RCV_RST, S.LISTEN, [A.FORGET_PEER],
         "RST after a passive open: back to LISTEN", _P),
    _row(S.SYN_RECEIVED, T.RCV_RST, S.CLOSED, [A.REPORT_REFUSED, A.DELETE_TCB],
         "RST after an active open: connection refused", _A),
    _row(S.SYN_RECEIVED, T.RCV_SYN, S.LISTEN, [A.FORGET_PEER],
         "a new SYN in the window after a passive open: back to LISTEN", _P),
    _row(S.SYN_RECEIVED, T.RCV_SYN, None, [A.SEND_CHALLENGE_ACK],
         "a new SYN in the window after an active open: challenge ACK", _A),
    # --- any synchronized state (RFC 9293 3.10.7.4, first to fifth check) ---
    _row(SYNCED, T.RCV_UNACCEPTABLE, None, [A.SEND_CHALLENGE_ACK],
         "outside the receive window (old duplicate): re-ACK RCV.NXT and drop"),
    _row(SYNCED, T.RCV_RST_IGNORED, None, [], "RST outside the window: drop silently"),
    _row(SYNCED, T.RCV_RST_IN_WINDOW, None, [A.SEND_CHALLENGE_ACK],
         "RST in the window but not at RCV.NXT: challenge ACK (RFC 5961)"),
    _row(SYNCED, T.RCV_SEGMENT, None, [], "no ACK bit: drop"),
    _row(SYNCED[1:], T.RCV_SYN, None, [A.SEND_CHALLENGE_ACK],
         "SYN on a synchronized connection: challenge ACK"),
    _row(SYNCED[1:], T.RCV_BAD_ACK, None, [A.SEND_CHALLENGE_ACK],
         "ACK of data not yet sent: re-ACK and drop"),
    _row((S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT), T.RCV_RST, S.CLOSED,
         _RESET, "RST at RCV.NXT: connection reset"),
    _row((S.CLOSING, S.LAST_ACK, S.TIME_WAIT), T.RCV_RST, S.CLOSED, [A.DELETE_TCB],
         "RST while closing: the connection is gone"),
    _row((S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK,
          S.TIME_WAIT), T.RCV_ACK, None, [A.ACCEPT_ACK, A.SEND_DATA],
         "ACK: slide the send window, send what it allows"),
    _row((S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK),
         T.RCV_THIRD_DUP_ACK, None, [A.ACCEPT_ACK, A.FAST_RETRANSMIT],
         "three duplicate ACKs: a segment was lost, resend it without waiting for the RTO"),
    _row((S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2), T.RCV_DATA, None,
         [A.ACCEPT_DATA, A.SEND_DELAYED_ACK], "data: deliver in order, acknowledge"),
    _row(FIN_RECEIVED, T.RCV_DATA, None, [A.SEND_ACK],
         "data after the peer's FIN cannot be right: ignore it, re-ACK"),
    # --- closing ---
    _row(S.ESTABLISHED, T.RCV_FIN, S.CLOSE_WAIT, [A.ACCEPT_FIN, A.SEND_DELAYED_ACK],
         "the peer closes first: ACK its FIN (a delayed ACK may ride on our own FIN)"),
    _row(S.FIN_WAIT_1, T.RCV_ACK_OF_FIN, S.FIN_WAIT_2, [A.ACCEPT_ACK],
         "our FIN is acknowledged; wait for the peer's"),
    _row(S.FIN_WAIT_1, T.RCV_FIN, S.CLOSING, [A.ACCEPT_FIN, A.SEND_ACK],
         "simultaneous close: the peer's FIN crossed ours"),
    _row(S.FIN_WAIT_1, T.RCV_FIN_ACK_OF_FIN, S.TIME_WAIT,
         [A.ACCEPT_ACK, A.ACCEPT_FIN, A.SEND_ACK, A.START_2MSL],
         "the peer's FIN also acknowledges ours (three-segment close)"),
    _row(S.FIN_WAIT_2, T.RCV_FIN, S.TIME_WAIT, [A.ACCEPT_FIN, A.SEND_ACK, A.START_2MSL],
         "the peer's FIN: ACK it and wait 2MSL"),
    _row(S.CLOSING, T.RCV_ACK_OF_FIN, S.TIME_WAIT, [A.ACCEPT_ACK, A.START_2MSL],
         "simultaneous close: our FIN acknowledged, wait 2MSL"),
    _row(S.LAST_ACK, T.RCV_ACK_OF_FIN, S.CLOSED, [A.ACCEPT_ACK, A.DELETE_TCB],
         "the last ACK: the passive closer is done"),
    _row((S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK), T.RCV_FIN, None, [A.SEND_ACK],
         "the peer retransmitted its FIN: our ACK was lost, ACK again"),
    _row(S.TIME_WAIT, T.RCV_FIN, None, [A.SEND_ACK, A.START_2MSL],
         "retransmitted FIN in TIME_WAIT: ACK again and restart 2MSL"),
    # --- timers ---
    _row(S.TIME_WAIT, T.TIMEOUT_2MSL, S.CLOSED, [A.DELETE_TCB],
         "2MSL elapsed: old duplicates have died out"),
    _row(SENDING, T.TIMEOUT_RETRANSMIT, None, [A.RETRANSMIT],
         "no ACK in time: retransmit, double the timeout"),
    _row((S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK), T.TIMEOUT_PERSIST,
         None,
         [A.SEND_PROBE], "zero window and data waiting: probe, so a lost window update "
         "cannot stall the connection"),
    _row(SYNCED[1:], T.TIMEOUT_DELAYED_ACK, None, [A.SEND_ACK],
         "the delayed ACK is due: no segment of ours came to carry it"),
    _row((S.ESTABLISHED, S.CLOSE_WAIT), T.TIMEOUT_KEEPALIVE, None, [A.SEND_KEEPALIVE],
         "idle too long: is the peer still there?"),
    _row(S.SYN_RECEIVED, T.TIMEOUT_USER, S.LISTEN, [A.FORGET_PEER],
         "the handshake never completed: drop the half-open connection", _P),
    _row(SENDING[:1] + SENDING[2:] + (S.FIN_WAIT_2,), T.TIMEOUT_USER, S.CLOSED,
         [A.REPORT_TIMEOUT, A.DELETE_TCB],
         "user timeout: no progress for too long (in FIN_WAIT_2: the peer never closed)"),
    _row(S.SYN_RECEIVED, T.TIMEOUT_USER, S.CLOSED, [A.REPORT_TIMEOUT, A.DELETE_TCB],
         "user timeout during a simultaneous open", _A),
)


def _index(rows: Iterable[Row]) -> dict[tuple[TcpState, Trigger, Opening | None], Row]:
    table: dict[tuple[TcpState, Trigger, Opening | None], Row] = {}
    for row in rows:
        openings: tuple[Opening | None, ...] = (
            (row.opening,) if row.opening else (None, Opening.PASSIVE, Opening.ACTIVE))
        for state in row.states:
            for opening in openings:
                key = (state, row.trigger, opening)
                if key in table and table[key] is not row:
                    raise ValueError(f"two rows for {key}: {table[key].note!r}, {row.note!r}")
                table[key] = row
    return table


_TABLE = _index(ROWS)


def lookup(state: TcpState, trigger: Trigger, opening: Opening | None) -> Row | None:
    """The row for ``trigger`` in ``state``; ``opening`` matters only in SYN_RECEIVED."""
    return _TABLE.get((state, trigger, opening)) or _TABLE.get((state, trigger, None))


def allowed(state: TcpState, opening: Opening | None, kind: TriggerKind) -> list[Trigger]:
    """Triggers of ``kind`` that have a row in ``state``."""
    return [t for t in Trigger if t.kind is kind and lookup(state, t, opening) is not None]


def table_text() -> str:
    """The table as aligned plain text, one line per (state, trigger)."""
    lines = [f"{'STATE':<13} {'TRIGGER':<40} {'NEXT':<13} ACTIONS"]
    for row in ROWS:
        for state in sorted(row.states, key=list(TcpState).index):
            trigger = row.trigger.value + (f" [{row.opening.value}]" if row.opening else "")
            actions = ", ".join(a.value for a in row.actions) or "-"
            lines.append(f"{state.value:<13} {trigger:<40} {row.target(state).value:<13} "
                         f"{actions}")
    return "\n".join(lines)


_KIND_STYLE = {TriggerKind.APP: "color=blue, fontcolor=blue",
               TriggerKind.SEGMENT: "color=black",
               TriggerKind.TIMER: "color=darkorange, fontcolor=darkorange, style=dashed"}


#: triggers that lead from many states straight to CLOSED; the classic diagram leaves
#: them out and says so in a note
_ESCAPES = frozenset({Trigger.ABORT, Trigger.RCV_RST, Trigger.TIMEOUT_USER})


def to_dot(*, every_edge: bool = False, self_loops: bool = False) -> str:
    """The state diagram as Graphviz, drawn from :data:`ROWS`.

    By default it is the classic diagram: abort, RST and user-timeout edges to CLOSED are
    summarised in a note (``every_edge=True`` draws them). Self-loops are optional.
    """
    lines = ["digraph tcp {",
             '  rankdir=TB; node [shape=box, style=rounded, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    lines += [f"  {s.value};" for s in TcpState]
    edges: dict[tuple[TcpState, TcpState, TriggerKind], list[str]] = {}
    for row in ROWS:
        for state in sorted(row.states, key=list(TcpState).index):
            target = row.target(state)
            if target is state and not self_loops:
                continue
            if (not every_edge and row.trigger in _ESCAPES and target is TcpState.CLOSED
                    and state is not TcpState.SYN_SENT):
                continue
            label = row.trigger.value + (f" [{row.opening.value}]" if row.opening else "")
            edges.setdefault((state, target, row.trigger.kind), []).append(label)
    for (src, dst, kind), labels in edges.items():
        text = "\\n".join(dict.fromkeys(labels))
        lines.append(f'  {src.value} -> {dst.value} [label="{text}", {_KIND_STYLE[kind]}];')
    lines.append('  legend [shape=note, style="", fontsize=10, label="'
                 + "blue: application call\\lblack: segment arrives\\l"
                 + "orange dashed: timer\\l"
                 + ("" if every_edge else
                    "not drawn: abort, RST and user timeout\\llead to CLOSED from the "
                    "other states too\\l")
                 + '"];')
    lines.append("}")
    return "\n".join(lines)
