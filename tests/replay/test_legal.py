"""One meaning for states, legal everywhere: on every stream of every corpus capture and
every scenario written at every capture point (clean and impaired).

- Each side's state changes chain and each is an edge of the transition table, and read
  down the rows each side's states follow its changes in order (core.replay.check).
- The window bars' SND.NXT never moves back, and counts a FIN once it is sent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.capture import read_capture
from core.capture.taps import TapPoint, write_capture
from core.errors import SynAckError
from core.replay import check, replay_stream
from core.simulate.scenarios import SCENARIOS
from core.tcp.segment import seq_diff
from core.tcp.states import Side, TcpState
from core.trace import Timeline
from tests.conftest import CORPUS

CAPTURES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.pcap*")) \
    if CORPUS.is_dir() else []
IMPAIRED = {"loss": 0.15, "reorder": 0.15, "duplicate": 0.05, "jitter": 0.003}


def violations(tl: Timeline) -> list[str]:
    """core.replay.check's (events chain along table edges, rows follow them), plus the
    window bars' SND.NXT."""
    out = check.violations(tl)
    if tl.windows is not None:
        for side in Side:
            out += _snd_nxt(tl, side)
    return out


def _snd_nxt(tl: Timeline, side: Side) -> list[str]:
    series = tl.windows
    assert series is not None
    series.prepare()
    times = sorted({e.time for e in tl.events})
    last = None
    for t in times:
        found = series.at(side, t)
        if found is None:
            continue
        nxt = found[1].snd_nxt
        if last is not None and seq_diff(nxt, last) < 0:
            return [f"{side.value}: SND.NXT back from {last} to {nxt} at {t}"]
        last = nxt
    fins = [r for r in tl.segments if r.sender is side and r.segment.flags.value & 0x01]
    if fins and last is not None and seq_diff(last, fins[0].segment.end) < 0:
        return [f"{side.value}: SND.NXT {last} does not count the FIN"]
    return []


@pytest.mark.corpus
@pytest.mark.parametrize("name", CAPTURES)
def test_every_corpus_stream_is_legal(corpus: Path, name: str) -> None:
    try:
        index = read_capture(str(corpus / name))
    except SynAckError:
        pytest.skip("unreadable on purpose (tests/capture checks the message)")
    for stream in np.unique(index.packets["stream"]).tolist():
        tl = replay_stream(index, stream).timeline
        assert violations(tl) == [], (name, stream)


@pytest.mark.parametrize("tap", ["client", "server", "mid", "both"])
def test_every_scenario_at_every_capture_point_is_legal(tmp_path: Path, tap: str) -> None:
    checked = 0
    for scenario in SCENARIOS:
        for overrides in ({}, {**IMPAIRED, "seed": 3}, {**IMPAIRED, "seed": 8}):
            sim = scenario.run(overrides)
            assert violations(sim) == [], (scenario.name, "simulation")
            path = tmp_path / ("c.pcapng" if tap == "both" else "c.pcap")
            truth = write_capture(sim, str(path), TapPoint.parse(tap))
            if not truth.frames:
                continue
            tl = replay_stream(read_capture(str(path)), 0).timeline
            assert violations(tl) == [], (scenario.name, overrides, tap)
            checked += 1
    assert checked >= 50


def test_a_side_in_last_ack_counts_its_fin(tmp_path: Path) -> None:
    from core.cursor import window_facts_at
    from core.simulate.scenarios import get
    path = tmp_path / "c.pcap"
    write_capture(get("close_client_first").run(), str(path), TapPoint.client())
    tl = replay_stream(read_capture(str(path)), 0).timeline
    fin = next(r for r in tl.segments if r.sender is Side.SERVER and r.segment.flags.value & 1)
    entered = next(c for c in tl.state_changes(Side.SERVER) if c.new is TcpState.LAST_ACK)
    facts = window_facts_at(tl, Side.SERVER, entered.time)
    assert facts is not None and facts.snapshot.snd_nxt == fin.segment.end
