"""``read_capture(stages=...)``: every stage named, told often, cancellable, harmless.

Rules checked (``core.progress``, ``core.capture.reader``): the stages come in order
(reading, walking, decoding, indexing), each starts at or after 0 and ends at its total,
``done`` never goes back within a stage; the index is exactly the one read without
progress; ``Cancelled`` raised at any call of any stage leaves ``read_capture`` as is;
the pcapng block walk, paused every ``WALK_BUDGET`` blocks, finds the same blocks in
files of several sections.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.capture import pcapng, read_capture
from core.capture.index import CaptureIndex
from core.errors import Cancelled, CaptureError
from core.progress import DECODING, INDEXING, READING, WALKING
from tests.capture import builders as b
from tests.progress import Told


@pytest.fixture(scope="module")
def bulk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 4.5 MB: the pcap walk takes its speculative path."""
    return b.bulk_pcap(tmp_path_factory.mktemp("stages") / "bulk.pcap", 3000)


def _same(a: CaptureIndex, b_: CaptureIndex) -> None:
    assert np.array_equal(a.packets, b_.packets)
    assert a.addresses == b_.addresses and a.warnings == b_.warnings


def _check(told: Told) -> None:
    assert told.stages() == [READING, WALKING, DECODING, INDEXING]
    told.check()


def test_stages_of_a_pcap(bulk: Path) -> None:
    told = Told()
    index = read_capture(bulk, stages=told)
    _check(told)
    _same(index, read_capture(bulk))
    size = bulk.stat().st_size
    assert (READING, size, size) in told.calls and (INDEXING, 4, 4) in told.calls
    walked = [d for s, d, _ in told.calls if s == WALKING]
    assert len(walked) > 3 and len(set(walked)) > 2       # the walk tells how far it got


def _pcapng(path: Path, sections: int) -> Path:
    body = b""
    for k in range(sections):
        body += b.shb(big=bool(k % 2)) + b.idb(big=bool(k % 2))
        for i, frame in enumerate(b.handshake(cport=41000 + k)):
            body += b.epb(frame, stamp=i + 10 * k, big=bool(k % 2))
    path.write_bytes(body)
    return path


@pytest.mark.parametrize("budget", [1, 2, 3, 7])
def test_the_block_walk_pauses_anywhere(tmp_path: Path, budget: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = _pcapng(tmp_path / "sections.pcapng", 5)
    plain = read_capture(path)
    monkeypatch.setattr(pcapng, "WALK_BUDGET", budget)
    told = Told()
    index = read_capture(path, stages=told)
    _same(index, plain)
    _check(told)
    assert len([1 for s, _, _ in told.calls if s == WALKING]) > 30 // budget


def test_corpus_pcapng_walked_in_small_steps(corpus: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted(corpus.glob("*/*.pcapng"))
    plain: dict[Path, CaptureIndex | str] = {}
    for path in paths:
        try:
            plain[path] = read_capture(path)
        except CaptureError as exc:
            plain[path] = str(exc)
    monkeypatch.setattr(pcapng, "WALK_BUDGET", 2)
    for path in paths:
        try:
            index = read_capture(path, stages=Told())
        except CaptureError as exc:
            assert plain[path] == str(exc)
            continue
        before = plain[path]
        assert isinstance(before, CaptureIndex)
        _same(index, before)


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_cancel_at_any_call(bulk: Path, kind: str, tmp_path: Path) -> None:
    path = bulk if kind == "pcap" else _pcapng(tmp_path / "x.pcapng", 3)
    calls = len(_record(path).calls)
    for at in range(1, calls + 1):
        with pytest.raises(Cancelled):
            read_capture(path, stages=Told(at))


def _record(path: Path) -> Told:
    told = Told()
    read_capture(path, stages=told)
    return told
