"""Render benchmark: frames of the diagram of a 100,000-segment stream, and PNG export.

Usage::

    .venv/bin/python bench/render.py [--segments 100000] [--export 1000] [--frames 40]
        [--parts frames,export,zlib,commands] [--before DIR] [--lengths 1000,20000,100000]

1. Replays the long stream of bench/replay.py (generated once, cached) and lays it out.
2. Frame time at 1920x1080: the window's diagram view (one painter, visible rows only)
   paints frames at places spread over the whole stream, with the playback cursor and a
   segment in flight, in both row modes (target: at most 16 ms a frame). Side by side,
   the alternative the design notes name: a QGraphicsScene holding one line item and
   one text item per arrow for 30,000 arrows, viewed through a 1920x1080 QGraphicsView.
3. Export: a simulated bulk transfer of about ``--export`` segments written to PNG
   (layout + painting + PNG encoding; target: at most 2 s), then Qt's default PNG
   compression for comparison.
4. PNG levels: one 2000x20000 page of a dense capture written by Qt's writer at its
   default and at zlib levels 0..6 (Qt's ``quality``), and by gui/export/png.py at levels 1..6
   on one thread and two: time (best of 3) and bytes.
5. Whole commands: ``synack export`` of long streams (bench/replay.py's generator,
   ``--lengths`` segments) and of the 2,242-segment corpus capture, each run as a
   process and timed whole (start-up, reading, replay, painting, PNG), with its peak
   RSS (GNU time, /usr/bin/time); with ``--before DIR`` (a checkout of an older commit, e.g.
   ``git worktree add /tmp/export-base 6943409``) the same commands on that code side
   by side (``--before-max`` segments at most: the code before held every page, 4.7 GB
   at 20,000 segments). Targets: 1,000 segments <= 2 s, 2,242 <= 4 s, memory flat.
Prints median and worst times; best of a few runs where noted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QImage, QPainter, QPen  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QGraphicsScene,
    QGraphicsView,
)
from replay import cached_stream  # noqa: E402

from core.capture import read_capture  # noqa: E402
from core.replay import replay_stream  # noqa: E402
from core.simulate.engine import Simulation  # noqa: E402
from core.simulate.link import LinkConfig  # noqa: E402
from core.simulate.params import build_configs  # noqa: E402
from core.simulate.program import PEER_CLOSED, close, connect, listen, send  # noqa: E402
from core.trace import Timeline  # noqa: E402
from gui.diagram.diagram_layout import DiagramLayout  # noqa: E402
from gui.diagram.labels import record_label  # noqa: E402
from gui.diagram.sequence_view import SequenceView  # noqa: E402
from gui.export.export import export_png, render_pages  # noqa: E402
from gui.export.png import write_png  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
ROOT = Path(__file__).resolve().parents[1]
TIME = "/usr/bin/time"          # GNU time (Debian package "time")
CORPUS = ROOT.parent / "shared" / "corpus" / "kernel" / "loss5_delay20_bulk_server.pcap"


def frame_times(view: SequenceView, frames: int) -> list[float]:
    """Paint ``frames`` frames of the view's viewport at places spread over the stream."""
    image = QImage(WIDTH, HEIGHT, QImage.Format.Format_RGB32)
    layout = view.diagram_layout()
    bar = view.verticalScrollBar()
    cols = layout.cols
    times = []
    for k in range(frames):
        i = int((len(cols) - 1) * k / max(frames - 1, 1))
        # the cursor halfway through segment i's flight: one segment in flight at least
        sent = float(cols.sent[i])
        arrived = float(cols.arrived[i]) if cols.arrived[i] == cols.arrived[i] else sent
        view.set_time((sent + arrived) / 2)
        bar.setValue(round(layout.arrow(i).y0 - HEIGHT / 3))
        start = time.perf_counter()
        view.viewport().render(image)
        times.append(time.perf_counter() - start)
    return times


def scene_times(layout: DiagramLayout, count: int, frames: int) -> tuple[float, list[float]]:
    """The alternative: one QGraphicsLineItem + QGraphicsSimpleTextItem per arrow."""
    scene = QGraphicsScene()
    start = time.perf_counter()
    pen = QPen()
    pen.setWidthF(1.6)
    for i in range(count):
        a = layout.arrow(i)
        scene.addLine(a.x0, a.y0, a.x1, a.y1, pen)
        text = scene.addSimpleText(record_label(layout.record(i), layout.iss))
        text.setPos(a.x0 + 10, a.y0 - 18)
    build = time.perf_counter() - start
    view = QGraphicsView(scene)
    view.resize(WIDTH, HEIGHT)
    view.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    image = QImage(WIDTH, HEIGHT, QImage.Format.Format_RGB32)
    top = layout.arrow(0).y0
    bottom = layout.arrow(count - 1).y0
    times = []
    for k in range(frames):
        y = top + (bottom - top) * k / max(frames - 1, 1)
        view.centerOn(layout.width / 2, y)
        painter = QPainter(image)
        t0 = time.perf_counter()
        view.render(painter, QRectF(0, 0, WIDTH, HEIGHT), view.viewport().rect())
        times.append(time.perf_counter() - t0)
        painter.end()
    return build, times


def bulk_timeline(segments: int) -> Timeline:
    """A simulated bulk transfer of about ``segments`` segments (data and ACKs)."""
    size = int(segments * 1448 * 0.62)
    client, server, _ = build_configs({"mss": 1448})
    sim = Simulation(client=client, server=server, link=LinkConfig(delay=0.010, seed=1),
                     client_program=(connect(), send(bytes(size)), close()),
                     server_program=(listen(), close(when=PEER_CLOSED, after=0.001)),
                     title="bulk transfer")
    return sim.simulate()


def summary(times: list[float]) -> str:
    ms = [t * 1e3 for t in times]
    return f"median {statistics.median(ms):6.2f} ms, worst {max(ms):6.2f} ms"


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def png_levels(folder: Path) -> None:
    """Part 4: zlib levels of Qt's PNG writer and of gui/export/png.py on one 2000x20000
    page, then gui/export/png.py on a denser page (the capture at 100 %, as ``synack
    export`` draws it)."""
    tl = replay_stream(read_capture(str(CORPUS)), 0).timeline
    layout = DiagramLayout(tl, show_title=True)
    out = str(folder / "level.png")

    def row(writer: str, level: str, seconds: float) -> None:
        print(f"  {writer:34s} {level:>5s} {seconds:6.2f}s {os.path.getsize(out):12,d}")

    for scale, height, qt in ((2000 / layout.width, 20_000, True), (1.0, 30_000, False)):
        page = render_pages(tl, scale=scale, max_height=height)[1 if scale == 1 else 0]
        print(f"PNG of one {page.width()}x{page.height()} page of {CORPUS.name} (best of 3)")
        print(f"  {'writer':34s} {'level':>5s} {'time':>7s} {'bytes':>12s}")
        # Qt maps quality q to zlib level (100 - q) * 9 / 91; -1 is libpng's default (6)
        for quality, level in ((-1, "dflt"), (100, "0"), (89, "1"), (79, "2"), (69, "3"),
                               (39, "6")) if qt else ():
            row("Qt QImage.save (adaptive filters)", level,
                best_of(lambda q=quality, i=page: i.save(out, "PNG", q)))  # type: ignore[misc]
        for threads in (1, 2):
            for level in (1, 2, 3, 6):
                row(f"gui/export/png.py, filter none, {threads} thread{'s' * (threads > 1)}",
                    str(level),
                    best_of(lambda lv=level, th=threads, i=page: write_png(i, out, lv, th)))


def run_command(code: Path, source: Path, out: Path) -> tuple[float, float, int, int]:
    """``synack export SOURCE -o OUT`` on the code in ``code``: (wall s, CPU s, peak RSS
    kB, pages). Timed by GNU time: a child forked from this (large) process would count
    this process's pages in its peak RSS, which survives exec."""
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(code)}
    for old in out.parent.glob("*.png"):
        old.unlink()
    report = out.parent / "time.txt"
    run = subprocess.run([TIME, "-f", "%e %U %S %M", "-o", str(report), sys.executable, "-m",
                          "gui", "export", str(source), "-o", str(out)], cwd=code, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{code}: synack export {source.name} failed: {run.stderr.strip()}")
    wall, user, system, rss = report.read_text().split()[-4:]
    return (float(wall), float(user) + float(system), int(rss),
            len(list(out.parent.glob("*.png"))))


def whole_commands(folder: Path, lengths: list[int], before: Path | None,
                   before_max: int) -> None:
    """Part 5: the whole ``synack export`` process, before and after, side by side."""
    sources = [(f"{n:,} segments (generated)", cached_stream(folder, n), n) for n in lengths]
    sources.insert(1, (f"{CORPUS.name}", CORPUS, 2242))
    print("synack export, the whole process: wall time, CPU time (user + system) and peak "
          "RSS" + (f" (before: {before})" if before else ""))
    print(f"  {'source':36s} {'pages':>5s} {'before: wall, CPU, RSS':>28s} "
          f"{'after: wall, CPU, RSS':>28s}  target")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.png"
        for name, path, count in sources:
            old = "-"
            if before is not None and count <= before_max:
                wall, cpu, rss, _ = run_command(before, path, out)
                old = f"{wall:6.2f} s {cpu:6.2f} s {rss / 1024:6.0f} MB"
            elif before is not None:
                old = "not run"
            wall, cpu, rss, pages = run_command(ROOT, path, out)
            target = {1000: 2.0, 2242: 4.0}.get(count)
            verdict = "" if target is None else \
                f"<= {target:g} s {'ok' if wall <= target else 'MISSED'}"
            print(f"  {name:36s} {pages:5d} {old:>28s} {wall:6.2f} s {cpu:6.2f} s "
                  f"{rss / 1024:6.0f} MB  {verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--export", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "synack-bench")
    parser.add_argument("--parts", default="frames,export,zlib,commands",
                        help="which parts to run (comma-separated)")
    parser.add_argument("--before", type=Path, help="a checkout of older code to compare")
    parser.add_argument("--before-max", type=int, default=20_000,
                        help="longest stream to export with the code before")
    parser.add_argument("--lengths", default="1000,20000,100000",
                        help="segments of the generated streams to export whole")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    app = QApplication.instance() or QApplication([sys.argv[0]])
    if "frames" in parts:
        frames(args, app)
    if "export" in parts:
        export(args)
    with tempfile.TemporaryDirectory() as folder:
        if "zlib" in parts:
            png_levels(Path(folder))
    if "commands" in parts:
        whole_commands(args.dir, [int(n) for n in args.lengths.split(",")], args.before,
                       args.before_max)


def frames(args: argparse.Namespace, app: QApplication) -> None:
    """Parts 1 and 2: frame times in the window, and the QGraphicsScene alternative."""
    path = cached_stream(args.dir, args.segments)
    timeline = replay_stream(read_capture(str(path)), 0).timeline

    print(f"diagram of a replayed stream of {len(timeline):,} segments at {WIDTH}x{HEIGHT}")
    for compact in (False, True):
        start = time.perf_counter()
        view = SequenceView(timeline, compact=compact)
        built = time.perf_counter() - start
        view.resize(WIDTH, HEIGHT)
        view.show()
        app.processEvents()
        frame_times(view, 3)  # warm the label cache and fonts
        times = frame_times(view, args.frames)
        worst = max(times) * 1e3
        mode = "compact" if compact else "timed"
        print(f"  {mode:8s} layout {built * 1e3:7.0f} ms (once); frame {summary(times)}  "
              f"(target <= 16 ms; {'ok' if worst <= 16 else 'MISSED'})")
        view.close()
        layout = view.diagram_layout()
    count = min(30_000, len(timeline))
    build, times = scene_times(layout, count, min(args.frames, 20))
    print(f"  QGraphicsScene, {count:,} arrows as items: build {build * 1e3:.0f} ms; "
          f"frame {summary(times)}")


def export(args: argparse.Namespace) -> None:
    """Part 3: export of a simulated bulk transfer, in process."""
    tl = bulk_timeline(args.export)
    print(f"export of a simulated bulk transfer of {len(tl):,} segments")
    with tempfile.TemporaryDirectory() as folder:
        for compact in (False, True):
            best = float("inf")
            files: list[tuple[str, int, int]] = []
            for _ in range(3):
                start = time.perf_counter()
                files = export_png(tl, Path(folder) / "x.png", compact=compact)
                best = min(best, time.perf_counter() - start)
            sizes = ", ".join(f"{w}x{h}" for _, w, h in files)
            total = sum(os.path.getsize(name) for name, _, _ in files) / 1e6
            mode = "compact" if compact else "timed"
            print(f"  {mode:8s} {best:6.2f} s  ({sizes}, {total:.1f} MB; target <= 2 s; "
                  f"{'ok' if best <= 2 else 'MISSED'})")
        start = time.perf_counter()
        pages = render_pages(tl)
        painted = time.perf_counter() - start
        start = time.perf_counter()
        for k, image in enumerate(pages):
            image.save(str(Path(folder) / f"d{k}.png"), "PNG")  # type: ignore[call-overload]
        default = time.perf_counter() - start
        print(f"  timed: layout + painting {painted:.2f} s; PNG at Qt's default compression "
              f"{default:.2f} s (ours: gui/export/png.py)")


if __name__ == "__main__":
    main()
