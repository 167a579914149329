"""Mangled captures that still read must replay: analysis, states and the trace report
never raise on them, whatever the TCP inside looks like (the reader's own fuzz test is
tests/capture/test_fuzz.py; this reuses its mutations)."""

from __future__ import annotations

import os
import random
from pathlib import Path

from core.analysis import analyze_stream
from core.capture import read_capture
from core.errors import CaptureError
from core.replay import replay_stream
from core.replay.report import trace_lines, trace_to_dict
from core.tcp.states import TcpState
from tests.capture.test_fuzz import mutate, seeds, time_budget

CASES = int(os.environ.get("SYNACK_REPLAY_FUZZ_CASES", "300"))
STATES = {s.value for s in TcpState}


def test_mangled_captures_replay(tmp_path: Path) -> None:
    rnd = random.Random(20261122)
    pool = seeds()
    names = sorted(pool)
    path = tmp_path / "fuzz.cap"
    replayed = 0
    for case in range(CASES):
        name = names[case % len(names)]
        data, kind = mutate(pool[name], rnd)
        path.write_bytes(data)
        what = f"case {case}: {kind} of {name}"
        try:
            index = read_capture(path)
        except CaptureError:
            continue
        streams = sorted(set(index.packets["stream"].tolist()))[:4]
        with time_budget(5.0, what):
            for stream in streams:
                replay = replay_stream(index, stream, analyze_stream(index, stream))
                data_out = trace_to_dict(index, replay)
                assert data_out["final"]["client"] in STATES, what
                assert len(data_out["segments"]) == replay.rows.size, what
                assert sum(1 for _ in trace_lines(index, replay)) >= replay.rows.size, what
                replayed += 1
    assert replayed > CASES // 4
