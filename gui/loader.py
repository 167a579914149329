"""Opening a capture without freezing the window: read, index and summarize in a worker.

    loader = CaptureLoader(parent)
    LoadProgressDialog(loader, parent)          # optional: modal progress with Cancel
    loader.loaded.connect(on_loaded)            # a LoadedCapture
    loader.start(path)

Rules:
1. The worker runs ``core.capture.read_capture`` (with its ``progress`` callback) then
   ``core.stream_table.stream_table`` (the index-only list, well under a second; the
   streams' final states and labels are filled in later by the streams panel); it
   touches no Qt object but its job's relay, whose signals reach the loader queued, in
   the GUI thread.
2. Each ``start`` ends with exactly one of ``loaded``, ``failed`` or ``cancelled``
   (never emitted from inside ``start`` or ``cancel``). A new ``start`` cancels the job
   still running; signals of a job that is no longer current are dropped.
3. ``cancel`` asks core to stop at its next progress call (core raises ``Cancelled``);
   once asked, the job ends in ``cancelled`` even if its result was already made.
4. ``failed`` carries the text of core's ``SynAckError`` (file, offset, what was wrong);
   an unexpected exception gives the path and the exception, and is logged.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
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

from core.capture import read_capture
from core.capture.index import CaptureIndex
from core.errors import Cancelled, SynAckError
from core.replay import Replay, replay_stream
from core.stream_table import StreamTable, stream_table
from core.text import counted

_log = logging.getLogger(__name__)

#: ``what`` of ``progressed`` while the file is read (done/total in bytes).
READING = "Reading the capture"
#: ``what`` of ``progressed`` once the streams are listed (total/total streams).
STREAMS = "Listing the streams"


@dataclass(frozen=True, slots=True)
class LoadedCapture:
    """What a finished load hands over: the index, the stream list, warnings.

    ``rows`` is the index-only stream list (``core.stream_table``: numpy columns, one
    row per stream, no final states yet); ``warnings`` are the index's warnings as text
    (a cut file, skipped frames).
    """

    path: str
    index: CaptureIndex
    rows: StreamTable
    warnings: tuple[str, ...]

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def replay(self, stream: int) -> Replay:
        """The chosen stream replayed (``Replay.timeline``); fast enough for the GUI
        thread on any stream the list shows. Raises ``SynAckError`` for a missing one.
        The window bars' series is made here too, not on the first frame drawn."""
        replay = replay_stream(self.index, stream)
        if replay.timeline.windows is not None:
            replay.timeline.windows.prepare()
        return replay


class _Relay(QObject):
    """The worker's only Qt object: made in the GUI thread, no slots, nothing posted to
    it; its signals carry the job number and reach the loader queued."""

    progressed = Signal(int, str, object, object)
    finished = Signal(int, str, object)


def _load(job: int, path: str, relay: _Relay, stop: threading.Event) -> None:
    """The worker: runs in the thread pool (rule 1)."""

    def told(what: str) -> Any:
        def progress(done: int, total: int) -> None:
            if stop.is_set():
                raise Cancelled(f"{path}: cancelled")
            relay.progressed.emit(job, what, done, total)
        return progress

    try:
        index = read_capture(path, progress=told(READING))
        rows = stream_table(index)
        told(STREAMS)(len(rows), len(rows))
        if stop.is_set():
            raise Cancelled(f"{path}: cancelled")
        result = LoadedCapture(path=path, index=index, rows=rows,
                               warnings=tuple(str(w) for w in index.warnings))
        relay.finished.emit(job, "loaded", result)
    except Cancelled:
        relay.finished.emit(job, "cancelled", None)
    except SynAckError as exc:
        relay.finished.emit(job, "failed", str(exc))
    except Exception as exc:  # the app must keep running whatever the file holds
        _log.exception("loading %s failed", path)
        relay.finished.emit(job, "failed", f"{path}: could not be loaded "
                                           f"({type(exc).__name__}: {exc})")


class CaptureLoader(QObject):
    """Loads captures in a worker thread (module rules).

    Signals:
        progressed(str what, int done, int total): ``READING`` (bytes) or ``STREAMS``
            (streams); a few hundred times per load at most.
        loaded(object): the ``LoadedCapture``.
        failed(str): core's message (file, offset, problem).
        cancelled(): the load stopped on ``cancel`` (a load replaced by a newer
            ``start`` ends silently).
    """

    progressed = Signal(str, object, object)   # Python ints: files pass 2 GiB
    loaded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)     # a cancelled job may still be finishing
        self._jobs = count(1)
        self._job = 0
        self._path = ""
        self._stop = threading.Event()
        self._relays: dict[int, _Relay] = {}
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_quitting)

    @property
    def busy(self) -> bool:
        """A load was started and has not ended yet."""
        return self._job in self._relays

    @property
    def path(self) -> str:
        """The file of the current (or last) load."""
        return self._path

    def start(self, path: str | os.PathLike[str]) -> None:
        """Load ``path``; a load still running is cancelled first (rule 2)."""
        if self.busy:
            self.cancel()
        self._job = job = next(self._jobs)
        self._path = name = os.fspath(path)
        self._stop = stop = threading.Event()
        relay = _Relay()
        relay.progressed.connect(self._on_job_progressed)
        relay.finished.connect(self._on_job_finished)
        self._relays[job] = relay
        self._pool.start(lambda: _load(job, name, relay, stop))

    def cancel(self) -> None:
        """Ask the running load to stop; ``cancelled`` follows (rule 3)."""
        self._stop.set()

    def wait(self, msecs: int = -1) -> bool:
        """Block until no worker runs (for shutdown); False on timeout."""
        return bool(self._pool.waitForDone(msecs))

    @Slot(int, str, object, object)
    def _on_job_progressed(self, job: int, what: str, done: int, total: int) -> None:
        if job == self._job and not self._stop.is_set():
            self.progressed.emit(what, done, total)

    @Slot(int, str, object)
    def _on_job_finished(self, job: int, kind: str, payload: object) -> None:
        self._relays.pop(job, None)
        if job != self._job:
            return
        if kind == "loaded" and self._stop.is_set():
            kind = "cancelled"
        if kind == "loaded":
            self.loaded.emit(payload)
        elif kind == "failed":
            self.failed.emit(str(payload))
        else:
            self.cancelled.emit()

    @Slot()
    def _on_quitting(self) -> None:
        self.cancel()
        self.wait(5000)


def _amount(what: str, value: int) -> str:
    if what == READING:
        return f"{value / 1e6:,.1f} MB" if value >= 100_000 else counted(value, "byte", sep=",")
    return f"{value:,}"


class LoadProgressDialog(QDialog):
    """Window-modal progress of a ``CaptureLoader``: file, stage, one bar, Cancel.

    It opens ``show_after_ms`` after a load starts (short loads never flash it) and
    closes when the load ends; Cancel, Escape and the close button all ask the loader to
    cancel. A failed load opens ``error_box`` (non-blocking) with core's message. The
    bar never calls ``processEvents`` (the load runs in a worker, the GUI stays live).

    Signals: none of its own.
    """

    STEPS = 1000
    #: Share of the bar for reading the file; listing the streams (index only, fast)
    #: fills the rest.
    READ_SHARE = 0.95

    def __init__(self, loader: CaptureLoader, parent: QWidget | None = None, *,
                 show_after_ms: int = 400) -> None:
        super().__init__(parent)
        self._loader = loader
        self._active = False
        self.error_box: QMessageBox | None = None
        self.setWindowTitle("Opening capture")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(420)
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
        loader.progressed.connect(self._on_progressed)
        loader.loaded.connect(self._on_ended)
        loader.cancelled.connect(self._on_ended)
        loader.failed.connect(self._on_failed)

    def reject(self) -> None:
        """Cancel the load; the dialog closes when the loader says it stopped."""
        if self._active:
            self.label.setText(f"{os.path.basename(self._loader.path)}\nCancelling…")
            self.buttons.setEnabled(False)
            self._loader.cancel()

    def _on_progressed(self, what: str, done: int, total: int) -> None:
        if not self._active:
            self._active = True
            self.buttons.setEnabled(True)
            self._show_timer.start()
        name = os.path.basename(self._loader.path)
        if what == STREAMS and done == 0:   # core analyses them all before the first replay
            self.label.setText(f"{name}\nAnalysing {counted(total, 'stream', sep=',')}…")
        else:
            self.label.setText(f"{name}\n{what}: {_amount(what, done)} of "
                               f"{_amount(what, total)}")
        share = done / total if total > 0 else 1.0
        start, width = (0.0, self.READ_SHARE) if what == READING \
            else (self.READ_SHARE, 1.0 - self.READ_SHARE)
        self.bar.setValue(round((start + width * share) * self.STEPS))

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
        box = QMessageBox(QMessageBox.Icon.Critical, "Cannot open the capture", message,
                          QMessageBox.StandardButton.Ok, self.parentWidget())
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.error_box = box


def run_with_progress(parent: QWidget, path: str | os.PathLike[str]) -> CaptureLoader:
    """Load ``path`` once, with a ``LoadProgressDialog`` over ``parent``.

    Connect to the returned loader's ``loaded`` before going back to the event loop
    (rule 2). The loader and its dialog belong to ``parent`` and are deleted once the
    load has ended (an error box stays until closed).
    """
    loader = CaptureLoader(parent)
    dialog = LoadProgressDialog(loader, parent)
    for ended in (loader.loaded, loader.failed, loader.cancelled):
        ended.connect(dialog.deleteLater)
        ended.connect(loader.deleteLater)
    loader.start(path)
    return loader
