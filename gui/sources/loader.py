"""Opening a capture without freezing the window: read, index and summarize in a worker.

    loader = CaptureLoader(parent)
    LoadProgressDialog(loader, parent)          # optional: modal progress with Cancel
    loader.loaded.connect(on_loaded)            # a LoadedCapture
    loader.start(path)

Rules:
1. The worker runs ``core.capture.read_capture`` (its stages: reading, walking,
   decoding, indexing) then ``core.streams.stream_table.stream_table`` (``STREAMS``: the
   index-only list, well under a second; the streams' final states and labels are
   filled in later by the streams panel), as a job
   of :class:`gui.sources.jobs.JobRunner`: exactly one of ``loaded``, ``failed`` or
   ``cancelled`` per ``start``, a new ``start`` replaces the running load, ``cancel``
   stops core at its next progress call (the rules of :mod:`gui.sources.jobs`).
2. ``failed`` carries the text of core's ``SynAckError`` (file, offset, what was wrong).
3. A ``LoadedCapture`` replays a stream once: its replays are kept (``ReplayCache``,
   at most ``CACHE_SEGMENTS`` segments besides the latest), so choosing a stream again
   costs nothing; ``gui.sources.replayer`` runs the replay in a worker.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from core.capture import read_capture
from core.capture.index import CaptureIndex
from core.progress import READING, WINDOWS, Stages, silent
from core.replay import Replay, replay_stream
from core.streams.stream_table import StreamTable, stream_table
from gui.sources.jobs import JobProgressDialog, JobRunner

__all__ = ["READING", "STREAMS", "CaptureLoader", "LoadProgressDialog", "LoadedCapture",
           "ReplayCache", "run_with_progress"]

#: ``what`` of ``progressed`` once the streams are listed (total/total streams).
STREAMS = "Listing the streams"
#: Segments of the replays a ``LoadedCapture`` keeps besides the latest (~1.1 KB each).
CACHE_SEGMENTS = 400_000


class ReplayCache:
    """Replays by stream, least recently used first out once they pass ``limit``
    segments in all (the latest is always kept); safe to use from any thread."""

    def __init__(self, limit: int = CACHE_SEGMENTS) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._replays: OrderedDict[int, Replay] = OrderedDict()

    def get(self, stream: int) -> Replay | None:
        with self._lock:
            replay = self._replays.get(stream)
            if replay is not None:
                self._replays.move_to_end(stream)
            return replay

    def put(self, replay: Replay) -> None:
        with self._lock:
            self._replays[replay.stream] = replay
            self._replays.move_to_end(replay.stream)
            kept = sum(len(r.timeline) for r in self._replays.values())
            while len(self._replays) > 1 and kept - len(replay.timeline) > self.limit:
                _, dropped = self._replays.popitem(last=False)
                kept -= len(dropped.timeline)

    def __contains__(self, stream: object) -> bool:
        with self._lock:
            return stream in self._replays


@dataclass(frozen=True, slots=True)
class LoadedCapture:
    """What a finished load hands over: the index, one summary row per stream, warnings.

    ``rows`` is the index-only stream list (``core.streams.stream_table``: numpy columns, one
    row per stream, no final states yet);
    ``warnings`` are the index's warnings as text (a cut file, skipped frames);
    ``replays`` keeps the streams replayed so far (rule 3).
    """

    path: str
    index: CaptureIndex
    rows: StreamTable
    warnings: tuple[str, ...]
    replays: ReplayCache = field(default_factory=ReplayCache, compare=False, repr=False)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def replay(self, stream: int, *, stages: Stages = silent) -> Replay:
        """The chosen stream replayed (``Replay.timeline``), with its window bars'
        series made (not on the first frame drawn); once per stream (rule 3). Raises
        ``SynAckError`` for a missing stream, ``Cancelled`` when ``stages`` does (then
        nothing is kept). Long on a long stream: the GUI runs it in ``gui.sources.replayer``."""
        replay = self.replays.get(stream)
        if replay is None:
            replay = replay_stream(self.index, stream, stages=stages)
            self.replays.put(replay)          # a cancel below keeps the walk done
        windows = replay.timeline.windows
        if windows is not None and not windows.ready:
            windows.prepare(stages(WINDOWS))
        return replay


def _load(path: str, told: Stages) -> LoadedCapture:
    """The job (rule 1)."""
    index = read_capture(path, stages=told)
    rows = stream_table(index)
    told(STREAMS)(len(rows), len(rows))
    return LoadedCapture(path=path, index=index, rows=rows,
                         warnings=tuple(str(w) for w in index.warnings))


class CaptureLoader(JobRunner):
    """Loads captures in a worker thread (module rules).

    Signals:
        progressed(str what, int done, int total): a stage of ``read_capture``
            (``core.progress``: ``READING`` ... ``INDEXING``) or ``STREAMS`` (streams).
        loaded(object): the ``LoadedCapture``.
        failed(str): core's message (file, offset, problem).
        cancelled(): the load stopped on ``cancel`` (a load replaced by a newer
            ``start`` ends silently).
        ended(): after each of the three above.
    """

    loaded = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._path = ""

    @property
    def path(self) -> str:
        """The file of the current (or last) load."""
        return self._path

    def start(self, path: str | os.PathLike[str]) -> None:
        """Load ``path``; a load still running is cancelled first (rule 1)."""
        self._path = name = os.fspath(path)
        self._start(lambda told: _load(name, told), name, label=os.path.basename(name),
                    failure="could not be loaded")

    def _emit_done(self, result: Any) -> None:
        self.loaded.emit(result)


class LoadProgressDialog(JobProgressDialog):
    """Window-modal progress of a ``CaptureLoader`` (see ``JobProgressDialog``)."""

    def __init__(self, loader: CaptureLoader, parent: QWidget | None = None, *,
                 show_after_ms: int = 400) -> None:
        super().__init__(loader, parent, title="Opening capture",
                         error_title="Cannot open the capture", show_after_ms=show_after_ms)


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
