"""The discrete-event simulation: two endpoints, a :class:`Link`, two application programs.

Rules:
1. Events run in time order: segment arrivals, timer deadlines, application steps.
   Ties go arrivals first, then timers, then applications (as a kernel handles a packet
   before the process it wakes runs); equal times keep the order things were sent in.
2. Deterministic: no clock, no global randomness; the seeded links are the only source
   of chance, so the same scenario, parameters and seed give the same Timeline.
3. The run ends when nothing is left to happen, or at ``until`` (the Timeline then says
   so in its notes); a run that has not settled after ``MAX_EVENTS`` is an error.
4. Calls block as sockets do: connect() until the handshake completes or fails, send()
   until the send buffer took everything, accept() until a connection is queued; each
   one's result is an ``AppCalled`` event at the moment it returns.
5. The server listens through a :class:`Listener` shared with other clients (see
   :mod:`core.simulate.crowd`); only the connection shown has arrows.
6. The Timeline's segments carry the analysis labels of a capture next to the client
   (:mod:`core.simulate.labels`), then the simulation's own notes.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.errors import IllegalTransition, SynAckError
from core.simulate.crowd import SHOWN, Crowd, Listener, Stray, failure
from core.simulate.labels import relabel
from core.simulate.link import Fate, Link, LinkConfig
from core.simulate.pair import InFlight, Pair
from core.simulate.program import Step
from core.tcp.config import EndpointConfig
from core.tcp.machine import Endpoint
from core.tcp.states import Side, TcpState, Trigger
from core.tcp.table import Opening
from core.text import counted
from core.trace import AppCalled, AppNotified, StateChanged, Timeline

MAX_EVENTS = 2_000_000


@dataclass(slots=True)
class _Runner:
    """Where one side's program has got to, and the call it is blocked in."""

    steps: Sequence[Step]
    position: int = 0
    ready_at: float | None = None
    blocked: str | None = None  # "connect" or "send"
    rest: bytes = b""  # what a blocked send() still has to hand over
    size: int = 0  # the blocked send()'s size
    next_read: float = 0.0  # the periodic reader (read_rate): its next read

    @property
    def current(self) -> Step | None:
        return self.steps[self.position] if self.position < len(self.steps) else None


def _refused(call: str, endpoint: Endpoint) -> str:
    """The result of a call the connection's state does not allow."""
    state = endpoint.state
    if call in ("close", "abort") and state is TcpState.CLOSED:
        return "ok (no connection left to close)"
    if call == "send":
        return failure(endpoint) if endpoint.error else f"EPIPE: not allowed in {state.value}"
    if call == "connect" and state.synchronized:
        return "EISCONN: already connected"
    return f"EINVAL: not allowed in {state.value}"


class Simulation(Pair):
    """Two endpoints over an impaired link, driven by their applications' programs."""

    def __init__(self, *, client: EndpointConfig, server: EndpointConfig, link: LinkConfig,
                 client_program: Sequence[Step], server_program: Sequence[Step],
                 title: str = "simulation", others: Sequence[float] = ()) -> None:
        # an application that reads does its own reading (and its window shows it)
        if client.read_rate is not None or any(s.call == "read" for s in client_program):
            client = replace(client, auto_read=False)
        if server.read_rate is not None or any(s.call == "read" for s in server_program):
            server = replace(server, auto_read=False)
        super().__init__(client, server, delay=link.delay, title=title)
        self.link = Link(link)
        self.listener = Listener()
        self.crowd = Crowd(tuple(others), client=client, server=server, link=link,
                           address=self._builder.client.address,
                           shown_port=self._builder.client.port)
        self._heap: list[tuple[float, int, InFlight | Stray]] = []
        self._order = itertools.count()
        self._runners = {Side.CLIENT: _Runner(client_program),
                         Side.SERVER: _Runner(server_program)}
        self._notes: dict[int, tuple[str, ...]] = {}
        self._shown_queued = False
        self._cut: float | None = None

    def _launch(self, flight: InFlight) -> None:
        heapq.heappush(self._heap, (flight.arrival, next(self._order), flight))

    def _one_way(self, sender: Side) -> float:
        return self.link.config.one_way(sender)

    def _fate(self, sender: Side) -> Fate:
        return self.link.decide(self.now, sender)

    # ----- arrivals and timers ---------------------------------------------------------
    def _arrive(self, flight: InFlight) -> None:
        if flight.sender is Side.CLIENT:
            what = self.listener.refuses(self.server, flight.segment)
            if what is not None:  # it reached the server host; the listener drops it
                self.at(flight.arrival)
                self._builder.arrived(self.now, flight.index)
                self._notes[flight.index] = (f"{what} dropped: accept queue full",)
                self._builder.add(AppNotified(time=self.now, side=Side.SERVER,
                                              message=self.listener.dropped(what, SHOWN)))
                return
        super()._arrive(flight)

    def next_deadline(self) -> float | None:
        own = super().next_deadline()
        if not self.crowd:
            return own
        theirs = self.crowd.next_deadline()
        return own if theirs is None else theirs if own is None else min(own, theirs)

    def fire_timers(self) -> bool:
        fired = super().fire_timers()
        if self.crowd:
            self.crowd.fire_timers(self.now, self.listener)
            self._take_crowd()
        return fired

    def _take_crowd(self) -> None:
        for arrival, stray in self.crowd.flights:
            heapq.heappush(self._heap, (arrival, next(self._order), stray))
        self.crowd.flights.clear()
        for event in self.crowd.events:
            self._builder.add(event)
        self.crowd.events.clear()

    def _collect(self, side: Side, cause: int | None) -> None:
        super()._collect(side, cause)
        if side is Side.SERVER and not self._shown_queued and self.listener.listening:
            server = self.server
            if server.opening is Opening.PASSIVE and server.state.synchronized:
                self._shown_queued = True
                self.listener.queue.append(SHOWN)
                if self.crowd:
                    self._builder.add(AppNotified(
                        time=self.now, side=side,
                        message=f"accept queue {self.listener.status}: {SHOWN} connected"))
        runner = self._runners[side]
        if runner.blocked == "connect":
            self._connect_returns(side, runner)
        elif runner.blocked == "send":
            self._send_goes_on(side, runner)

    # ----- applications ----------------------------------------------------------------
    def _app_due(self) -> float | None:
        """Earliest time an application step can run (now if one is ready)."""
        times = []
        for side, runner in self._runners.items():
            endpoint = self.endpoints[side]
            if self._reader_waits(side) is not None:
                times.append(max(self.now, runner.next_read))
            step = runner.current
            if step is None or runner.blocked is not None:
                continue
            if runner.ready_at is None and step.when.holds(endpoint, self.now) and (
                    step.call != "accept" or self.listener.queue):
                runner.ready_at = self.now + step.after
            if runner.ready_at is not None:
                times.append(runner.ready_at)
            elif step.when.at is not None and step.when.at > self.now:
                times.append(step.when.at)  # may hold then; checked again
        if self.crowd and (start := self.crowd.next_start()) is not None:
            times.append(start)
        return min(times, default=None)

    def _reader_waits(self, side: Side) -> int | None:
        """How much the periodic reader (``read_rate``) reads once it is due; None: it has
        nothing to read, or the application has not accepted the connection yet."""
        endpoint = self.endpoints[side]
        rate = endpoint.config.read_rate
        if rate is None or not endpoint.buffered:
            return None
        if side is Side.SERVER and SHOWN in self.listener.queue:
            return None
        return max(1, int(rate * endpoint.config.read_every))

    def _run_apps(self) -> None:
        for side, runner in self._runners.items():
            step = runner.current
            if step is None or runner.ready_at is None or runner.ready_at > self.now:
                continue
            if step.call == "accept" and not self.listener.queue:
                runner.ready_at = None  # the queue emptied meanwhile (a crash): wait again
                continue
            runner.position += 1
            runner.ready_at = None
            self._call(side, step, runner)
        for side, runner in self._runners.items():
            size = self._reader_waits(side)
            if size is not None and runner.next_read <= self.now:
                self.read(side, size)
                runner.next_read = self.now + self.endpoints[side].config.read_every
        if self.crowd:
            self.crowd.start_due(self.now)
            self._take_crowd()

    def _call(self, side: Side, step: Step, runner: _Runner) -> None:
        try:
            self._dispatch(side, step, runner)
        except IllegalTransition:  # as a socket call fails; the program goes on
            runner.blocked = None
            self._app_result(side, step.call, _refused(step.call, self.endpoints[side]))

    def _dispatch(self, side: Side, step: Step, runner: _Runner) -> None:
        endpoint = self.endpoints[side]
        if step.call == "read":
            self.read(side)
        elif step.call == "bind":
            busy = endpoint.state is TcpState.TIME_WAIT
            result = "EADDRINUSE: address already in use (TIME_WAIT)" if busy else "ok"
            self._app_result(side, "bind", result)
        elif step.call == "crash":
            self._crash(side)
        elif step.call == "accept":
            self._accept(side)
        elif step.call == "send":
            taken = endpoint.send(self.now, step.data)
            if taken < len(step.data):
                runner.blocked, runner.rest, runner.size = "send", step.data[taken:], len(step.data)
            self._collect(side, None)
        else:
            if step.call == "listen" and side is Side.SERVER:
                self.listener.listen(endpoint.config.backlog)
                self._shown_queued = False
            elif step.call == "connect":
                runner.blocked = "connect"
            elif side is Side.SERVER and endpoint.state is TcpState.LISTEN:
                self.listener.close()  # close() or abort() of the listening socket
            name = {"listen": "passive_open", "connect": "active_open"}.get(step.call, step.call)
            self.app(side, name)

    def _app_result(self, side: Side, call: str, result: str) -> None:
        self._builder.add(AppCalled(time=self.now, side=side, call=call, result=result))

    def _connect_returns(self, side: Side, runner: _Runner) -> None:
        endpoint = self.endpoints[side]
        if endpoint.state.synchronized:
            self._app_result(side, "connect", "connected")
        elif endpoint.state is TcpState.CLOSED:
            self._app_result(side, "connect", failure(endpoint))
        else:
            return
        runner.blocked = None

    def _send_goes_on(self, side: Side, runner: _Runner) -> None:
        """A blocked send() hands over what now fits; it returns once all is queued."""
        endpoint = self.endpoints[side]
        if Trigger.SEND not in endpoint.allowed_calls():
            runner.blocked = None
            size = counted(runner.size, "byte")
            self._app_result(side, "send", f"{failure(endpoint)} "
                             f"({runner.size - len(runner.rest)} of {size} queued)")
            return
        room = endpoint.send_room
        if not room:
            return
        chunk, runner.rest = runner.rest[:room], runner.rest[room:]
        if not runner.rest:
            runner.blocked = None
            self._app_result(side, "send", f"returns {runner.size}: the last {len(chunk)} "
                             "bytes queued")
        endpoint.send(self.now, chunk, record=False)
        self._collect(side, None)

    def _accept(self, side: Side) -> None:
        who = self.listener.queue.pop(0)
        queue = f"; accept queue {self.listener.status}" if self.crowd else ""
        peer = self._builder.client.label if who == SHOWN else who
        self._app_result(side, "accept", f"{peer}{' (' + SHOWN + ')' if who == SHOWN else ''}"
                                         f"{queue}")

    def _crash(self, side: Side) -> None:
        """The host restarts: its TCP forgets the connection and sends nothing."""
        old = self.endpoints[side]
        self._app_result(side, "host restarts", "connection state lost")
        if old.state is not TcpState.CLOSED:
            self._builder.add(StateChanged(time=self.now, side=side, old=old.state,
                                           new=TcpState.CLOSED, trigger=None))
        self.endpoints[side] = Endpoint(side, old.config)
        if side is Side.SERVER:
            self.listener.close()
        runner = self._runners[side]
        runner.blocked, runner.rest = None, b""

    # ----- the loop ----------------------------------------------------------------------
    def simulate(self, until: float | None = None) -> Timeline:
        for _ in range(MAX_EVENTS):
            app = self._app_due()
            arrival = self._heap[0][0] if self._heap else None
            deadline = self.next_deadline()
            candidates = [t for t in (arrival, deadline, app) if t is not None]
            if not candidates:
                break
            when = min(candidates)
            if until is not None and when > until:
                self._cut = until
                break
            self.at(when)
            if arrival is not None and arrival <= when:
                flight = heapq.heappop(self._heap)[2]
                if isinstance(flight, Stray):
                    self.crowd.arrive(self.now, flight, self.listener)
                    self._take_crowd()
                else:
                    self._arrive(flight)
            elif deadline is not None and deadline <= when:
                self.fire_timers()
            else:
                self._run_apps()
        else:
            raise SynAckError(f"the simulation did not settle after {MAX_EVENTS} events "
                              f"({self.now:g} s simulated); set until=SECONDS to stop it sooner")
        return self.timeline()

    def timeline(self) -> Timeline:
        notes = () if self._cut is None else (
            f"stopped at {self._cut:g} s of simulated time; more was still to happen",)
        return relabel(super().timeline(), self._notes, notes)
