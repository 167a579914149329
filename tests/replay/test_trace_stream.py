"""``synack trace`` streamed (``core.replay.trace_stream``) is byte for byte the reference.

The reference is ``core.replay.report``: ``trace_lines`` (one line each) and
``json.dumps(trace_to_dict(...), indent=1)`` plus a newline, as the CLI printed them
before. Checked on every stream of the corpus captures (labels, several streams, IPv6,
odd files), on simulations captured at every tap (doubts, two capture points merged) and
on the verdict's hand-made captures (differences between tshark and SynAck).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from core.capture import read_capture
from core.capture.index import CaptureIndex
from core.capture.taps import TapPoint, write_capture
from core.errors import CaptureError
from core.replay import Replay, replay_stream
from core.replay import trace_stream as module
from core.replay.report import trace_lines, trace_to_dict
from core.replay.trace_stream import write_trace, write_trace_json
from core.simulate.params import parse_assignment
from core.simulate.scenarios import get
from tests.analysis import verdict_captures as vc

#: Streams checked per corpus file (the first ones; a few files hold hundreds).
STREAMS_PER_FILE = 12


def _same(index: CaptureIndex, replay: Replay) -> None:
    text = io.StringIO()
    write_trace(text, index, replay)
    assert text.getvalue() == "".join(f"{line}\n" for line in trace_lines(index, replay))
    data = io.StringIO()
    write_trace_json(data, index, replay)
    assert data.getvalue() == json.dumps(trace_to_dict(index, replay), indent=1) + "\n"


def test_every_corpus_stream(corpus: Path) -> None:
    checked = 0
    for path in sorted(corpus.glob("*/*.pcap*")):
        try:
            index = read_capture(path)
        except CaptureError:
            continue
        if not len(index):
            continue
        streams = sorted(set(index.packets["stream"].tolist()))[:STREAMS_PER_FILE]
        for stream in streams:
            _same(index, replay_stream(index, stream))
            checked += 1
    assert checked > 30


@pytest.mark.parametrize(("scenario", "tap", "overrides"), [
    ("time_wait_lost_ack", "server", {"timestamps": "off"}),
    ("time_wait_lost_ack", "both", {}),
    ("simultaneous_close", "mid", {}),
    ("fast_retransmit", "client", {}),
    ("listen_backlog", "server", {}),
])
def test_simulations_at_every_tap(tmp_path: Path, scenario: str, tap: str,
                                  overrides: dict[str, str]) -> None:
    sim = get(scenario).run(dict(parse_assignment(f"{k}={v}") for k, v in overrides.items()))
    path = tmp_path / ("cap.pcapng" if tap == "both" else "cap.pcap")
    write_capture(sim, str(path), TapPoint.parse(tap))
    index = read_capture(path)
    replay = replay_stream(index, 0)
    if tap == "both":
        assert replay.point.merged
    _same(index, replay)


@pytest.mark.parametrize("make", [vc.simultaneous_open, vc.fin_reack, vc.dsack, vc.tsecr])
def test_verdict_differences(tmp_path: Path, make: object) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    index = read_capture(path)
    replay = replay_stream(index, 0)
    assert replay.verdict.changes
    _same(index, replay)


def test_output_is_written_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.capture.builders import bulk_pcap
    index = read_capture(bulk_pcap(tmp_path / "bulk.pcap", 300))
    replay = replay_stream(index, 0)
    monkeypatch.setattr(module, "CHUNK", 7)
    writes: list[str] = []

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return super().write(text)
    out = Out()
    write_trace(out, index, replay)
    assert len(writes) > 300 // 7 and max(w.count("\n") for w in writes) == 7
    _same(index, replay)
