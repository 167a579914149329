"""Differential testing of the replay against the simulator: cases, captures, verdicts.

    generate(seed, count) -> list[Case]          random impaired exchanges, reproducible
    run_case(case, folder) -> CaseResult          simulate, capture at every tap, replay,
                                                  compare with the truth, check legality
    run_all(cases, jobs=1) -> Stats               many cases, in ``jobs`` processes
    write_capture(timeline, path, tap) -> list[Sighting]   the ONE capture adapter
    ambiguous(replay) -> bool                     the replay flagged its own doubt
    Stats, RATE_TARGET                            (tests.fidelity.stats) the counts

Rules:
1. A case is (scenario, parameters as ``key=value`` strings, link seed); the same case
   gives the same simulation, captures and verdicts. ``Case.command`` reproduces it.
2. Every case is captured at every tap of :data:`TAPS`; stream 0 of each capture is
   replayed and compared (:mod:`core.simulate.truth`); every stream's replay, and the
   simulation itself, are checked for legality (:mod:`core.replay.check`).
3. A capture with no packet (every SYN lost before the tap) is counted as ``empty``,
   neither a match nor a mismatch. An exception while capturing, reading or replaying
   is recorded as the tap's ``error`` (with where it was raised), not raised.
4. Scripted drops name their target by a clean run (the same parameters without random
   impairments): the SYN, the SYN+ACK, a FIN, an RST, the last ACK.
5. Parameters drawn (:func:`generate`): the scenarios in turn; ``delay`` 1-80 ms, 30%
   ``delay_back`` 0.5-150 ms; 20% each ``wscale=off``, ``mss``, ``delayed_ack=off``,
   ``iss=random``; 10% each ``nagle=on``, ``preset=rfc``; ``timestamps`` and ``sack``
   each turned off in 25% of the Linux-preset cases (on by default there) and on in
   50% of the RFC-preset ones (off there); 35% ``loss`` 2-30%; 25% ``reorder`` (with
   ``reorder_delay``); 20% ``duplicate``; 25% ``jitter``; 35% a scripted drop; a random
   link ``seed``.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from core.capture import read_capture, taps
from core.errors import SynAckError
from core.replay import Replay, replay_stream
from core.replay.check import violations
from core.simulate.params import parse_assignment
from core.simulate.scenarios import SCENARIOS, get
from core.simulate.truth import Comparison, Sighting, captured_truth, compare
from core.tcp.segment import Flag
from core.tcp.states import Side
from core.trace import Timeline
from tests.fidelity.stats import RATE_TARGET, Stats

#: capture points every case is captured at (``core.capture.taps.TapPoint.parse`` names)
TAPS: tuple[str, ...] = ("client", "server", "mid", "both")
# ----- the capture adapter ---------------------------------------------------------------
def write_capture(timeline: Timeline, path: str, tap: str) -> list[Sighting]:
    """Write the capture seen at ``tap`` (``client``, ``server``, ``mid[:F]``, ``both``)
    to ``path``; frame by frame, what it shows.

    The one place that knows the capture writer's API (``core.capture.taps``)."""
    truth = taps.write_capture(timeline, path, taps.TapPoint.parse(tap))
    return [Sighting(frame=f.number, time=f.time, index=f.index, interface=f.interface)
            for f in truth.frames]


def ambiguous(replay: Replay) -> bool:
    """The replay said the capture cannot decide something (``Timeline.uncertain``)."""
    return bool(replay.timeline.uncertain)


# ----- cases -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Case:
    scenario: str
    params: tuple[str, ...]
    seed: int
    drop_target: str = ""      # what the scripted drop aims at in the clean run

    @classmethod
    def parse(cls, text: str) -> Case:
        """A case written as the summary prints it: ``NAME key=value ... seed=S``, with
        an optional ``[drop: ...]`` tail (ignored)."""
        name, *words = text.split()
        seed = 1
        params = []
        for word in words:
            if word.startswith("seed="):
                seed = int(word[5:])
            elif not word.startswith("["):
                params.append(word)
            else:
                break
        return cls(name, tuple(params), seed)

    def overrides(self) -> dict[str, object]:
        out: dict[str, object] = dict(parse_assignment(p) for p in self.params)
        out["seed"] = self.seed
        return out

    @property
    def options(self) -> str:
        """The TCP options both ends use: ``ts+sack``, ``ts``, ``sack`` or ``none``."""
        values = dict(p.split("=", 1) for p in self.params)
        rfc = values.get("preset") == "rfc"
        used = [name for name, key in (("ts", "timestamps"), ("sack", "sack"))
                if values.get(key, "off" if rfc else "on") == "on"]
        return "+".join(used) or "none"

    @property
    def command(self) -> str:
        sets = " ".join(f"--set {p}" for p in (*self.params, f"seed={self.seed}"))
        return f"synack simulate {self.scenario} {sets}"

    def __str__(self) -> str:
        target = f" [drop: {self.drop_target}]" if self.drop_target else ""
        return f"{self.scenario} {' '.join(self.params)} seed={self.seed}{target}"


def _drop_targets(timeline: Timeline) -> dict[str, str]:
    """Scripted drops (``SIDE:N``) aimed at notable segments of a clean run."""
    count = {Side.CLIENT: 0, Side.SERVER: 0}
    out: dict[str, str] = {}
    last_ack: str | None = None
    for rec in timeline.segments:
        if "duplicated by the link" in rec.labels:
            continue
        count[rec.sender] += 1
        rule = f"{rec.sender.value}:{count[rec.sender]}"
        flags = rec.segment.flags
        name = None
        if flags & Flag.SYN:
            name = "SYN+ACK" if flags & Flag.ACK else "SYN"
        elif flags & Flag.RST:
            name = "RST"
        elif flags & Flag.FIN:
            name = f"{rec.sender.value} FIN"
        elif flags == Flag.ACK and rec.segment.length == 0:
            last_ack = rule
        if name is not None:
            out.setdefault(f"{name} ({rec.sender.value})" if name == "RST" else name, rule)
    if last_ack is not None and any("FIN" in k for k in out):
        out["last ACK"] = last_ack
    return out


def _scenario_drop(name: str) -> str:
    value = get(name).params().get("drop")
    return value if isinstance(value, str) else ""


def generate(seed: int, count: int) -> list[Case]:
    """``count`` random cases from ``seed`` (every scenario in turn, random parameters)."""
    rng = random.Random(seed)
    clean_cache: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
    cases = []
    for n in range(count):
        scenario = SCENARIOS[n % len(SCENARIOS)].name
        params: list[str] = []
        params.append(f"delay={rng.choice([0.001, 0.005, 0.01, 0.03, 0.08]):g}")
        if rng.random() < 0.3:
            params.append(f"delay_back={rng.choice([0.0005, 0.004, 0.02, 0.06, 0.15]):g}")
        if rng.random() < 0.2:
            params.append("wscale=off")
        if rng.random() < 0.2:
            params.append(f"mss={rng.choice([100, 536, 1460])}")
        if rng.random() < 0.2:
            params.append("delayed_ack=off")
        if rng.random() < 0.2:
            params.append("iss=random")
        if rng.random() < 0.1:
            params.append("nagle=on")
        rfc = rng.random() < 0.1
        if rfc:
            params.append("preset=rfc")   # no timestamps, no SACK unless turned on
        for option in ("timestamps", "sack"):
            if rng.random() < (0.5 if rfc else 0.25):
                params.append(f"{option}={'on' if rfc else 'off'}")
        base = tuple(params)
        if rng.random() < 0.35:
            params.append(f"loss={rng.choice([0.02, 0.05, 0.1, 0.2, 0.3])}")
        if rng.random() < 0.25:
            params.append(f"reorder={rng.choice([0.05, 0.15, 0.3])}")
            params.append(f"reorder_delay={rng.choice([0.001, 0.005, 0.02])}")
        if rng.random() < 0.2:
            params.append(f"duplicate={rng.choice([0.05, 0.1, 0.3])}")
        if rng.random() < 0.25:
            params.append(f"jitter={rng.choice([0.0005, 0.002, 0.008])}")
        target = ""
        link_seed = rng.randrange(1 << 31)
        if rng.random() < 0.35:
            key = (scenario, base)
            if key not in clean_cache:
                clean = get(scenario).run(dict(parse_assignment(p) for p in base))
                clean_cache[key] = _drop_targets(clean)
            targets = clean_cache[key]
            if targets:
                target = rng.choice(sorted(targets))
                rules = [r for r in (_scenario_drop(scenario), targets[target]) if r]
                params.append("drop=" + ",".join(rules))
        cases.append(Case(scenario=scenario, params=tuple(params), seed=link_seed,
                          drop_target=target))
    return cases


# ----- running a case --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TapResult:
    tap: str
    empty: bool = False
    comparison: Comparison | None = None
    illegal: tuple[str, ...] = ()
    ambiguous: bool = False
    error: str = ""
    rules: tuple[str, ...] = ()    # the truth's normalisations applied (N1, N2, L2, ...)

    @property
    def matches(self) -> bool:
        return self.comparison is not None and self.comparison.matches

    @property
    def counted(self) -> bool:
        return not self.empty


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    taps: tuple[TapResult, ...]
    sim_illegal: tuple[str, ...] = ()
    error: str = ""

    def report(self) -> str:
        """Everything needed to reproduce and read a mismatch."""
        lines = [f"case {self.case}", f"  reproduce: {self.case.command}"]
        lines += [f"  simulation illegal: {v}" for v in self.sim_illegal]
        if self.error:
            lines.append(f"  error: {self.error}")
        for tap in self.taps:
            status = ("empty capture" if tap.empty else "match" if tap.matches
                      else "MISMATCH" if tap.comparison else "error")
            lines.append(f"  tap {tap.tap}: {status}")
            if status != "match":
                suffix = "pcapng" if tap.tap == "both" else "pcap"
                lines.append(f"    capture: {self.case.command} --at {tap.tap} "
                             f"--pcap {tap.tap}.{suffix}")
            if tap.comparison is not None:
                lines += [f"    {d}" for d in tap.comparison.details]
            lines += [f"    illegal: {v}" for v in tap.illegal]
            if tap.error:
                lines.append(f"    error: {tap.error}")
        return "\n".join(lines)


def _run_tap(timeline: Timeline, tap: str, folder: str) -> TapResult:
    suffix = "pcapng" if tap == "both" else "pcap"
    path = os.path.join(folder, f"fidelity-{os.getpid()}-{tap.replace(':', '_')}.{suffix}")
    try:
        frames = write_capture(timeline, path, tap)
        if not frames:
            return TapResult(tap=tap, empty=True)
        index = read_capture(path)
        streams = index.packets["stream"]
        illegal: list[str] = []
        first: Replay | None = None
        for stream in sorted(set(streams.tolist())):
            replay = replay_stream(index, stream)
            illegal += [f"stream {stream}: {v}" for v in violations(replay.timeline)]
            if stream == 0:
                first = replay
        assert first is not None
        frame_stream = dict(zip(index.packets["frame"].tolist(), streams.tolist(),
                                strict=True))
        shown = [s for s in frames if frame_stream.get(s.frame) == 0]
        truth = captured_truth(timeline, shown, tap)
        return TapResult(tap=tap, comparison=compare(truth, first.timeline),
                         illegal=tuple(illegal), ambiguous=ambiguous(first),
                         rules=tuple(note.split()[0] for note in truth.notes))
    except Exception as exc:  # noqa: BLE001 - any crash of the replay is a finding
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return TapResult(tap=tap, error=f"{type(exc).__name__}: {exc} "
                         f"({os.path.basename(where.filename)}:{where.lineno})")
    finally:
        if os.path.exists(path):
            os.remove(path)


def run_case(case: Case, folder: str) -> CaseResult:
    """Simulate ``case`` and judge the replay at every tap (see the module rules)."""
    try:
        timeline = get(case.scenario).run(case.overrides())
    except SynAckError as exc:
        return CaseResult(case=case, taps=(), error=f"simulation failed: {exc}")
    return CaseResult(case=case, taps=tuple(_run_tap(timeline, tap, folder) for tap in TAPS),
                      sim_illegal=tuple(violations(timeline)))


_FOLDER: list[str] = []


def _start_worker() -> None:
    _FOLDER.append(tempfile.mkdtemp(prefix="synack-fidelity-"))


def _work(case: Case) -> CaseResult:
    return run_case(case, _FOLDER[0])


def run_all(cases: Sequence[Case], jobs: int = 1) -> Stats:
    """Run every case (in ``jobs`` processes) and count the results."""
    stats = Stats()
    start = time.perf_counter()
    if jobs <= 1:
        with tempfile.TemporaryDirectory(prefix="synack-fidelity-") as folder:
            for case in cases:
                stats.add(run_case(case, folder))
    else:
        with multiprocessing.get_context("fork").Pool(jobs, _start_worker) as pool:
            for result in pool.imap(_work, cases, chunksize=8):
                stats.add(result)
    stats.seconds = time.perf_counter() - start
    return stats


__all__ = ["RATE_TARGET", "TAPS", "Case", "CaseResult", "Stats", "TapResult", "ambiguous",
           "generate", "run_all", "run_case", "write_capture"]
