"""Two endpoints joined by a simple link, recording a Timeline (sans-IO, no clock).

The link carries segments in each direction with a fixed one-way delay. Segments wait
in flight until delivered, dropped or duplicated, either one by one (``deliver``,
``drop``: how tests drive exact interleavings) or in time order (``run``).

Invariants:
- ``now`` only moves forward; arrivals happen at or after ``sent + delay``.
- Every segment an endpoint emits is recorded once in the Timeline, then arrives,
  is lost, or is still in flight when the Timeline is built.
- A loss records where on the path it happened (``lost_at``, a fraction from the
  sender) and when the segment was due; a copy the link made records where it was made
  (``copied_at``). ``drop`` loses a segment halfway (0.5); ``duplicate`` copies it at
  the sender's end (0.0, the copy travels the whole way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from core.simulate.link import Fate
from core.tcp.machine import Endpoint, EndpointConfig
from core.tcp.segment import Segment
from core.tcp.states import Side, TcpState, Trigger
from core.tcp.table import Row
from core.trace import Peer, StateChanged, Timeline, TimelineBuilder

#: the label of a copy the link made of a segment (an arrow of its own)
LINK_COPY = "duplicated by the link"


@dataclass(frozen=True, slots=True)
class InFlight:
    index: int
    sender: Side
    segment: Segment
    sent: float
    arrival: float


class Pair:
    """A client and a server endpoint and the link between them."""

    def __init__(self, client: EndpointConfig | None = None,
                 server: EndpointConfig | None = None, *, delay: float = 0.010,
                 title: str = "two endpoints", client_address: str = "10.0.0.1",
                 client_port: int = 34694, server_address: str = "10.0.0.2",
                 server_port: int = 5000,
                 on_row: Callable[[TcpState, Trigger, Row], None] | None = None) -> None:
        self.delay = delay
        self.now = 0.0
        self.endpoints = {Side.CLIENT: Endpoint(Side.CLIENT, client, on_row),
                          Side.SERVER: Endpoint(Side.SERVER, server, on_row)}
        self.flights: list[InFlight] = []
        self._builder = TimelineBuilder(
            title=title,
            client=Peer(side=Side.CLIENT, address=client_address, port=client_port),
            server=Peer(side=Side.SERVER, address=server_address, port=server_port),
            msl=(client or EndpointConfig()).msl)

    @property
    def client(self) -> Endpoint:
        return self.endpoints[Side.CLIENT]

    @property
    def server(self) -> Endpoint:
        return self.endpoints[Side.SERVER]

    @property
    def states(self) -> tuple[TcpState, TcpState]:
        return self.client.state, self.server.state

    def at(self, time: float) -> Pair:
        """Move the clock forward to ``time`` (never back)."""
        self.now = max(self.now, time)
        return self

    def app(self, side: Side, call: str, *args: object) -> None:
        """Make an application call, e.g. ``pair.app(Side.CLIENT, "send", b"hello")``."""
        getattr(self.endpoints[side], call)(self.now, *args)
        self._collect(side, None)

    def read(self, side: Side, size: int | None = None) -> bytes:
        """The application on ``side`` reads what has arrived in order."""
        data = self.endpoints[side].read(self.now, size)
        self._collect(side, None)
        return data

    def _collect(self, side: Side, cause: int | None) -> None:
        endpoint = self.endpoints[side]
        for event in endpoint.take_events():
            if isinstance(event, StateChanged) and cause is not None:
                event = replace(event, segment=cause)
            self._builder.add(event)
        for segment in endpoint.take_segments():
            index = self._builder.sent(self.now, side, segment)
            fate = self._fate(side)
            if fate.reason is not None:
                self._builder.lost(self.now + self._one_way(side) / 2, index, fate.reason,
                                   lost_at=fate.lost_at, due=fate.due)
            for n, arrival in enumerate(fate.arrivals):
                if n:  # the link made a copy: it is an arrow of its own
                    index = self._builder.sent(self.now, side, segment,
                                               labels=(LINK_COPY,), copied_at=fate.copied_at)
                self._launch(InFlight(index, side, segment, self.now, arrival))

    def _launch(self, flight: InFlight) -> None:
        self.flights.append(flight)

    def _one_way(self, sender: Side) -> float:
        return self.delay

    def _fate(self, sender: Side) -> Fate:
        """When a segment sent now arrives (no time: lost, with the reason and place)."""
        arrival = self.now + self._one_way(sender)
        return Fate(arrivals=(arrival,), due=arrival)

    def pending(self, sender: Side | None = None) -> list[InFlight]:
        return [f for f in self.flights if sender is None or f.sender is sender]

    def _take(self, sender: Side | None, n: int) -> InFlight:
        flight = self.pending(sender)[n]
        self.flights.remove(flight)
        return flight

    def deliver(self, sender: Side | None = None, n: int = 0) -> Segment:
        """Deliver the ``n``-th segment in flight from ``sender`` (oldest first)."""
        flight = self._take(sender, n)
        self._arrive(flight)
        return flight.segment

    def _arrive(self, flight: InFlight) -> None:
        self.at(flight.arrival)
        receiver = flight.sender.peer
        self._builder.arrived(self.now, flight.index)
        self.endpoints[receiver].receive(self.now, flight.segment)
        self._collect(receiver, flight.index)

    def drop(self, sender: Side | None = None, n: int = 0) -> Segment:
        """Lose the ``n``-th segment in flight from ``sender``."""
        flight = self._take(sender, n)
        self._builder.lost(max(self.now, (flight.sent + flight.arrival) / 2), flight.index,
                           lost_at=0.5, due=flight.arrival)
        return flight.segment

    def duplicate(self, sender: Side | None = None, n: int = 0) -> None:
        """The link duplicates a segment in flight (the copy travels after it)."""
        flight = self.pending(sender)[n]
        index = self._builder.sent(self.now, flight.sender, flight.segment,
                                   labels=(LINK_COPY,), copied_at=0.0)
        self.flights.append(InFlight(index, flight.sender, flight.segment, self.now,
                                     self.now + self._one_way(flight.sender)))

    def inject(self, sender: Side, segment: Segment) -> None:
        """Deliver a hand-made segment as if ``sender`` had sent it (old duplicates etc.)."""
        index = self._builder.sent(self.now, sender, segment, labels=("injected",))
        self._arrive(InFlight(index, sender, segment, self.now, self.now))

    def deliver_all(self) -> None:
        while self.flights:
            self.deliver()

    def next_deadline(self) -> float | None:
        deadlines = [d for e in self.endpoints.values() if (d := e.next_deadline()) is not None]
        return min(deadlines, default=None)

    def fire_timers(self) -> bool:
        """Jump to the earliest timer deadline and fire it; False if no timer runs."""
        deadline = self.next_deadline()
        if deadline is None:
            return False
        self.at(deadline)
        for side, endpoint in self.endpoints.items():
            endpoint.handle_timer(self.now)
            self._collect(side, None)
        return True

    def run(self, until: float | None = None, *, max_steps: int = 100_000) -> None:
        """Deliver segments and fire timers in time order until idle (or ``until``)."""
        for _ in range(max_steps):
            arrival = min((f.arrival for f in self.flights), default=None)
            deadline = self.next_deadline()
            times = [t for t in (arrival, deadline) if t is not None]
            if not times or (until is not None and min(times) > until):
                break
            if arrival is not None and (deadline is None or arrival <= deadline):
                flight = min(self.flights, key=lambda f: (f.arrival, f.index))
                self.flights.remove(flight)
                self._arrive(flight)
            else:
                self.fire_timers()
        else:
            raise RuntimeError(f"link still busy after {max_steps} steps")
        if until is not None:
            self.at(until)

    def timeline(self) -> Timeline:
        return self._builder.build()
