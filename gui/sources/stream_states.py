"""Final states and analysis labels of a capture's streams, computed in the background.

    filler = OutcomeFiller(parent)
    filler.computed.connect(model.set_outcomes)    # lists of core.replay.outcomes.Outcome
    filler.start(index)                             # cancels the job still running
    filler.want([12, 13, 14])                       # these first (the rows in view)

Rules:
1. One worker at a time runs :class:`core.replay.outcomes.StreamOutcomes` on batches of
   streams: first those of the latest ``want`` not done yet, then every other stream in
   stream order. The worker touches no Qt object but its job's relay, whose signals
   reach the filler queued, in the GUI thread.
2. Batches stay short: a batch holds at most ``MAX_PACKETS`` packets (at least one
   stream), and its size grows while batches take under ``BATCH_SECONDS`` and shrinks
   above, so a ``want`` or a ``cancel`` takes effect within about that time (a single
   huge stream takes as long as its replay).
3. ``start``, ``cancel``, the application quitting and the filler being deleted stop the
   running job at its next batch; what a job that is no longer current computed is
   dropped, never emitted.
4. ``computed`` carries each batch's outcomes; ``finished`` follows the last batch of a
   job that computed every stream (not of a cancelled one).
5. A stream whose analysis or replay raises gets no outcome: it is logged and the job
   goes on (a capture can hold anything; the rest of the list still fills in).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from functools import partial
from itertools import count

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, Signal, Slot

from core.capture.index import CaptureIndex
from core.replay.outcomes import Outcome, StreamOutcomes

_log = logging.getLogger(__name__)

#: Target duration of one batch (rule 2).
BATCH_SECONDS = 0.15
#: Most packets in one batch (rule 2).
MAX_PACKETS = 200_000
_MAX_STREAMS = 512


class _Wants:
    """The streams asked for last, shared by the GUI thread and the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[int] | None = None

    def put(self, streams: Iterable[int]) -> None:
        with self._lock:
            self._streams = list(streams)

    def take(self) -> list[int] | None:
        with self._lock:
            streams, self._streams = self._streams, None
            return streams


class _Relay(QObject):
    """The worker's only Qt object (made in the GUI thread); signals carry the job."""

    computed = Signal(int, object)
    finished = Signal(int, bool)


def _compute(outcomes: StreamOutcomes, batch: list[int]) -> list[Outcome]:
    try:
        return outcomes.compute(batch)
    except Exception:
        if len(batch) == 1:
            _log.exception("the outcome of stream %d could not be computed", batch[0])
            return []
    return [o for s in batch for o in _compute(outcomes, [s])]   # find the one that failed


class _Batches:
    """Which streams to compute next: the wanted ones not done yet, then stream order."""

    def __init__(self, outcomes: StreamOutcomes) -> None:
        self._outcomes = outcomes
        self.total = len(outcomes)
        self._done = np.zeros(self.total, bool)
        self._cursor = 0
        self._pending: list[int] = []

    def want(self, streams: list[int]) -> None:
        self._pending = [s for s in streams if 0 <= s < self.total]

    def next(self, size: int) -> list[int]:
        """At most ``size`` streams and ``MAX_PACKETS`` packets (at least one stream)."""
        batch: list[int] = []
        packets = 0
        while len(batch) < size:
            if self._pending:
                stream = self._pending[0]
            elif self._cursor < self.total:
                stream = self._cursor
            else:
                break
            if not self._done[stream]:
                more = self._outcomes.packets(stream)
                if batch and packets + more > MAX_PACKETS:
                    break
                batch.append(stream)
                self._done[stream] = True
                packets += more
            if self._pending:
                self._pending.pop(0)
            else:
                self._cursor += 1
        return batch


def _work(job: int, index: CaptureIndex, relay: _Relay, stop: threading.Event,
          wants: _Wants) -> None:
    """The worker (rules 1, 2, 5)."""
    try:
        outcomes = StreamOutcomes(index)
    except Exception:
        _log.exception("no stream outcomes for %s", index.path)
        relay.finished.emit(job, False)
        return
    batches = _Batches(outcomes)
    remaining, size = batches.total, 4
    while remaining and not stop.is_set():
        wanted = wants.take()
        if wanted is not None:
            batches.want(wanted)
        batch = batches.next(size)
        if not batch:                       # every stream handed out
            break
        start = time.monotonic()
        results = _compute(outcomes, batch)
        remaining -= len(batch)
        elapsed = time.monotonic() - start
        if elapsed < BATCH_SECONDS / 2:
            size = min(_MAX_STREAMS, size * 2)
        elif elapsed > BATCH_SECONDS * 2:
            size = max(1, size // 2)
        if not stop.is_set():
            relay.computed.emit(job, results)
    relay.finished.emit(job, remaining == 0 and not stop.is_set())


def _stop_all(stops: list[threading.Event], *_: object) -> None:
    for stop in stops:
        stop.set()


class OutcomeFiller(QObject):
    """Computes the outcome of every stream of an index in a worker (module rules).

    Signals:
        computed(object): a list of ``Outcome`` of the current job.
        finished(): every stream of the current job has its outcome.
    """

    computed = Signal(object)
    finished = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)         # a cancelled job may still be finishing
        self._jobs = count(1)
        self._job = 0
        self._stop = threading.Event()
        self._wants = _Wants()
        self._relays: dict[int, _Relay] = {}
        self._stops: list[threading.Event] = []
        # deleting the filler deletes its pool, which waits for the job: stop it first
        self.destroyed.connect(partial(_stop_all, self._stops))
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_quitting)

    @property
    def busy(self) -> bool:
        """The current job has not finished (nor been cancelled)."""
        return self._job in self._relays and not self._stop.is_set()

    def start(self, index: CaptureIndex, want: Iterable[int] = ()) -> None:
        """Compute the outcomes of ``index``'s streams, those in ``want`` first; the
        running job stops (rule 3)."""
        self.cancel()
        self._job = job = next(self._jobs)
        self._stop = stop = threading.Event()
        self._stops[:] = [stop]
        self._wants = wants = _Wants()
        wants.put(want)
        relay = _Relay()
        relay.computed.connect(self._on_job_computed)
        relay.finished.connect(self._on_job_finished)
        self._relays[job] = relay
        self._pool.start(lambda: _work(job, index, relay, stop, wants))

    def want(self, streams: Iterable[int]) -> None:
        """Compute these streams next (the newest ``want`` replaces the one before)."""
        self._wants.put(streams)

    def cancel(self) -> None:
        self._stop.set()

    def wait(self, msecs: int = -1) -> bool:
        """Block until no worker runs (for shutdown and tests); False on timeout."""
        return bool(self._pool.waitForDone(msecs))

    @Slot(int, object)
    def _on_job_computed(self, job: int, outcomes: list[Outcome]) -> None:
        if job == self._job and not self._stop.is_set() and outcomes:
            self.computed.emit(outcomes)

    @Slot(int, bool)
    def _on_job_finished(self, job: int, complete: bool) -> None:
        self._relays.pop(job, None)
        if job == self._job and complete:
            self.finished.emit()

    @Slot()
    def _on_quitting(self) -> None:
        self.cancel()
        self.wait(5000)
