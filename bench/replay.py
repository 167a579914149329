"""Replay benchmark: from a capture to the Timeline of one long stream, and the stream list.

Usage::

    .venv/bin/python bench/replay.py [--segments 100000] [--packets 1000000] [--dir DIR]

Generates (once, cached) one Ethernet/IPv4 connection of ``--segments`` segments: a
handshake, a bulk transfer with 1% of the data lost after the capture point (duplicate
ACKs, fast retransmissions) and a four-way close. Prints the time
to index it, to analyze it (core.analysis), to infer both sides' states and build its
Timeline (core.replay), the sum of those two (target: under 1 s), and, side by side,
``tshark -2`` doing its analysis of the same file. Each figure is the best of three
runs; the analysis is split into reading the TCP options from the file and the rest
(tshark's per-packet analysis, labels), the replay into its walks through both state
machines (each walk's first and last progress call) and the rest (timing, evidence,
repairs, doubts, verdict, Timeline). Then lists the streams of the 1,000,000-packet
capture of bench/ingest.py (target: under 1 s after the index).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import _tcp, _Writer, cached_files  # noqa: E402

from core.analysis import analyze_stream  # noqa: E402
from core.analysis.options import read_options  # noqa: E402
from core.capture import list_streams, read_capture  # noqa: E402
from core.progress import Progress  # noqa: E402
from core.replay import replay_stream  # noqa: E402
from core.tcp.states import Side  # noqa: E402

T = TypeVar("T")
VERSION = 1


def generate_stream(base: Path, segments: int, seed: int = 3) -> Path:
    """One long connection as pcap (see the module docstring)."""
    rnd = random.Random(seed)
    out = _Writer(base, 0)
    cli, srv, port = 0x0A000001, 0x0A000002, 40000
    cs, ss = rnd.getrandbits(32), rnd.getrandbits(32)
    t = 1_700_000_000_000_000

    def put(frame: bytes, gap: int = 20) -> None:
        nonlocal t
        t += gap
        out.write(t, frame)

    put(_tcp(cli, port, srv, 80, cs, 0, 0x02, 0, True))
    put(_tcp(srv, 80, cli, port, ss, cs + 1, 0x12, 0, True), 10_000)
    put(_tcp(cli, port, srv, 80, cs + 1, ss + 1, 0x10, 0), 10_000)
    nxt = cs + 1
    ss += 1
    lost: list[int] = []
    unacked = 0
    while out.count < segments - 4:
        put(_tcp(cli, port, srv, 80, nxt, ss, 0x10, 1448))
        if rnd.random() < 0.01:
            lost.append(nxt)                     # dropped after the capture point
        nxt += 1448
        unacked += 1
        if unacked < 2:
            continue
        unacked = 0
        if lost:
            hole = lost[0]
            lost.clear()
            for _ in range(4):                   # an ACK, then three duplicates
                put(_tcp(srv, 80, cli, port, ss, hole, 0x10, 0), 1_250)
            put(_tcp(cli, port, srv, 80, hole, ss, 0x10, 1448))      # fast retransmission
        put(_tcp(srv, 80, cli, port, ss, nxt, 0x10, 0), 1_250)
    put(_tcp(cli, port, srv, 80, nxt, ss, 0x11, 0))
    put(_tcp(srv, 80, cli, port, ss, nxt + 1, 0x11, 0), 10_000)
    put(_tcp(cli, port, srv, 80, nxt + 1, ss + 1, 0x10, 0), 10_000)
    out.close()
    return base.with_suffix(".pcap")


def cached_stream(folder: Path, segments: int) -> Path:
    """The long stream's capture in ``folder``, generated (not timed) on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"replay-{segments}-v{VERSION}"
    path = base.with_suffix(".pcap")
    if not path.exists():
        print(f"generating one stream of {segments} segments (not timed) ...", flush=True)
        generate_stream(base, segments)
    return path


def timed(fn: Callable[[], T], repeat: int = 3) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


class StageClock:
    """A ``Stages`` that notes, per stage, the last ``(0, total)`` before the first
    ``(total, total)`` and that one: a walk's start and end (the replay also tells the
    current stage between its array passes, before and after the walks)."""

    def __init__(self) -> None:
        self.spans: dict[str, list[float]] = {}

    def __call__(self, stage: str) -> Progress:
        def told(done: int, total: int) -> None:
            now = time.perf_counter()
            span = self.spans.setdefault(stage, [now, 0.0])
            if span[1]:
                return
            if done == 0:
                span[0] = now
            elif done >= total:
                span[1] = now
        return told

    def walks(self) -> tuple[int, float]:
        """How many walks of the state machines, and their time."""
        spans = [max(0.0, end - start) for name, (start, end) in self.spans.items()
                 if name.split()[0] in ("replaying", "doubts")]
        return len(spans), sum(spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "synack-bench")
    args = parser.parse_args()
    path = cached_stream(args.dir, args.segments)

    t_index, index = timed(lambda: read_capture(str(path)))
    t_analysis, analysis = timed(lambda: analyze_stream(index, 0))
    t_options, _ = timed(lambda: read_options(index, analysis.rows))
    t_replay, walks, t_walks = float("inf"), 0, 0.0
    for _ in range(3):
        clock = StageClock()
        start = time.perf_counter()
        replay = replay_stream(index, 0, analysis, stages=clock)
        took = time.perf_counter() - start
        if took < t_replay:
            t_replay, (walks, t_walks) = took, clock.walks()
    tl = replay.timeline
    print(f"stream of {len(tl):,} segments ({path.stat().st_size / 1e6:.0f} MB)")
    print(f"  index the file            {t_index * 1e3:8.1f} ms")
    print(f"  analysis (labels, RTT)    {t_analysis * 1e3:8.1f} ms")
    print(f"    TCP options read        {t_options * 1e3:8.1f} ms")
    print(f"    per-packet analysis     {(t_analysis - t_options) * 1e3:8.1f} ms   "
          f"(and labels)")
    print(f"  states + Timeline         {t_replay * 1e3:8.1f} ms")
    print(f"    state walks ({walks})         {t_walks * 1e3:8.1f} ms")
    print(f"    the rest                {(t_replay - t_walks) * 1e3:8.1f} ms   "
          f"(timing, evidence, repairs, doubts, verdict, Timeline)")
    total = t_analysis + t_replay
    print(f"  Timeline of the stream    {total * 1e3:8.1f} ms   (target < 1000 ms; "
          f"{'ok' if total < 1 else 'MISSED'})")
    counts = {k: v for k, v in analysis.counts().items() if v}
    client, server = tl.states_after(len(tl) - 1)
    print(f"  labels: {counts}; final states: client {client.value}, server {server.value}; "
          f"{len(tl.state_changes(Side.CLIENT))} client state changes")
    tshark = shutil.which("tshark")
    if tshark:
        start = time.perf_counter()
        subprocess.run([tshark, "-n", "-2", "-r", str(path), "-T", "fields",
                        "-e", "tcp.analysis.flags"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        t_tshark = time.perf_counter() - start
        print(f"  tshark -2 analysis        {t_tshark * 1e3:8.1f} ms   "
              f"(ours is {t_tshark / total:.1f}x faster)")
    else:
        print("  tshark: not installed, no comparison")

    files = cached_files(args.packets, 100_000, args.dir)
    big = read_capture(str(files[".pcap"]))
    t_list, streams = timed(lambda: list_streams(big))
    print(f"\n{len(big):,}-packet capture: {len(streams):,} streams listed in "
          f"{t_list * 1e3:.1f} ms after the index (target < 1000 ms; "
          f"{'ok' if t_list < 1 else 'MISSED'})")


if __name__ == "__main__":
    main()
