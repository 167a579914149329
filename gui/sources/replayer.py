"""Replaying the chosen stream of a capture without freezing the window.

    replayer = StreamReplayer(parent)
    ReplayProgressDialog(replayer, parent)      # optional: modal progress with Cancel
    replayer.replayed.connect(on_replayed)      # a ChosenStream
    replayer.start(capture, stream)

Rules:
1. The job is ``LoadedCapture.replay``: the stream's analysis, each walk of the replay,
   the other readings and the window bars' series, each a stage of ``core.progress``
   with its real done/total; a job of :class:`gui.sources.jobs.JobRunner` (exactly one of
   ``replayed``, ``failed``, ``cancelled`` per ``start``; a new ``start`` replaces the
   running replay; ``cancel`` stops core at its next progress call).
2. A stream is replayed once per capture: a stream replayed before comes from the
   capture's ``ReplayCache`` and its job ends at once (still in the worker: nothing is
   emitted from inside ``start``).
3. ``replayed`` carries a ``ChosenStream``: the capture it belongs to, so the window
   can drop a result for a capture it no longer shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from core.replay import Replay
from gui.sources.jobs import JobProgressDialog, JobRunner
from gui.sources.loader import LoadedCapture


@dataclass(frozen=True, slots=True)
class ChosenStream:
    """A replayed stream and the capture it belongs to."""

    capture: LoadedCapture
    stream: int
    replay: Replay


class StreamReplayer(JobRunner):
    """Replays streams in a worker thread (module rules).

    Signals:
        progressed(str stage, int done, int total): a stage of ``core.progress``.
        replayed(object): the ``ChosenStream``.
        failed(str): core's message.
        cancelled(): the replay stopped on ``cancel`` (one replaced by a newer
            ``start`` ends silently).
        ended(): after each of the three above.
    """

    replayed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stream: int | None = None

    @property
    def stream(self) -> int | None:
        """The stream of the current (or last) replay."""
        return self._stream

    def start(self, capture: LoadedCapture, stream: int) -> None:
        """Replay ``stream`` of ``capture``; a replay still running is cancelled first."""
        self._stream = stream
        self._start(lambda told: ChosenStream(capture=capture, stream=stream,
                                              replay=capture.replay(stream, stages=told)),
                    f"{capture.path}: stream {stream}",
                    label=f"{capture.name} \u00b7 stream {stream}",
                    failure="could not be replayed")

    def _emit_done(self, result: Any) -> None:
        self.replayed.emit(result)


class ReplayProgressDialog(JobProgressDialog):
    """Window-modal progress of a ``StreamReplayer`` (see ``JobProgressDialog``)."""

    def __init__(self, replayer: StreamReplayer, parent: QWidget | None = None, *,
                 show_after_ms: int = 400) -> None:
        super().__init__(replayer, parent, title="Replaying a stream",
                         error_title="Cannot replay the stream", show_after_ms=show_after_ms)
