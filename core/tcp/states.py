"""TCP states, sides, triggers, timers and actions (RFC 9293 vocabulary).

Invariants:
- ``TcpState`` values are the eleven names used everywhere (CLI, JSON, GUI).
- A ``Trigger`` is one input to the state machine: an application call, a classified
  arriving segment, or a timer expiry. ``Trigger.kind`` says which.
"""

from __future__ import annotations

from enum import Enum


class TcpState(Enum):
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"

    #: Members are singletons compared by identity: hashing by identity (C) instead of
    #: Enum's hash of the name (Python) keeps set and dict lookups cheap in the replay.
    __hash__ = object.__hash__

    @property
    def synchronized(self) -> bool:
        """True once both sequence numbers are known (RFC 9293's synchronized states)."""
        return self not in _UNSYNCHRONIZED


_UNSYNCHRONIZED = frozenset({TcpState.CLOSED, TcpState.LISTEN, TcpState.SYN_SENT,
                             TcpState.SYN_RECEIVED})


class Side(Enum):
    CLIENT = "client"
    SERVER = "server"

    __hash__ = object.__hash__          # as TcpState's

    @property
    def peer(self) -> Side:
        return Side.SERVER if self is Side.CLIENT else Side.CLIENT


class TriggerKind(Enum):
    APP = "application"
    SEGMENT = "segment"
    TIMER = "timer"


class Trigger(Enum):
    """Inputs of the state machine. The value is the name shown to users."""

    # application calls (RFC 9293 3.10.1-3.10.6)
    PASSIVE_OPEN = "passive open"
    ACTIVE_OPEN = "active open"
    SEND = "send"
    CLOSE = "close"
    ABORT = "abort"
    # arriving segments, after RFC 9293 3.10.7's checks have classified them
    RCV_SYN = "SYN"
    RCV_SYN_AGAIN = "retransmitted SYN"
    RCV_SYN_ACK = "SYN+ACK"
    RCV_ACK_OF_SYN = "ACK of our SYN"
    RCV_ACK = "ACK"
    RCV_THIRD_DUP_ACK = "third duplicate ACK"
    RCV_DATA = "data"
    RCV_ACK_OF_FIN = "ACK of our FIN"
    RCV_FIN = "FIN"
    RCV_FIN_ACK_OF_FIN = "FIN that ACKs our FIN"
    RCV_RST = "RST"
    RCV_RST_IN_WINDOW = "RST in window, not at RCV.NXT"
    RCV_RST_IGNORED = "RST outside the window or with a bad ACK"
    RCV_BAD_ACK = "unacceptable ACK"
    RCV_UNACCEPTABLE = "segment outside the receive window"
    RCV_SEGMENT = "any other segment"
    # timers
    TIMEOUT_2MSL = "2MSL timeout"
    TIMEOUT_RETRANSMIT = "retransmission timeout"
    TIMEOUT_USER = "user timeout"
    TIMEOUT_PERSIST = "persist timeout"
    TIMEOUT_DELAYED_ACK = "delayed-ACK timeout"
    TIMEOUT_KEEPALIVE = "keep-alive timeout"

    @property
    def kind(self) -> TriggerKind:
        if self.name.startswith("RCV_"):
            return TriggerKind.SEGMENT
        if self.name.startswith("TIMEOUT_"):
            return TriggerKind.TIMER
        return TriggerKind.APP


class Timer(Enum):
    RETRANSMIT = "RTO"
    TIME_WAIT = "TIME_WAIT"
    USER = "user timeout"
    PERSIST = "persist"
    DELAYED_ACK = "delayed ACK"
    KEEPALIVE = "keep-alive"


class Action(Enum):
    """Side effects a transition row asks the endpoint to perform, in order."""

    ACCEPT_SYN = "record the peer's SYN: IRS, RCV.NXT, options"
    SEND_SYN = "send SYN"
    SEND_SYN_ACK = "send SYN+ACK"
    SEND_ACK = "send ACK"
    SEND_DELAYED_ACK = "ACK now, or within the delayed-ACK time"
    SEND_KEEPALIVE = "send a keep-alive probe"
    SEND_CHALLENGE_ACK = "re-ACK RCV.NXT (rate-limited for segments without data)"
    SEND_DATA = "send queued data"
    QUEUE_FIN = "queue FIN after the data"
    SEND_RST = "answer with RST"
    SEND_RST_ABORT = "send RST at SND.NXT"
    RETRANSMIT = "retransmit the oldest unacknowledged segment"
    SEND_PROBE = "probe the zero window"
    FAST_RETRANSMIT = "retransmit at SND.UNA now (fast retransmit, RFC 5681)"
    ACCEPT_ACK = "update SND.UNA and SND.WND"
    ACCEPT_DATA = "deliver in-order data, advance RCV.NXT"
    ACCEPT_FIN = "advance RCV.NXT over the FIN"
    START_2MSL = "(re)start the 2MSL timer"
    FORGET_PEER = "drop the half-open connection, keep listening"
    DELETE_TCB = "delete the connection"
    REPORT_RESET = "tell the application: connection reset"
    REPORT_REFUSED = "tell the application: connection refused"
    REPORT_TIMEOUT = "tell the application: connection timed out"
