"""Cancel latency per stage: how soon a load or a replay stops after Cancel, in the app.

Usage::

    .venv/bin/python bench/cancel.py [--packets 1000000] [--segments 100000]
                                     [--trials 4] [--streams] [--dir DIR]

For every stage of opening the 1,000,000-packet capture of ``bench/ingest.py`` (pcap and
pcapng) and of replaying the 100,000-segment stream of ``bench/replay.py``:

1. core alone (``read_capture`` / ``LoadedCapture.replay`` with a spying ``stages``):
   the stage's duration and the longest gap between two of core's progress calls in it,
   which bounds how late core can notice a cancel;
2. the app's own workers (``CaptureLoader`` / ``StreamReplayer``, offscreen Qt): the job
   is started ``--trials`` times, ``cancel()`` is called at a random progress signal of
   the stage (as the dialog's Cancel does), and the time from ``cancel()`` to the
   ``cancelled`` signal is taken. The worst per stage is printed against the 200 ms
   target (the tests check a generous bound only; this is where the figure comes from).

The stream-list stage of a load (``stream_rows``) is measured with ``--streams`` only (it
replays every stream of the file: minutes on this capture). Last, the longest stall of
the GUI thread's event loop (a 10 ms timer) while the stream is replayed in the worker,
beside how long the GUI thread froze when it replayed the stream itself (before).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import cached_files  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from replay import cached_stream  # noqa: E402

from core.capture import read_capture  # noqa: E402
from core.progress import Progress  # noqa: E402
from gui.sources.jobs import EMIT_MS, JobRunner  # noqa: E402
from gui.sources.loader import STREAMS, CaptureLoader, LoadedCapture  # noqa: E402
from gui.sources.replayer import StreamReplayer  # noqa: E402

TARGET_MS = 200.0


class Spy:
    """A ``Stages`` that times each stage and the longest gap between core's calls."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.gap: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._at = time.perf_counter()

    def __call__(self, stage: str) -> Progress:
        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            self.first.setdefault(stage, now)
            self.last[stage] = now
            self.gap[stage] = max(self.gap.get(stage, 0.0), now - self._at)
            self.calls[stage] = self.calls.get(stage, 0) + 1
            self._at = now
        return progress

    def duration(self, stage: str) -> float:
        return self.last[stage] - self.first[stage]


def _wait(signals: list[Any], timeout_s: float) -> None:
    loop = QEventLoop()
    for signal in signals:
        signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    for signal in signals:
        signal.disconnect(loop.quit)


def cancel_latency(runner: JobRunner, done_signal: Any, start: Callable[[], None],
                   stage: str, at: int) -> float | None:
    """Start, ``cancel()`` at the ``at``-th progress signal of ``stage``; seconds from
    ``cancel()`` to ``cancelled``, or None when the stage ended first."""
    count, asked, ended, missed = [0], [0.0], [0.0], [False]

    def on_progress(what: str, done: int, total: int) -> None:
        if asked[0] or missed[0]:
            return
        if what == stage:
            count[0] += 1
            if count[0] >= at:
                asked[0] = time.perf_counter()
                runner.cancel()
        elif count[0]:                  # the stage is over: stop the job, try again
            missed[0] = True
            runner.cancel()

    def on_cancelled() -> None:
        ended[0] = time.perf_counter()
    runner.progressed.connect(on_progress)
    runner.cancelled.connect(on_cancelled)
    start()
    _wait([runner.ended], 600)
    runner.progressed.disconnect(on_progress)
    runner.cancelled.disconnect(on_cancelled)
    runner.wait()
    QApplication.processEvents()
    return ended[0] - asked[0] if asked[0] and ended[0] and not missed[0] else None


def measure(name: str, runner: JobRunner, done_signal: Any, start: Callable[[], None],
            spy: Spy, stages: list[str], trials: int, rnd: random.Random) -> list[float]:
    print(f"\n{name}")
    print(f"  {'stage':<12} {'lasts':>9} {'core gap':>9}   {'cancel -> cancelled (worst of '}"
          f"{trials})")
    worst_all = []
    for stage in stages:
        if stage not in spy.first:
            continue
        signals = max(1, min(spy.calls[stage], int(spy.duration(stage) / (EMIT_MS / 1000))))
        seen = []
        for _ in range(trials * 3):
            latency = cancel_latency(runner, done_signal, start, stage,
                                     rnd.randint(1, signals) if seen else 1)
            if latency is not None:
                seen.append(latency)
            if len(seen) >= trials:
                break
        worst = max(seen) * 1e3 if seen else float("nan")
        worst_all.append(worst)
        print(f"  {stage:<12} {spy.duration(stage) * 1e3:7.0f} ms {spy.gap[stage] * 1e3:6.0f} ms"
              f"   {worst:7.1f} ms  ({len(seen)} trials; "
              f"{'ok' if worst <= TARGET_MS else 'MISSED'} against {TARGET_MS:.0f} ms)")
    return worst_all


def gui_stall(capture_path: Path) -> tuple[float, float]:
    """(longest event-loop stall while the worker replays, the replay's time in the GUI
    thread before): seconds."""
    before = LoadedCapture(path=str(capture_path), index=read_capture(capture_path), rows=[],
                           warnings=())
    start = time.perf_counter()
    before.replay(0)
    frozen = time.perf_counter() - start
    capture = LoadedCapture(path=str(capture_path), index=before.index, rows=[], warnings=())
    replayer = StreamReplayer()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    ticks.append(time.perf_counter())
    replayer.start(capture, 0)
    _wait([replayer.ended], 600)
    ticks.append(time.perf_counter())
    timer.stop()
    replayer.wait()
    stall = max(b - a for a, b in zip(ticks, ticks[1:], strict=False))
    return stall, frozen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--streams", action="store_true",
                        help="also the stream-list stage of a load (slow)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "synack-bench")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    rnd = random.Random(11)
    worst: list[float] = []
    load_stages = ["reading", "walking", "decoding", "indexing"] + (
        [STREAMS] if args.streams else [])
    files = cached_files(args.packets, 100_000, args.dir)
    for suffix in (".pcap", ".pcapng"):
        path = files[suffix]
        spy = Spy()
        read_capture(path, stages=spy)
        loader = CaptureLoader()
        worst += measure(f"open {path.name} ({path.stat().st_size / 1e6:,.0f} MB, "
                         f"{args.packets:,} packets)", loader, loader.loaded,
                         lambda p=path, lo=loader: lo.start(p), spy, load_stages,
                         args.trials, rnd)
    stream = cached_stream(args.dir, args.segments)
    index = read_capture(stream)
    spy = Spy()
    LoadedCapture(path=str(stream), index=index, rows=[], warnings=()).replay(0, stages=spy)
    replayer = StreamReplayer()

    def replay() -> None:
        replayer.start(LoadedCapture(path=str(stream), index=index, rows=[], warnings=()), 0)
    stages = sorted(spy.first, key=spy.first.__getitem__)
    worst += measure(f"replay stream 0 of {stream.name} ({args.segments:,} segments)",
                     replayer, replayer.replayed, replay, spy, stages, args.trials, rnd)
    print(f"\nworst cancel latency of every stage: {max(worst):.1f} ms "
          f"(target {TARGET_MS:.0f} ms: {'ok' if max(worst) <= TARGET_MS else 'MISSED'})")
    stall, frozen = gui_stall(stream)
    print(f"GUI thread while the stream is replayed in the worker: longest stall "
          f"{stall * 1e3:.0f} ms (a 10 ms timer); replayed in the GUI thread as before: "
          f"frozen {frozen * 1e3:.0f} ms")
    del app


if __name__ == "__main__":
    main()
