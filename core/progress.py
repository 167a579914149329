"""Progress and cancellation of core's long operations: named stages, done of total.

    progress(done, total)          one stage (a ``Progress``)
    stages(name) -> progress       an operation of several stages (a ``Stages``)

Rules:
1. A long operation takes ``progress`` (one stage) or ``stages`` (several, each named by
   one of the constants below, ``numbered`` for a repeated pass) and calls it at the
   start of each stage (``0, total``), at least every ``TICK`` steps of its loops and
   between its heavier array passes, and at the end (``total, total``). ``done`` never
   goes back within a stage; the unit is the stage's (``UNITS``).
2. The callback may raise :class:`core.errors.Cancelled`; the operation lets it through
   unchanged and leaves nothing half-built behind. That is the only way to stop one:
   core has no clock, so "often enough" is counted in steps (``TICK``), and the caller
   (the GUI's worker) decides how often to pass a call on to people.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(done, total)`` of one stage; raising ``Cancelled`` stops the operation.
Progress = Callable[[int, int], None]
#: ``stages(name)`` gives the ``Progress`` of stage ``name``.
Stages = Callable[[str], Progress]

READING = "reading"          # the capture's bytes brought into memory
WALKING = "walking"          # the capture's bytes walked record by record (or block)
DECODING = "decoding"        # the capture's bytes decoded, a chunk of records at a time
INDEXING = "indexing"        # conversations and tshark's stream numbers (steps)
ANALYSING = "analysing"      # one stream's packets through tshark's analysis
REPLAYING = "replaying"      # one stream's segments walked through both state machines
DOUBTS = "doubts"            # a walk of another reading the capture leaves open
WINDOWS = "windows"          # the window bars' series: one more walk of the stream

#: What ``done`` and ``total`` count in each stage.
UNITS = {READING: "byte", WALKING: "byte", DECODING: "byte", INDEXING: "step",
         ANALYSING: "packet", REPLAYING: "event", DOUBTS: "event", WINDOWS: "event"}

#: Loop steps between two calls of a long loop (a power of two: ``step & TICK_MASK``).
TICK = 2048
TICK_MASK = TICK - 1


def numbered(stage: str, number: int) -> str:
    """Pass ``number`` of ``stage``: ``stage`` itself for the first, ``"replaying 2"``."""
    return stage if number <= 1 else f"{stage} {number}"


def split(stage: str) -> tuple[str, int]:
    """``numbered``'s inverse: ``("replaying", 2)``."""
    name, _, number = stage.partition(" ")
    return name, int(number) if number.isdigit() else 1


def ignore(done: int, total: int) -> None:
    """A ``Progress`` that tells nobody (for loops written with one)."""


def silent(stage: str) -> Progress:
    """A ``Stages`` that tells nobody."""
    return ignore
