"""``synack trace`` against ``tshark -2`` printing the same stream: whole processes.

Usage::

    .venv/bin/python bench/trace.py [--segments 100000] [--big 1000000] [--runs 5]
                                    [--before DIR] [--dir DIR]

Runs, ``--runs`` times each and interleaved (the machine's load hits all alike),
``synack trace FILE``, ``synack trace --json FILE``, ``tshark -2 -r FILE -Y
tcp.stream==0`` and ``tshark -2 -r FILE -Y tcp.stream==0 -T json`` on the
``--segments`` stream of ``bench/replay.py``, output to /dev/null, and prints per command
the best and median wall time and CPU time (user + system) and the peak RSS
(``wait4``). Targets: ``synack trace`` at least as fast as ``tshark -2`` (best
wall and CPU). Then ``synack trace --json`` once on the ``--big`` stream: time and peak
RSS (memory must stay bounded: the replay itself, not the document). ``--before DIR``
adds the same runs of the code in DIR (a checkout of an older commit) for comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import cached_stream  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Run:
    """One finished process: wall seconds, CPU seconds, peak RSS in MB."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env, cwd=env.get("PYTHONPATH", None))
        _, status, usage = os.wait4(proc.pid, 0)
        self.wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode:
            raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {err[-500:]}")
        self.cpu = usage.ru_utime + usage.ru_stime
        self.rss_mb = usage.ru_maxrss / 1024


def synack(code: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run ``synack trace`` from the code in ``code``
    (also its working directory: ``-m`` puts that first on the path)."""
    env = dict(os.environ, PYTHONPATH=str(code.resolve()))
    return [sys.executable, "-m", "gui", "trace", *args], env


def tshark(path: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    exe = shutil.which("tshark")
    assert exe is not None
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return [exe, "-n", "-2", "-r", str(path), "-Y", "tcp.stream==0", *args], env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000,
                        help="segments of the --json memory run (0: skip it)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a checkout of older code to compare")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "synack-bench")
    args = parser.parse_args()
    path = cached_stream(args.dir, args.segments)
    commands = {"synack trace": synack(ROOT, str(path)),
                "synack trace --json": synack(ROOT, "--json", str(path))}
    if args.before:
        commands["before: synack trace"] = synack(args.before, str(path))
        commands["before: synack trace --json"] = synack(args.before, "--json", str(path))
    if shutil.which("tshark"):
        commands["tshark -2"] = tshark(path)
        commands["tshark -2 -T json"] = tshark(path, "-T", "json")
    else:
        print("tshark: not installed, no comparison")
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, (command, env) in commands.items():
            runs[name].append(Run(command, env))
    print(f"stream 0 of {path.name} ({args.segments:,} segments), {args.runs} runs each, "
          f"output to /dev/null")
    print(f"  {'command':<28} {'wall best':>9} {'median':>8} {'cpu best':>9} {'median':>8} "
          f"{'peak RSS':>10}")
    wall, cpu = {}, {}
    for name, done in runs.items():
        wall[name] = min(r.wall for r in done)
        cpu[name] = min(r.cpu for r in done)
        print(f"  {name:<28} {wall[name]:8.2f}s {statistics.median(r.wall for r in done):7.2f}s "
              f"{cpu[name]:8.2f}s {statistics.median(r.cpu for r in done):7.2f}s "
              f"{max(r.rss_mb for r in done):8.0f} MB")
    if "tshark -2" in wall:
        w = wall["synack trace"] / wall["tshark -2"]
        c = cpu["synack trace"] / cpu["tshark -2"]
        print(f"  synack trace / tshark -2, best of {args.runs}: wall {w:.2f}x, cpu {c:.2f}x "
              f"(target <= 1.00: {'ok' if max(w, c) <= 1 else 'MISSED'})")
    if args.big:
        big = cached_stream(args.dir, args.big)
        command, env = synack(ROOT, "--json", str(big))
        run = Run(command, env)
        print(f"\nsynack trace --json of {big.name} ({args.big:,} segments): {run.wall:.1f} s, "
              f"cpu {run.cpu:.1f} s, peak RSS {run.rss_mb:,.0f} MB")


if __name__ == "__main__":
    main()
