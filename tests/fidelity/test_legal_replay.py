"""Every replayed Timeline is a legal walk of the transition table (core.replay.check).

Replays of every stream of every corpus capture, of every scenario captured at every
tap, and of the impaired cases the differential search found illegal (``FOUND``: a late
SYN moves a CLOSED server to SYN_RECEIVED, which no row of the table does). The
simulations themselves are checked in test_check.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from core.capture import read_capture
from core.replay import replay_stream
from core.replay.check import violations
from core.simulate.scenarios import SCENARIOS
from tests.conftest import CORPUS
from tests.fidelity.harness import TAPS, Case, run_case, write_capture

_FILES = (sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.pcap*"))
          if CORPUS.is_dir() else ["(no corpus)"])


def _illegal(path: str) -> list[str]:
    index = read_capture(path)
    out: list[str] = []
    for stream in sorted(set(index.packets["stream"].tolist())):
        out += [f"stream {stream}: {v}" for v in violations(replay_stream(index, stream).timeline)]
    return out


@pytest.mark.corpus
@pytest.mark.parametrize("name", _FILES)
def test_every_corpus_stream_replays_legally(corpus: Path, name: str) -> None:
    found = _illegal(str(corpus / name))
    assert not found, "\n".join(found[:20])


@pytest.mark.parametrize("tap", TAPS)
@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_every_scenario_replays_legally(scenario: str, tap: str) -> None:
    timeline = next(s for s in SCENARIOS if s.name == scenario).run()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "capture.pcap")
        if not write_capture(timeline, path, tap):
            pytest.skip(f"nothing reaches the {tap} tap")
        found = _illegal(path)
    assert not found, "\n".join(found[:20])


#: cases the differential search (tests/fidelity/harness.py) found replayed illegally
FOUND = [
    Case("abort", ("delay=0.005", "wscale=off", "mss=1460", "iss=random", "loss=0.02",
                   "reorder=0.05", "reorder_delay=0.02", "drop=server:1"), 201612373),
    Case("time_wait_old_duplicate", ("delay=0.01", "delay_back=0.15", "delayed_ack=off",
                                     "reorder=0.15", "reorder_delay=0.02", "duplicate=0.05",
                                     "drop=server:1"), 145743190),
]


@pytest.mark.parametrize("case", FOUND, ids=lambda c: f"{c.scenario}-{c.seed}")
def test_found_cases_replay_legally(case: Case, tmp_path: Path) -> None:
    result = run_case(case, str(tmp_path))
    assert not result.sim_illegal and not result.error
    illegal = [f"tap {t.tap}: {v}" for t in result.taps for v in t.illegal]
    assert not illegal, f"{case.command}\n" + "\n".join(illegal)
