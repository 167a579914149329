"""Fidelity benchmark: how often the replay finds what the simulator knows.

Usage::

    .venv/bin/python bench/fidelity.py [--cases 2000] [--seed 20261203] [--jobs J]
                                       [--top 10] [--full]
    .venv/bin/python bench/fidelity.py --case "NAME key=value ... seed=S"

Generates ``--cases`` random impaired exchanges (every scenario, random delays,
loss, scripted drops of the SYN, SYN+ACK, FIN, RST or last ACK, reordering,
duplication, jitter; tests/fidelity/harness.py), captures each at every tap, replays
stream 0 and compares it with the simulation's truth (core.simulate.truth). Prints the
exact-match rate (states and losses) per tap, scenario family and scenario, the number
of illegal state sequences (target 0), the replays that flagged themselves ambiguous,
the commonest mismatch kinds with the simplest case that shows each (``--full``: with
both sequences at every tap), and the wall time. ``--case`` runs one case and prints its
full report (the ``e.g.`` lines are in that form).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fidelity.harness import Case, generate, run_all, run_case  # noqa: E402


def _one(text: str) -> str:
    """The full report of one case written as ``NAME key=value ... seed=S``."""
    with tempfile.TemporaryDirectory() as folder:
        return run_case(Case.parse(text), folder).report()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--full", action="store_true",
                        help="print the full report of each top kind's example")
    parser.add_argument("--case", help='one case: "NAME key=value ... seed=S"')
    args = parser.parse_args(argv)
    if args.case:
        print(_one(args.case))
        return 0
    cases = generate(args.seed, args.cases)
    stats = run_all(cases, args.jobs)
    print(f"seed {args.seed}, {args.jobs} process{'es' if args.jobs > 1 else ''}")
    print(stats.summary(top=args.top, full_reports=args.full))
    for example in stats.illegal_examples[:5]:
        print("\nillegal:\n" + example)
    for example in stats.error_examples[:5]:
        print("\nerror:\n" + example)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
