"""Counts over many differential cases: rates per tap, family and scenario, mismatch kinds.

Rules:
1. A capture counts once per tap; an empty capture (nothing reached the tap) is counted
   apart and is neither a match nor a mismatch.
2. A mismatch kind is counted once per capture; its example is the simplest case that
   showed it (fewest parameters, then the shortest description), with its full report.
3. Kinds starting with ``order`` (arrival order) are not part of a match and are listed
   apart; ``states``/``roles`` kinds are also listed on their own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fidelity.harness import CaseResult

#: the exact-match rate issue 10 asks for (not reached: see README, "Fidelity")
RATE_TARGET = 0.99
#: what the suite asserts today so the replay cannot get worse unnoticed: the measured
#: exact rate (0.913 on the suite's 2,000 cases) and the rate counting a flagged
#: uncertainty's other reading (0.975), each less a margin for the cases drawn
RATE_FLOOR = 0.90
EITHER_FLOOR = 0.97

FAMILIES: dict[str, str] = {
    "handshake": "open", "simultaneous_open": "open", "closed_port": "open",
    "listen_backlog": "open",
    "hello_ok": "data", "retransmission": "data", "fast_retransmit": "data",
    "out_of_order": "data", "flow_control": "data", "stream_service": "data",
    "keepalive": "data",
    "close_client_first": "close", "close_three_segment": "close",
    "close_server_first": "close", "simultaneous_close": "close",
    "time_wait_lost_ack": "time_wait", "time_wait_old_duplicate": "time_wait",
    "bind_eaddrinuse": "time_wait",
    "abort": "reset", "half_open": "reset",
}


def _simplest(sizes: dict[str, tuple[int, int]], kind: str, size: tuple[int, int]) -> bool:
    """Record ``size`` for ``kind`` when it is the first or smaller than the one kept."""
    if kind in sizes and size >= sizes[kind]:
        return False
    sizes[kind] = size
    return True


@dataclass(slots=True)
class Stats:
    """Counts over many case results (``add`` them, then read or ``summary()``)."""

    cases: int = 0
    tap_total: Counter[str] = field(default_factory=Counter)
    tap_match: Counter[str] = field(default_factory=Counter)
    tap_empty: Counter[str] = field(default_factory=Counter)
    tap_order_ok: Counter[str] = field(default_factory=Counter)
    group_total: Counter[str] = field(default_factory=Counter)
    group_match: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    unexplained: Counter[str] = field(default_factory=Counter)   # kinds of unflagged misses
    unexplained_examples: dict[str, tuple[str, str]] = field(default_factory=dict)
    _unexplained_size: dict[str, tuple[int, int]] = field(default_factory=dict)
    examples: dict[str, tuple[str, str]] = field(default_factory=dict)  # kind -> case, tap
    reports: dict[str, str] = field(default_factory=dict)               # kind -> report
    illegal: int = 0
    illegal_examples: list[str] = field(default_factory=list)
    sim_illegal: int = 0
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    ambiguous: int = 0
    ambiguous_mismatches: int = 0
    other_readings: int = 0
    tap_either: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    kind_scenarios: dict[str, Counter[str]] = field(default_factory=dict)
    _example_size: dict[str, tuple[int, int]] = field(default_factory=dict)
    unseen_losses: int = 0
    ghosts: int = 0
    seconds: float = 0.0

    def add(self, result: CaseResult) -> None:
        self.cases += 1
        case = result.case
        if result.sim_illegal:
            self.sim_illegal += 1
        if result.error:
            self.errors += 1
            self.error_examples.append(result.report())
        for tap in result.taps:
            if tap.empty:
                self.tap_empty[tap.tap] += 1
                continue
            groups = (f"tap {tap.tap}", f"family {FAMILIES.get(case.scenario, '?')}",
                      f"scenario {case.scenario}", f"options {case.options}")
            self.tap_total[tap.tap] += 1
            for group in groups:
                self.group_total[group] += 1
            if tap.illegal:
                self.illegal += 1
                if len(self.illegal_examples) < 20:
                    self.illegal_examples.append(result.report())
            if tap.error:
                self.errors += 1
                if len(self.error_examples) < 20:
                    self.error_examples.append(result.report())
            self.ambiguous += tap.ambiguous
            comparison = tap.comparison
            if comparison is None:
                continue
            self.unseen_losses += comparison.unseen_losses
            self.ghosts += comparison.ghosts
            self.tap_order_ok[tap.tap] += comparison.order_ok
            if comparison.matches:
                self.tap_match[tap.tap] += 1
                for group in groups:
                    self.group_match[group] += 1
            elif tap.ambiguous:
                self.ambiguous_mismatches += 1
            if comparison.matches_either:
                self.tap_either[tap.tap] += 1
            if comparison.other_reading:
                self.other_readings += 1
            self.rules.update(tap.rules)
            for kind in dict.fromkeys(comparison.kinds):
                self.kinds[kind] += 1
                # the example kept is the simplest case: fewest parameters, then shortest
                size = (len(case.params), len(str(case)))
                if not comparison.matches_either and not kind.startswith("order"):
                    self.unexplained[kind] += 1
                    if _simplest(self._unexplained_size, kind, size):
                        self.unexplained_examples[kind] = (str(case), tap.tap)
                self.kind_scenarios.setdefault(kind, Counter())[case.scenario] += 1
                if _simplest(self._example_size, kind, size):
                    self.examples[kind] = (str(case), tap.tap)
                    self.reports[kind] = result.report()

    def rate_either(self) -> float:
        total = sum(self.tap_total.values())
        return sum(self.tap_either.values()) / total if total else 1.0

    def rate(self, tap: str | None = None) -> float:
        total = sum(self.tap_total.values()) if tap is None else self.tap_total[tap]
        match = sum(self.tap_match.values()) if tap is None else self.tap_match[tap]
        return match / total if total else 1.0

    def summary(self, *, top: int = 10, full_reports: bool = False) -> str:
        lines = [f"{self.cases} cases, {sum(self.tap_total.values())} captures replayed "
                 f"({sum(self.tap_empty.values())} empty), {self.seconds:.1f} s",
                 f"exact match (states + losses): {self.rate():.4f} "
                 f"(target {RATE_TARGET})"]
        for tap in sorted(self.tap_total):
            lines.append(f"  tap {tap:<8} {self.rate(tap):.4f}  ({self.tap_match[tap]}/"
                         f"{self.tap_total[tap]}; arrival order right in "
                         f"{self.tap_order_ok[tap]}; empty {self.tap_empty[tap]})")
        for prefix in ("family", "options", "scenario"):
            for group in sorted(g for g in self.group_total if g.startswith(prefix)):
                total, match = self.group_total[group], self.group_match[group]
                lines.append(f"  {group:<34} {match / total:.4f}  ({match}/{total})")
        lines.append(f"illegal replayed sequences: {self.illegal} (target 0); illegal "
                     f"simulations: {self.sim_illegal}; errors: {self.errors}")
        total = sum(self.tap_total.values())
        either = sum(self.tap_either.values()) / total if total else 1.0
        lines.append(f"replays flagged uncertain: {self.ambiguous} (of which mismatched: "
                     f"{self.ambiguous_mismatches}, and in {self.other_readings} the other "
                     f"reading is the truth); match or a flagged other reading: {either:.4f} ("
                     + ", ".join(f"{tap} {self.tap_either[tap] / self.tap_total[tap]:.4f}"
                                 for tap in sorted(self.tap_total)) + ")")
        lines.append(f"segments lost before the tap: {self.unseen_losses}; ghosts drawn: "
                     f"{self.ghosts}")
        lines.append("truth normalisations applied (core.simulate.truth): " + ", ".join(
            f"{rule} {n}" for rule, n in sorted(self.rules.items())))
        def part(*prefixes: str) -> Counter[str]:
            return Counter({k: n for k, n in self.kinds.items() if k.startswith(prefixes)})

        for title, kinds in (("top mismatch kinds (states, losses)", part("states", "roles",
                                                                          "loss", "ghost")),
                             ("of which state sequences", part("states", "roles")),
                             ("misses neither matched nor flagged (bugs, or doubts the "
                              "replay does not flag)", self.unexplained),
                             ("arrival order (not part of a match)", part("order"))):
            lines.append(f"{title}, {len(kinds)} distinct (captures affected):")
            for kind, n in kinds.most_common(top):
                case, tap = (self.unexplained_examples[kind] if kinds is self.unexplained
                             else self.examples[kind])
                where = ", ".join(f"{name} {k}" for name, k in
                                  self.kind_scenarios[kind].most_common(4))
                lines.append(f"  {n:6}  {kind}\n          in: {where}\n          e.g. {case}")
                if full_reports:
                    lines += ["          " + line for line in self.reports[kind].splitlines()]
        return "\n".join(lines)
