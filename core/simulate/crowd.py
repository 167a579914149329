"""One listening socket, its accept queue, and the other clients that connect to it.

The Timeline has two lanes: the connection shown (one client and the server's socket for
it). Other clients connect to the same listener at the same time; they run the same state
machine over links of their own, but only their progress is recorded, as events.

Rules:
1. The accept queue holds connections whose handshake is complete and that the server's
   application has not accepted yet; it is full at ``backlog`` of them (listen(2): "the
   maximum length to which the queue of pending connections may grow"; Linux lets one
   more in, its test being "more than backlog").
2. While the queue is full the listener drops, as Linux does, a SYN that would open a new
   connection and an ACK that would complete a handshake; the peers' timers send them
   again (the client its SYN with exponential backoff, the server its SYN+ACK).
3. accept() takes the oldest connection in the queue.
4. Other clients' links repeat the shown link's delays, loss and outages, each with its own
   seed, and never its scripted drops or delays (those name the shown connection's
   segments), so they never change what happens to the connection shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.simulate.link import Link, LinkConfig
from core.tcp.config import EndpointConfig
from core.tcp.machine import Endpoint
from core.tcp.segment import SEQ_MOD, Flag, Segment
from core.tcp.states import Side, TcpState
from core.tcp.table import Opening
from core.trace import AppCalled, AppNotified, Event

SHOWN = "the client shown"
_ISS_STEP = 0x9E3779B1  # spreads the other connections' initial sequence numbers
_OPENING = Flag.SYN | Flag.ACK | Flag.RST

ERRNO = {"connection refused": "ECONNREFUSED", "connection timed out": "ETIMEDOUT",
         "connection reset by peer": "ECONNRESET"}


def failure(endpoint: Endpoint) -> str:
    """What a blocking call returns once ``endpoint``'s connection is gone."""
    message = endpoint.error or "connection closed"
    return f"{ERRNO.get(message, 'EPIPE')}: {message}"


@dataclass(slots=True)
class Listener:
    """The server's listening socket: is it listening, with what backlog, and its queue."""

    listening: bool = False
    backlog: int = 0
    queue: list[str] = field(default_factory=list)  # who is waiting, oldest first

    def listen(self, backlog: int) -> None:
        self.listening, self.backlog, self.queue = True, backlog, []

    def close(self) -> None:
        self.listening, self.queue = False, []

    @property
    def full(self) -> bool:
        return len(self.queue) >= self.backlog

    @property
    def status(self) -> str:
        return f"{len(self.queue)}/{self.backlog}"

    def refuses(self, endpoint: Endpoint, seg: Segment) -> str | None:
        """What the listener drops (``SYN``, ``handshake ACK``) when ``seg`` is on its way
        to ``endpoint`` (None: it lets it through)."""
        if not self.listening or not self.full:
            return None
        opening = int(seg.flags) & _OPENING
        if opening == Flag.SYN and endpoint.state in (TcpState.LISTEN, TcpState.CLOSED):
            return "SYN"
        if (opening == Flag.ACK and endpoint.state is TcpState.SYN_RECEIVED
                and endpoint.opening is Opening.PASSIVE):
            return "handshake ACK"
        return None

    def dropped(self, what: str, who: str) -> str:
        return f"accept queue full ({self.status}): {what} from {who} dropped"


@dataclass(slots=True)
class Other:
    """Another client and the server's socket for it."""

    name: str
    start: float
    client: Endpoint
    server: Endpoint
    link: Link
    started: bool = False
    connected: bool = False
    queued: bool = False


@dataclass(frozen=True, slots=True)
class Stray:
    """A segment of another client's connection, in flight."""

    other: Other
    sender: Side
    segment: Segment


def _derived(config: EndpointConfig, number: int) -> EndpointConfig:
    return replace(config, iss=(config.iss + number * _ISS_STEP) % SEQ_MOD, auto_read=True,
                   read_rate=None)


class Crowd:
    """The other clients: connect at their start times, then wait to be accepted."""

    def __init__(self, starts: tuple[float, ...], *, client: EndpointConfig,
                 server: EndpointConfig, link: LinkConfig, address: str, shown_port: int
                 ) -> None:
        own = replace(link, drops=(), delays=())
        self.others = [
            Other(name=f"client {n} ({address}:{shown_port - len(starts) + n - 1})",
                  start=start, client=Endpoint(Side.CLIENT, _derived(client, n)),
                  server=Endpoint(Side.SERVER, _derived(server, n)),
                  link=Link(replace(own, seed=link.seed * 1009 + n)))
            for n, start in enumerate(starts, 1)]
        self.events: list[Event] = []
        self.flights: list[tuple[float, Stray]] = []

    def __bool__(self) -> bool:
        return bool(self.others)

    def next_start(self) -> float | None:
        return min((o.start for o in self.others if not o.started), default=None)

    def next_deadline(self) -> float | None:
        times = [d for o in self.others for e in (o.client, o.server)
                 if (d := e.next_deadline()) is not None]
        return min(times, default=None)

    def start_due(self, now: float) -> None:
        for other in self.others:
            if not other.started and other.start <= now:
                other.started = True
                other.client.active_open(now)
                self.events.append(AppCalled(time=now, side=Side.CLIENT,
                                             call=f"{other.name}: connect", result="SYN sent"))
                self._collect(now, other, Side.CLIENT, None)

    def fire_timers(self, now: float, listener: Listener) -> None:
        for other in self.others:
            for side, endpoint in ((Side.CLIENT, other.client), (Side.SERVER, other.server)):
                deadline = endpoint.next_deadline()
                if deadline is not None and deadline <= now:
                    endpoint.handle_timer(now)
                    self._collect(now, other, side, listener)

    def arrive(self, now: float, stray: Stray, listener: Listener) -> None:
        other, seg = stray.other, stray.segment
        receiver = stray.sender.peer
        endpoint = other.client if receiver is Side.CLIENT else other.server
        if receiver is Side.SERVER:
            what = listener.refuses(endpoint, seg)
            if what is not None:
                self.note(now, listener.dropped(what, other.name))
                return
            if (endpoint.state is TcpState.CLOSED and listener.listening
                    and int(seg.flags) & _OPENING == Flag.SYN):
                endpoint.passive_open(now)  # the listener makes a socket for the new peer
        endpoint.receive(now, seg)
        self._collect(now, other, receiver, listener)

    def note(self, now: float, message: str) -> None:
        self.events.append(AppNotified(time=now, side=Side.SERVER, message=message))

    def _collect(self, now: float, other: Other, side: Side, listener: Listener | None) -> None:
        endpoint = other.client if side is Side.CLIENT else other.server
        endpoint.take_events()  # only their progress is told, below
        for seg in endpoint.take_segments():
            arrivals, _ = other.link.transmit(now, side)
            self.flights += [(arrival, Stray(other, side, seg)) for arrival in arrivals]
        if side is Side.CLIENT and other.started and not other.connected:
            if endpoint.state.synchronized or endpoint.state is TcpState.CLOSED:
                other.connected = True
                result = "connected" if endpoint.state.synchronized else failure(endpoint)
                self.events.append(AppCalled(time=now, side=Side.CLIENT,
                                             call=f"{other.name}: connect", result=result))
        if (side is Side.SERVER and listener is not None and listener.listening
                and not other.queued and endpoint.state.synchronized):
            other.queued = True
            listener.queue.append(other.name)
            self.note(now, f"accept queue {listener.status}: {other.name} connected")
