"""``StreamReplayer`` and cancelling every stage of a load and of a replay.

A stream is replayed in the worker, once per capture; Cancel in any stage ends the job
in ``cancelled``, stops core inside that stage (no later stage is started) and does so
within ``CANCEL_BOUND_S``. That bound is generous on purpose (a loaded CI machine); the
figure that matters, the worst latency per stage on a large capture against a 200 ms
target, is measured by ``bench/cancel.py``, not here.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from core.capture import read_capture
from core.progress import (
    ANALYSING,
    DECODING,
    INDEXING,
    READING,
    REPLAYING,
    WALKING,
    WINDOWS,
    Progress,
    Stages,
)
from gui.sources import jobs
from gui.sources import loader as loader_module
from gui.sources.jobs import JobRunner
from gui.sources.loader import STREAMS, CaptureLoader, LoadedCapture
from gui.sources.replayer import ChosenStream, ReplayProgressDialog, StreamReplayer
from tests.capture import builders as b

TIMEOUT = 60_000
#: Cancel to ``cancelled``, with a wide margin (see the module docstring).
CANCEL_BOUND_S = 2.0
LOAD_STAGES = (READING, WALKING, DECODING, INDEXING, STREAMS)
REPLAY_STAGES = (ANALYSING, REPLAYING, WINDOWS)


@pytest.fixture(scope="module")
def bulk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20,000-packet connection (a few tenths of a second to replay)."""
    return b.bulk_pcap(tmp_path_factory.mktemp("bulk") / "bulk.pcap", 20_000)


@pytest.fixture
def owner(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.add_widget(widget)
    return widget


def _capture(path: Path) -> LoadedCapture:
    return LoadedCapture(path=str(path), index=read_capture(path), rows=[], warnings=())


class Started:
    """Every stage core began telling in the worker (``gui.sources.jobs._told`` wrapped), in
    order: a stage's first progress call, whether or not it raised ``Cancelled``. The
    worker waits at the first call of ``hold`` until ``release`` is set: a stage shorter
    than a signal's trip to the GUI thread (reading a file in the page cache) would
    otherwise be over before Cancel could be pressed in it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hold: str) -> None:
        self.stages: list[str] = []
        self.release = threading.Event()
        real = jobs._told

        def told(*args: Any) -> Stages:
            inner = real(*args)

            def stages(stage: str) -> Progress:
                progress = inner(stage)

                def spy(done: int, total: int) -> None:
                    first = stage not in self.stages
                    if first:
                        self.stages.append(stage)
                    progress(done, total)
                    if first and stage == hold:
                        assert self.release.wait(TIMEOUT / 1000)
                return spy
            return stages
        monkeypatch.setattr(jobs, "_told", told)


def _finish(runner: JobRunner) -> None:
    runner.cancel()
    assert runner.wait(TIMEOUT)
    QApplication.processEvents()


def test_a_stream_is_replayed_once(qtbot: QtBot, owner: QWidget, bulk: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    capture = _capture(bulk)
    replayer = StreamReplayer(owner)
    seen: list[str] = []
    replayer.progressed.connect(lambda stage, *_: seen.append(stage))
    with qtbot.wait_signal(replayer.replayed, timeout=TIMEOUT) as blocker:
        replayer.start(capture, 0)
    chosen = blocker.args[0]
    assert isinstance(chosen, ChosenStream)
    assert chosen.capture is capture and chosen.stream == 0 and replayer.stream == 0
    assert len(chosen.replay.timeline) == 20_000
    assert list(dict.fromkeys(seen)) == list(REPLAY_STAGES)
    windows = chosen.replay.timeline.windows
    assert windows is not None and windows.ready          # made in the worker
    calls: list[int] = []
    monkeypatch.setattr(loader_module, "replay_stream",
                        lambda *a, **kw: calls.append(1))  # would fail the test if called
    seen.clear()
    with qtbot.wait_signal(replayer.replayed, timeout=TIMEOUT) as again:
        replayer.start(capture, 0)
    assert again.args[0].replay is chosen.replay and calls == [] and seen == []
    _finish(replayer)


def test_the_cache_keeps_recent_replays_within_its_segments() -> None:
    from types import SimpleNamespace

    from gui.sources.loader import ReplayCache

    def replay(stream: int, segments: int) -> Any:
        return SimpleNamespace(stream=stream, timeline=range(segments))
    cache = ReplayCache(limit=80)
    a, b, c = replay(0, 60), replay(1, 30), replay(2, 50)
    cache.put(a)
    cache.put(b)
    assert cache.get(0) is a                     # 0 is now the more recent
    cache.put(c)                                 # 60 + 30 besides the latest: 1 goes
    assert 1 not in cache and cache.get(0) is a and cache.get(2) is c
    huge = replay(3, 1000)
    cache.put(huge)                              # the latest stays whatever its size
    assert cache.get(3) is huge and 0 not in cache and 2 in cache
    cache.put(replay(4, 1))
    assert 2 not in cache and 3 not in cache and 4 in cache


def test_a_new_start_replaces_the_running_replay(qtbot: QtBot, owner: QWidget,
                                                  bulk: Path) -> None:
    capture = _capture(bulk)
    replayer = StreamReplayer(owner)
    ends: list[str] = []
    replayer.replayed.connect(lambda _: ends.append("replayed"))
    replayer.cancelled.connect(lambda: ends.append("cancelled"))
    with qtbot.wait_signal(replayer.replayed, timeout=TIMEOUT):
        replayer.start(capture, 0)
        replayer.start(capture, 0)
    assert replayer.wait(TIMEOUT)
    QApplication.processEvents()
    assert ends == ["replayed"]


def test_a_missing_stream_fails_with_core_message(qtbot: QtBot, owner: QWidget,
                                                  bulk: Path) -> None:
    replayer = StreamReplayer(owner)
    dialog = ReplayProgressDialog(replayer, owner, show_after_ms=0)
    with qtbot.wait_signal(replayer.failed, timeout=TIMEOUT) as blocker:
        replayer.start(_capture(bulk), 7)
    assert "no TCP stream 7" in blocker.args[0]
    assert dialog.error_box is not None and dialog.error_box.text() == blocker.args[0]
    dialog.error_box.close()


def _cancel_in(qtbot: QtBot, runner: JobRunner, stage: str, start: Any,
               started: Started) -> float:
    """Start, cancel on ``stage``'s first progress, return the seconds to ``cancelled``."""
    asked: list[float] = []

    def on_progress(what: str, done: int, total: int) -> None:
        if what == stage and not asked:
            asked.append(time.perf_counter())
            runner.cancel()
            started.release.set()
    runner.progressed.connect(on_progress)
    ends: list[str] = []
    runner.failed.connect(lambda m: ends.append(f"failed: {m}"))
    with qtbot.wait_signal(runner.cancelled, timeout=TIMEOUT):
        start()
    elapsed = time.perf_counter() - asked[0]
    assert runner.wait(TIMEOUT)
    QApplication.processEvents()
    assert ends == []
    assert started.stages[-1] == stage, f"core went on to {started.stages[-1]} after cancel"
    return elapsed


@pytest.mark.parametrize("stage", LOAD_STAGES)
def test_cancel_in_each_stage_of_a_load(qtbot: QtBot, owner: QWidget, bulk: Path,
                                        stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    started = Started(monkeypatch, stage)
    loader = CaptureLoader(owner)
    elapsed = _cancel_in(qtbot, loader, stage, lambda: loader.start(bulk), started)
    assert elapsed < CANCEL_BOUND_S


@pytest.mark.parametrize("stage", REPLAY_STAGES)
def test_cancel_in_each_stage_of_a_replay(qtbot: QtBot, owner: QWidget, bulk: Path,
                                          stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    started = Started(monkeypatch, stage)
    capture = _capture(bulk)
    replayer = StreamReplayer(owner)
    elapsed = _cancel_in(qtbot, replayer, stage, lambda: replayer.start(capture, 0), started)
    assert elapsed < CANCEL_BOUND_S
    kept = capture.replays.get(0)
    if stage == WINDOWS:          # the walk done is kept, the window series is not
        assert kept is not None and kept.timeline.windows is not None
        assert not kept.timeline.windows.ready
    else:
        assert kept is None


# ----- the window ----------------------------------------------------------------------------
def test_the_window_replays_in_the_background_and_keeps_its_stream_on_cancel(
        qtbot: QtBot, tmp_path: Path, corpus: Path) -> None:
    from PySide6.QtCore import QSettings

    from gui.app.main_window import MainWindow
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    qtbot.add_widget(window)
    with qtbot.wait_signal(window.timeline_shown, timeout=TIMEOUT):
        window.open_capture(str(corpus / "public" / "ldp-common-session.pcap"))
    shown, capture = window.timeline, window.capture
    assert window.stream == 0 and capture is not None and 0 in capture.replays
    window.replayer.progressed.connect(window.replayer.cancel)     # Cancel at once
    with qtbot.assert_not_emitted(window.timeline_shown), \
            qtbot.wait_signal(window.replayer.cancelled, timeout=TIMEOUT):
        window.streams.stream_chosen.emit(1)
    assert window.timeline is shown and window.stream == 0
    assert window.streams.selected_stream() == 0
    assert "cancelled" in window.statusBar().currentMessage()
    window.replayer.progressed.disconnect(window.replayer.cancel)
    with qtbot.wait_signal(window.timeline_shown, timeout=TIMEOUT):
        window.streams.stream_chosen.emit(1)
    assert window.stream == 1 and 1 in capture.replays
    with qtbot.wait_signal(window.timeline_shown, timeout=TIMEOUT):   # from the cache
        window.streams.stream_chosen.emit(0)
    assert window.replay_source is not None
    assert window.replay_source.replay is capture.replays.get(0)
    window.close()
