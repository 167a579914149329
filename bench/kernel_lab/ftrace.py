"""A private tracefs instance per run: ``sock:inet_sock_set_state`` and
``tcp:tcp_receive_reset`` filtered on the run's ports, clock CLOCK_MONOTONIC.

An instance (``/sys/kernel/tracing/instances/NAME``) has its own buffer, events, filters
and clock, so parallel runs (and anyone else using tracefs) do not disturb each other.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TRACEFS = Path("/sys/kernel/tracing")
EVENTS = ("sock/inet_sock_set_state", "tcp/tcp_receive_reset")


def tracefs_ok() -> str | None:
    """``None`` when the tracepoint can be used, else why not."""
    if not (TRACEFS / "instances").is_dir():
        return (f"{TRACEFS} is not mounted (mount -t tracefs nodev {TRACEFS})")
    if not (TRACEFS / "events" / "sock" / "inet_sock_set_state").is_dir():
        return "the tracepoint sock:inet_sock_set_state does not exist in this kernel"
    return None


def clock_offset() -> float:
    """wall clock - CLOCK_MONOTONIC (the trace clock ``mono``), best of a few reads."""
    best: tuple[float, float] | None = None
    for _ in range(5):
        a = time.monotonic()
        w = time.time()
        b = time.monotonic()
        if best is None or b - a < best[0]:
            best = (b - a, w - (a + b) / 2)
    assert best is not None
    return best[1]


class TraceInstance:
    """``with TraceInstance(name, ports) as tr: ...; text = tr.read()``."""

    def __init__(self, name: str, ports: list[int], buffer_kb: int = 1024) -> None:
        self.path = TRACEFS / "instances" / name
        self.ports = ports
        self.buffer_kb = buffer_kb
        self.offset = 0.0
        self.text = ""

    def _w(self, rel: str, value: str) -> None:
        with open(self.path / rel, "w") as f:
            f.write(value)

    def __enter__(self) -> TraceInstance:
        if self.path.exists():
            self._teardown()
        os.mkdir(self.path)
        self._w("buffer_size_kb", str(self.buffer_kb))
        self._w("trace_clock", "mono")
        self._w("options/fields", "1")
        ports = " || ".join(f"sport == {p} || dport == {p}" for p in self.ports)
        for ev in EVENTS:
            flt = f"protocol == 6 && ({ports})" if ev.startswith("sock/") else ports
            self._w(f"events/{ev}/filter", flt)
            self._w(f"events/{ev}/enable", "1")
        self.offset = clock_offset()
        return self

    def read(self) -> str:
        self.text = (self.path / "trace").read_text()
        return self.text

    def _teardown(self) -> None:
        for ev in EVENTS:
            try:
                self._w(f"events/{ev}/enable", "0")
            except OSError:
                pass
        for _ in range(20):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if not self.text:
            try:
                self.read()
            except OSError:
                pass
        self._teardown()
