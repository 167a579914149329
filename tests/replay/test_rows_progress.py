"""``stream_rows(progress=...)``: replayed streams so far; ``Cancelled`` stops it.

Rules checked: calls start at (0, total) and end at (total, total), never go back, come
at most ``PROGRESS_STEPS`` times plus the two ends, and leave the rows exactly as
without progress; raising ``Cancelled`` in the callback leaves ``stream_rows`` as is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture import read_capture
from core.capture.index import CaptureIndex
from core.errors import Cancelled
from core.replay import report
from core.replay.report import stream_rows
from tests.capture import builders as b
from tests.progress import Recorder


def _index(tmp_path: Path, streams: int) -> CaptureIndex:
    frames: list[bytes] = []
    for k in range(streams):
        frames += b.handshake(cport=40000 + k)
    path = tmp_path / f"{streams}.pcap"
    path.write_bytes(b.pcap(frames))
    return read_capture(path)


@pytest.mark.parametrize(("streams", "steps", "calls"),
                         [(7, 200, 8), (7, 3, 4), (7, 1, 2), (1, 200, 2)])
def test_progress_counts_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 streams: int, steps: int, calls: int) -> None:
    monkeypatch.setattr(report, "PROGRESS_STEPS", steps)
    index = _index(tmp_path, streams)
    seen = Recorder()
    rows = stream_rows(index, progress=seen)
    assert len(rows) == streams
    assert seen.calls[0] == (0, streams)
    assert seen.calls[-1] == (streams, streams)
    assert all(total == streams for _, total in seen.calls)
    assert [d for d, _ in seen.calls] == sorted({d for d, _ in seen.calls})
    assert len(seen.calls) == calls


def test_progress_changes_no_row(tmp_path: Path) -> None:
    index = _index(tmp_path, 4)
    assert stream_rows(index, progress=Recorder()) == stream_rows(index)


def test_no_streams(tmp_path: Path) -> None:
    path = tmp_path / "udp.pcap"
    path.write_bytes(b.pcap([b.ether(b.ipv4("10.0.0.1", "10.0.0.2", bytes(8), proto=17))]))
    seen = Recorder()
    assert stream_rows(read_capture(path), progress=seen) == []
    assert seen.calls == [(0, 0), (0, 0)]


def test_cancel_at_any_call(tmp_path: Path) -> None:
    index = _index(tmp_path, 5)
    seen = Recorder()
    stream_rows(index, progress=seen)
    for at in range(1, len(seen.calls) + 1):
        with pytest.raises(Cancelled):
            stream_rows(index, progress=Recorder(cancel_at=at))
