"""What the applications do: a short program of socket calls per side.

Each :class:`Step` waits until its condition holds, then ``after`` seconds more, then
makes one call. Conditions look at the endpoint only through public queries.

Calls: ``listen``, ``accept`` (waits for a connection in the listener's accept queue),
``connect`` (blocks until the handshake completes or fails), ``send`` (with ``data``;
blocks while the send buffer is full), ``read`` (everything available), ``close``,
``abort``, ``bind`` (fails with EADDRINUSE while the port is in TIME_WAIT), ``crash`` (the
host restarts: the connection is forgotten without a word).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ParameterError
from core.tcp.machine import Endpoint
from core.tcp.states import TcpState

CALLS = frozenset({"listen", "accept", "connect", "send", "read", "close", "abort", "bind",
                   "crash"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """When a step may run. Every field set must hold (all unset: at once)."""

    at: float | None = None
    state: TcpState | None = None
    synchronized: bool = False
    readable: int | None = None
    peer_closed: bool = False
    closed: bool = False

    def holds(self, endpoint: Endpoint, now: float) -> bool:
        return ((self.at is None or now >= self.at)
                and (self.state is None or endpoint.state is self.state)
                and (not self.synchronized or endpoint.state.synchronized)
                and (self.readable is None or endpoint.delivered >= self.readable)
                and (not self.peer_closed or endpoint.fin_received)
                and (not self.closed or endpoint.state is TcpState.CLOSED))


NOW = Condition()
ESTABLISHED = Condition(synchronized=True)
PEER_CLOSED = Condition(peer_closed=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    call: str
    data: bytes = b""
    when: Condition = NOW
    after: float = 0.0

    def __post_init__(self) -> None:
        if self.call not in CALLS:
            raise ParameterError(f"unknown application call {self.call!r}")
        if self.after < 0:
            raise ParameterError(f"a step cannot run before its condition: after={self.after}")


def listen() -> Step:
    return Step(call="listen")


def accept(*, when: Condition = NOW, after: float = 0.0) -> Step:
    """Take the oldest connection of the accept queue (waiting until there is one)."""
    return Step(call="accept", when=when, after=after)


def connect(*, when: Condition = NOW, after: float = 0.0) -> Step:
    return Step(call="connect", when=when, after=after)


def send(data: bytes, *, when: Condition = ESTABLISHED, after: float = 0.0) -> Step:
    return Step(call="send", data=data, when=when, after=after)


def read(size: int, *, after: float = 0.0) -> Step:
    """Wait until ``size`` octets in all have arrived, then read what is there."""
    return Step(call="read", when=Condition(readable=size), after=after)


def close(*, when: Condition = NOW, after: float = 0.0) -> Step:
    return Step(call="close", when=when, after=after)
