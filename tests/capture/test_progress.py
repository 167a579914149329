"""``read_capture(progress=...)``: bytes read so far, at a chunk's pace; ``Cancelled`` stops it.

Rules checked: the calls start at (0, size) and end at (size, size), never go back, keep
``total`` equal to the file size, come once per chunk (not per packet), and leave the
index exactly as a read without progress; raising ``Cancelled`` in the callback leaves
``read_capture`` as that same error; errors and warnings of the file are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.capture import read_capture
from core.capture import reader as reader_module
from core.errors import Cancelled, CaptureError, SynAckError
from tests.capture import builders as b
from tests.progress import Recorder


def _streams_pcap(path: Path, streams: int = 6) -> Path:
    frames: list[bytes] = []
    for k in range(streams):
        frames += b.handshake(cport=40000 + k)
    path.write_bytes(b.pcap(frames))
    return path


def _pcapng(path: Path) -> Path:
    frames = b.handshake() + b.handshake(cport=40001)
    body = b.shb() + b.idb() + b.idb(link=101)
    for i, frame in enumerate(frames):          # odd frames as raw IP on interface 1
        body += b.epb(frame[14:], iface=1, stamp=i) if i % 2 else b.epb(frame, stamp=i)
    path.write_bytes(body)
    return path


def _check_calls(calls: list[tuple[int, int]], size: int) -> None:
    assert calls[0] == (0, size)
    assert calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done)


@pytest.mark.parametrize("chunk", [1, 4, 1 << 17])
def test_progress_runs_from_zero_to_size_once_per_chunk(tmp_path: Path, chunk: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader_module, "CHUNK", chunk)
    path = _streams_pcap(tmp_path / "six.pcap")
    size = path.stat().st_size
    seen = Recorder()
    index = read_capture(path, progress=seen)
    _check_calls(seen.calls, size)
    chunks = -(-index.frames // chunk)
    assert len(seen.calls) == chunks + 3       # start, walked, each chunk, end
    assert seen.calls[1] == (24, size)         # the pcap file header, once walked
    assert seen.calls[-2] == (size, size)      # the last chunk reaches the end of the file


def test_progress_changes_nothing_in_the_index(tmp_path: Path) -> None:
    path = _streams_pcap(tmp_path / "six.pcap")
    plain = read_capture(path)
    told = read_capture(path, progress=Recorder())
    assert np.array_equal(plain.packets, told.packets)
    assert plain.addresses == told.addresses
    assert plain.warnings == told.warnings


def test_pcapng_with_two_link_types(tmp_path: Path) -> None:
    path = _pcapng(tmp_path / "two.pcapng")
    seen = Recorder()
    index = read_capture(path, progress=seen)
    _check_calls(seen.calls, path.stat().st_size)
    assert len(index) == 10


def test_cancel_at_any_call_raises_cancelled(tmp_path: Path) -> None:
    path = _streams_pcap(tmp_path / "six.pcap")
    calls = len(_record(path).calls)
    for at in range(1, calls + 1):
        with pytest.raises(Cancelled) as caught:
            read_capture(path, progress=Recorder(cancel_at=at))
        assert isinstance(caught.value, SynAckError)
        assert not isinstance(caught.value, CaptureError)


def _record(path: Path) -> Recorder:
    seen = Recorder()
    read_capture(path, progress=seen)
    return seen


def test_a_bad_file_still_gives_its_capture_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pcap"
    path.write_bytes(b"this is not a capture at all")
    seen = Recorder()
    with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
        read_capture(path, progress=seen)
    assert seen.calls == [(0, path.stat().st_size)]


def test_a_cut_file_reaches_its_size_and_keeps_its_warning(tmp_path: Path) -> None:
    whole = _streams_pcap(tmp_path / "six.pcap").read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(whole[:-7])
    seen = Recorder()
    index = read_capture(path, progress=seen)
    _check_calls(seen.calls, path.stat().st_size)
    assert any("ends inside record" in w.message for w in index.warnings)


def test_corpus_files_report_their_size(corpus: Path) -> None:
    for path in sorted(corpus.glob("*/*.pcap*")):
        seen = Recorder()
        try:
            read_capture(path, progress=seen)
        except CaptureError:
            continue
        _check_calls(seen.calls, path.stat().st_size)
