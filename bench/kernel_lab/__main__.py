"""python -m bench.kernel_lab [--runs N] [--random-runs M] [--scenario NAME ...] [--out DIR]
                           [--jobs J] [--seed S] [--rescore] [--list]

Runs every scenario (or the named ones) in fresh network namespaces as root, records the
kernel's own state changes (tracepoint sock:inet_sock_set_state), captures both ends,
then replays every capture with SynAck and scores each side's state sequence against the
kernel's. Writes OUT/runs/SCENARIO/NNNN/..., OUT/summary.json and OUT/summary.md.
``--rescore`` scores the runs already in OUT (no root needed). Exit status: 0 when done
(mismatches are findings, not failures), 2 when the machine cannot run the lab.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.kernel_lab.ftrace import tracefs_ok
from bench.kernel_lab.lab import Run, netns_ok
from bench.kernel_lab.report import render, summarize
from bench.kernel_lab.scenarios import RANDOM, SCENARIOS
from bench.kernel_lab.score import score_run


def can_run() -> str | None:
    return netns_ok() or tracefs_ok()


def run_one(out: Path, name: str, number: int, run_id: int, seed: int) -> Path:
    rnd = random.Random(f"{seed}/{name}/{number}")
    run = Run(out, name, number, run_id, {})
    try:
        with run:
            SCENARIOS[name](run, rnd)
    except Exception:   # noqa: BLE001 - keep going; the run directory says what failed
        (run.dir / "error.txt").write_text(traceback.format_exc())
    return run.dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.kernel_lab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=4, help="runs per scripted scenario")
    p.add_argument("--random-runs", type=int, default=None,
                   help="runs per randomised scenario (default: 15 x --runs)")
    p.add_argument("--scenario", nargs="+", default=None, choices=sorted(SCENARIOS))
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    p.add_argument("--jobs", type=int, default=3, help="runs in parallel")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rescore", action="store_true", help="only score the runs in --out")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    a = p.parse_args(argv)
    if a.list:
        for name, fn in SCENARIOS.items():
            print(f"{name:24} {(fn.__doc__ or '').strip().splitlines()[0]}")
        return 0
    out: Path = a.out
    names = a.scenario or list(SCENARIOS)
    t0 = time.time()
    if not a.rescore:
        why = can_run()
        if why:
            print(f"kernel lab: cannot run here: {why}", file=sys.stderr)
            return 2
        random_runs = a.random_runs if a.random_runs is not None else 15 * a.runs
        jobs = []
        run_id = 0
        for name in names:
            for number in range(random_runs if name in RANDOM else a.runs):
                run_id += 1
                jobs.append((name, number, run_id))
        print(f"{len(jobs)} runs, {a.jobs} at a time, into {out}/runs", flush=True)
        done = 0
        with ThreadPoolExecutor(max_workers=a.jobs) as pool:
            futures = [pool.submit(run_one, out, n, k, i, a.seed) for n, k, i in jobs]
            for f in futures:
                d = f.result()
                done += 1
                if done % 10 == 0 or done == len(jobs):
                    print(f"  {done}/{len(jobs)} runs ({time.time() - t0:.0f} s), last {d}",
                          flush=True)
    cases = []
    run_dirs = sorted(d.resolve() for d in (out / "runs").glob("*/*") if (d / "run.json").exists()
                      and d.parent.name in names)
    for d in run_dirs:
        try:
            cases += score_run(d)
        except Exception as e:   # noqa: BLE001 - one bad run must not hide the others
            cases.append({"scenario": d.parent.name, "run": str(d), "capture": "-",
                          "stream": None, "error": f"scoring: {type(e).__name__}: {e}"})
    summary = summarize(cases)
    summary["elapsed_s"] = round(time.time() - t0, 1)
    summary["command"] = " ".join(["python -m bench.kernel_lab", *(argv or sys.argv[1:])])
    (out / "summary.json").write_text(json.dumps({**summary, "cases": cases}, indent=1))
    text = render(summary, root=str(out.resolve()) + "/")
    (out / "summary.md").write_text(text + "\n")
    print(text)
    print(f"\n{len(run_dirs)} runs scored in {summary['elapsed_s']} s; "
          f"{out / 'summary.json'}, {out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
