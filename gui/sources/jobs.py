"""Long core work off the GUI thread: a worker per job, progress by stage, Cancel.

    class CaptureLoader(JobRunner): ...          # gui.sources.loader; gui.sources.replayer likewise
    JobProgressDialog(runner, parent, title=..., error_title=...)

Rules:
1. A job is ``work(stages) -> result``, run in the runner's ``QThreadPool``; ``stages``
   is a :data:`core.progress.Stages` whose callbacks touch no Qt object but the job's
   relay, whose signals reach the runner queued, in the GUI thread.
2. Each ``_start`` ends with exactly one of the runner's own result signal (``_emit_done``),
   ``failed`` or ``cancelled`` (never emitted from inside a start or ``cancel``). A new
   start cancels the job still running; signals of a job that is no longer current are
   dropped.
3. ``cancel`` sets the job's flag; every progress call checks it and raises
   ``Cancelled``, so the job stops at core's next call (core calls often enough that
   this is a few tens of milliseconds of work, :mod:`core.progress`). Once asked, the
   job ends in ``cancelled`` even if its result was already made.
4. Progress reaches the GUI at most every ``EMIT_MS`` per stage, plus each stage's first
   and last call: core may call a thousand times a second, the dialog needs twenty.
5. ``failed`` carries the text of core's ``SynAckError``; an unexpected exception gives
   the job's name and the exception, and is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from itertools import count
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from core.errors import Cancelled, SynAckError
from core.gcpause import paused
from core.progress import (
    ANALYSING,
    DECODING,
    DOUBTS,
    INDEXING,
    READING,
    REPLAYING,
    WALKING,
    WINDOWS,
    Progress,
    Stages,
    split,
)
from core.text import counted

_log = logging.getLogger(__name__)

#: Least time between two progress signals of one stage (rule 4).
EMIT_MS = 50
#: What people read for each stage of core (``core.progress``), and the unit counted.
STAGE_TEXT = {
    READING: ("Reading the file", "byte"),
    WALKING: ("Finding the packets", "byte"),
    DECODING: ("Decoding the packets", "byte"),
    INDEXING: ("Numbering the streams", "step"),
    ANALYSING: ("Analysing the packets", "packet"),
    REPLAYING: ("Replaying both sides' states", "event"),
    DOUBTS: ("Weighing another reading", "event"),
    WINDOWS: ("Building the window bars", "event"),
}

Work = Callable[[Stages], object]


def stage_text(stage: str, done: int, total: int) -> str:
    """``Decoding the packets: 40.2 MB of 60.4 MB``; ``Replaying both sides' states
    (pass 2): 1,024 of 200,000 events``; a stage core does not name here: its name."""
    name, number = split(stage)
    text, unit = STAGE_TEXT.get(name, (name[:1].upper() + name[1:], ""))
    if number > 1:
        text += f" (pass {number})"
    if unit == "byte":
        return f"{text}: {_bytes(done)} of {_bytes(total)}"
    if unit == "step":
        return f"{text}: step {min(done + 1, total)} of {total}"
    if unit:
        return f"{text}: {done:,} of {counted(total, unit, sep=',')}"
    return f"{text}: {done:,} of {total:,}"


def _bytes(value: int) -> str:
    return f"{value / 1e6:,.1f} MB" if value >= 100_000 else counted(value, "byte", sep=",")


class _Relay(QObject):
    """The worker's only Qt object: made in the GUI thread, no slots, nothing posted to
    it; its signals carry the job number and reach the runner queued."""

    progressed = Signal(int, str, object, object)
    finished = Signal(int, str, object)


def _told(job: int, relay: _Relay, stop: threading.Event, name: str) -> Stages:
    """The job's ``Stages``: checks ``stop`` on every call (rule 3), tells the relay at
    most every ``EMIT_MS`` (rule 4)."""

    def stages(stage: str) -> Progress:
        told_at, told_done = -1.0, -1

        def progress(done: int, total: int) -> None:
            nonlocal told_at, told_done
            if stop.is_set():
                raise Cancelled(f"{name}: cancelled")
            now = time.monotonic()
            if told_at < 0 or now - told_at >= EMIT_MS / 1000 or (
                    done >= total and told_done < total):
                told_at, told_done = now, done
                relay.progressed.emit(job, stage, done, total)
        return progress
    return stages


def _run(job: int, work: Work, name: str, failure: str, relay: _Relay,
         stop: threading.Event) -> None:
    """The worker: runs in the thread pool (rule 1). The cyclic garbage collector stays
    paused until the end is told: a walk cancelled half way leaves millions of objects,
    freed by their frames once the exception is handled; a collection with them still
    alive would hold the interpreter (and the GUI thread) for a fifth of a second."""
    kind: str
    payload: object = None
    with paused():
        try:
            payload = work(_told(job, relay, stop, name))
            if stop.is_set():
                raise Cancelled(f"{name}: cancelled")
            kind = "done"
        except Cancelled:
            kind, payload = "cancelled", None
        except SynAckError as exc:
            kind, payload = "failed", str(exc)
        except Exception as exc:  # the app must keep running whatever the file holds
            _log.exception("%s failed", name)
            kind, payload = "failed", f"{name}: {failure} ({type(exc).__name__}: {exc})"
        relay.finished.emit(job, kind, payload)


class JobRunner(QObject):
    """Runs one job at a time in a worker thread (module rules); subclasses start jobs
    with ``_start`` and emit their result signal in ``_emit_done``.

    Signals:
        progressed(str stage, int done, int total): a stage of core (``core.progress``)
            or of the subclass; a few per second at most.
        failed(str): core's message.
        cancelled(): the job stopped on ``cancel`` (a job replaced by a newer start
            ends silently).
        ended(): after whichever of the three above ended the current job.
    """

    progressed = Signal(str, object, object)   # Python ints: files pass 2 GiB
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)     # a cancelled job may still be finishing
        self._jobs = count(1)
        self._job = 0
        self._label = ""
        self._stop = threading.Event()
        self._relays: dict[int, _Relay] = {}
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_quitting)

    @property
    def busy(self) -> bool:
        """A job was started and has not ended yet."""
        return self._job in self._relays

    @property
    def label(self) -> str:
        """What the current (or last) job works on, for people (a file name, a stream)."""
        return self._label

    def _start(self, work: Work, name: str, *, label: str = "",
               failure: str = "could not be done") -> None:
        """Run ``work`` in the pool; a job still running is cancelled first (rule 2).
        ``name`` begins the message of an unexpected failure (``name: failure (...)``),
        ``label`` heads the progress dialog (default: ``name``)."""
        if self.busy:
            self.cancel()
        self._job = job = next(self._jobs)
        self._label = label or name
        self._stop = stop = threading.Event()
        relay = _Relay()
        relay.progressed.connect(self._on_job_progressed)
        relay.finished.connect(self._on_job_finished)
        self._relays[job] = relay
        self._pool.start(lambda: _run(job, work, name, failure, relay, stop))

    def _emit_done(self, result: Any) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Ask the running job to stop; ``cancelled`` follows (rule 3)."""
        self._stop.set()

    def wait(self, msecs: int = -1) -> bool:
        """Block until no worker runs (for shutdown); False on timeout."""
        return bool(self._pool.waitForDone(msecs))

    @Slot(int, str, object, object)
    def _on_job_progressed(self, job: int, stage: str, done: int, total: int) -> None:
        if job == self._job and not self._stop.is_set():
            self.progressed.emit(stage, done, total)

    @Slot(int, str, object)
    def _on_job_finished(self, job: int, kind: str, payload: object) -> None:
        self._relays.pop(job, None)
        if job != self._job:
            return
        if kind == "done" and self._stop.is_set():
            kind = "cancelled"
        if kind == "done":
            self._emit_done(payload)
        elif kind == "failed":
            self.failed.emit(str(payload))
        else:
            self.cancelled.emit()
        self.ended.emit()

    @Slot()
    def _on_quitting(self) -> None:
        self.cancel()
        self.wait(5000)


class JobProgressDialog(QDialog):
    """Window-modal progress of a ``JobRunner``: what, the stage, its bar, Cancel.

    It opens ``show_after_ms`` after a job starts (short jobs never flash it) and closes
    when the job ends; Cancel, Escape and the close button all ask the runner to cancel.
    The label names the stage and its real done/total (``stage_text``); the bar is that
    stage's (it starts again at each stage). A failed job opens ``error_box``
    (non-blocking) with core's message. The bar never calls ``processEvents`` (the job
    runs in a worker, the GUI stays live).

    Signals: none of its own.
    """

    STEPS = 1000

    def __init__(self, runner: JobRunner, parent: QWidget | None = None, *,
                 title: str, error_title: str, show_after_ms: int = 400) -> None:
        super().__init__(parent)
        self._runner = runner
        self._active = False
        self._error_title = error_title
        self.error_box: QMessageBox | None = None
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(460)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, self.STEPS)
        self.bar.setTextVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.label, self.bar, self.buttons):
            layout.addWidget(widget)
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.setInterval(show_after_ms)
        self._show_timer.timeout.connect(self._on_show_due)
        runner.progressed.connect(self._on_progressed)
        runner.failed.connect(self._on_failed)
        runner.ended.connect(self._on_ended)

    def reject(self) -> None:
        """Cancel the job; the dialog closes when the runner says it stopped."""
        if self._active:
            self.label.setText(f"{self._runner.label}\nCancelling\u2026")
            self.buttons.setEnabled(False)
            self._runner.cancel()

    def _on_progressed(self, stage: str, done: int, total: int) -> None:
        if not self._active:
            self._active = True
            self.buttons.setEnabled(True)
            self._show_timer.start()
        self.label.setText(f"{self._runner.label}\n{stage_text(stage, done, total)}")
        share = min(1.0, done / total) if total > 0 else 1.0
        self.bar.setValue(round(share * self.STEPS))

    def _on_show_due(self) -> None:
        if self._active:
            self.open()

    def _on_ended(self, *_: object) -> None:
        self._active = False
        self._show_timer.stop()
        self.bar.setValue(0)
        self.hide()

    def _on_failed(self, message: str) -> None:
        self._on_ended()
        box = QMessageBox(QMessageBox.Icon.Critical, self._error_title, message,
                          QMessageBox.StandardButton.Ok, self.parentWidget())
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.error_box = box
