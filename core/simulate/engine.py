"""The discrete-event simulation: two endpoints, a :class:`Link`, two application programs.

Rules:
1. Events run in time order: segment arrivals, timer deadlines, application steps.
   Ties go arrivals first, then timers, then applications (as a kernel handles a packet
   before the process it wakes runs).
2. Deterministic: no clock, no global randomness; the Link's seeded generator is the only
   source of chance, so the same scenario, parameters and seed give the same Timeline.
3. The run ends when nothing is left to happen, or at ``until``.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace

from core.config import EndpointConfig
from core.machine import Endpoint
from core.pair import InFlight, Pair
from core.simulate.link import Link, LinkConfig
from core.simulate.program import Step
from core.states import Side, TcpState
from core.trace import AppCalled, StateChanged, Timeline

MAX_EVENTS = 2_000_000


@dataclass(slots=True)
class _Runner:
    """Where one side's program has got to."""

    steps: Sequence[Step]
    position: int = 0
    ready_at: float | None = None

    @property
    def current(self) -> Step | None:
        return self.steps[self.position] if self.position < len(self.steps) else None


class Simulation(Pair):
    """Two endpoints over an impaired link, driven by their applications' programs."""

    def __init__(self, *, client: EndpointConfig, server: EndpointConfig, link: LinkConfig,
                 client_program: Sequence[Step], server_program: Sequence[Step],
                 title: str = "simulation") -> None:
        # an application that reads does its own reading (and its window shows it)
        if any(step.call == "read" for step in client_program):
            client = replace(client, auto_read=False)
        if any(step.call == "read" for step in server_program):
            server = replace(server, auto_read=False)
        super().__init__(client, server, delay=link.delay, title=title)
        self.link = Link(link)
        self._heap: list[tuple[float, int, InFlight]] = []  # segments in flight
        self._runners = {Side.CLIENT: _Runner(client_program),
                         Side.SERVER: _Runner(server_program)}

    def _launch(self, flight: InFlight) -> None:
        heapq.heappush(self._heap, (flight.arrival, flight.index, flight))

    def _one_way(self, sender: Side) -> float:
        return self.link.config.one_way(sender)

    def _fate(self, sender: Side) -> tuple[list[float], str | None]:
        return self.link.transmit(self.now, sender)

    # ----- applications ----------------------------------------------------------------
    def _app_due(self) -> float | None:
        """Earliest time an application step can run (now if one is ready)."""
        times = []
        for side, runner in self._runners.items():
            step = runner.current
            if step is None:
                continue
            if runner.ready_at is None and step.when.holds(self.endpoints[side], self.now):
                runner.ready_at = self.now + step.after
            if runner.ready_at is not None:
                times.append(runner.ready_at)
            elif step.when.at is not None and step.when.at > self.now:
                times.append(step.when.at)  # may hold then; checked again
        return min(times, default=None)

    def _run_apps(self) -> None:
        for side, runner in self._runners.items():
            step = runner.current
            if step is None or runner.ready_at is None or runner.ready_at > self.now:
                continue
            runner.position += 1
            runner.ready_at = None
            self._call(side, step, runner)

    def _call(self, side: Side, step: Step, runner: _Runner) -> None:
        endpoint = self.endpoints[side]
        if step.call == "read":
            self.read(side)
        elif step.call == "bind":
            busy = endpoint.state is TcpState.TIME_WAIT
            result = "EADDRINUSE: address already in use (TIME_WAIT)" if busy else "ok"
            self._builder.add(AppCalled(time=self.now, side=side, call="bind", result=result))
        elif step.call == "crash":
            self._crash(side)
        else:
            name = {"listen": "passive_open", "connect": "active_open"}.get(step.call, step.call)
            args: tuple[object, ...] = (step.data,) if step.call == "send" else ()
            self.app(side, name, *args)

    def _crash(self, side: Side) -> None:
        """The host restarts: its TCP forgets the connection and sends nothing."""
        old = self.endpoints[side]
        self._builder.add(AppCalled(time=self.now, side=side, call="host restarts",
                                    result="connection state lost"))
        if old.state is not TcpState.CLOSED:
            self._builder.add(StateChanged(time=self.now, side=side, old=old.state,
                                           new=TcpState.CLOSED, trigger=None))
        self.endpoints[side] = Endpoint(side, old.config)

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
                break
            self.at(when)
            if arrival is not None and arrival <= when:
                self._arrive(heapq.heappop(self._heap)[2])
            elif deadline is not None and deadline <= when:
                self.fire_timers()
            else:
                self._run_apps()
        else:
            raise RuntimeError(f"simulation did not settle after {MAX_EVENTS} events")
        return self.timeline()
