"""``analyze_stream(progress=...)`` and ``replay_stream(stages=...)`` (``core.progress``).

Rules checked: the stages come in order, named (a repeated walk numbered), each with
one total (packets for the analysis, events for a walk), ``done`` never going back and
ending at the total; progress changes nothing in the replay (its trace is the same);
``Cancelled`` raised at any call stops the work and leaves the exception as it is; the
fast analysis handing over to the reference never tells less than it had.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from core.analysis import analyze_stream, fast
from core.analysis.inputs import StreamInput, StreamOutput
from core.capture import read_capture
from core.capture.index import CaptureIndex
from core.capture.taps import TapPoint, write_capture
from core.errors import Cancelled
from core.progress import ANALYSING, DOUBTS, REPLAYING, WINDOWS, Progress, split
from core.replay import Replay, replay_stream
from core.replay.trace_stream import write_trace
from core.simulate.scenarios import get
from tests.capture import builders as b
from tests.progress import Told


@pytest.fixture(scope="module")
def bulk(tmp_path_factory: pytest.TempPathFactory) -> CaptureIndex:
    return read_capture(b.bulk_pcap(tmp_path_factory.mktemp("bulk") / "b.pcap", 3000))


def _text(index: CaptureIndex, replay: Replay) -> str:
    out = io.StringIO()
    write_trace(out, index, replay)
    return out.getvalue()


def test_the_stages_of_a_replay(bulk: CaptureIndex) -> None:
    told = Told()
    replay = replay_stream(bulk, 0, stages=told)
    windows = replay.timeline.windows
    assert windows is not None and not windows.ready
    windows.prepare(told(WINDOWS))
    assert windows.ready
    told.check()
    assert told.stages() == [ANALYSING, REPLAYING, WINDOWS]
    n = len(bulk)
    totals = {stage: total for stage, _, total in told.calls}
    assert totals == {ANALYSING: n, REPLAYING: 2 * n, WINDOWS: 2 * n}
    assert len(told.calls) > n // 2048 * 3
    assert _text(bulk, replay) == _text(bulk, replay_stream(bulk, 0))


def test_repeated_walks_are_numbered(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    write_capture(get("time_wait_lost_ack").run({}), str(path), TapPoint.parse("mid"))
    index = read_capture(path)
    told = Told()
    replay = replay_stream(index, 0, stages=told)
    told.check()
    names = told.stages()
    assert names[0] == ANALYSING and split(names[1]) == (REPLAYING, 1)
    assert (REPLAYING, 2) in [split(n) for n in names]
    assert DOUBTS in [split(n)[0] for n in names]
    assert _text(index, replay) == _text(index, replay_stream(index, 0))


def test_cancel_at_any_call(bulk: CaptureIndex) -> None:
    told = Told()
    replay_stream(bulk, 0, stages=told)
    calls = len(told.calls)
    for at in sorted({1, 2, calls // 3, calls // 2, calls - 1, calls}):
        with pytest.raises(Cancelled, match="stopped by the test"):
            replay_stream(bulk, 0, stages=Told(at))


def test_cancel_the_window_series(bulk: CaptureIndex) -> None:
    replay = replay_stream(bulk, 0)
    windows = replay.timeline.windows
    assert windows is not None
    with pytest.raises(Cancelled):
        windows.prepare(Told(3)(WINDOWS))
    assert not windows.ready
    windows.prepare()                       # a later try makes it whole
    assert windows.ready


def test_the_analysis_tells_packets(bulk: CaptureIndex) -> None:
    told = Told()
    analysis = analyze_stream(bulk, 0, progress=told(ANALYSING))
    told.check()
    assert told.calls[-1] == (ANALYSING, len(bulk), len(bulk))
    assert analysis.counts() == analyze_stream(bulk, 0).counts()
    with pytest.raises(Cancelled):
        analyze_stream(bulk, 0, progress=Told(4)(ANALYSING))


def test_the_reference_taking_over_counts_on(bulk: CaptureIndex,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def gives_up(inp: StreamInput, strict: bool, progress: Progress) -> StreamOutput:
        progress(0, len(inp))
        progress(2048, len(inp))
        raise fast.Fallback
    monkeypatch.setattr(fast, "_run", gives_up)
    told = Told()
    analysis = analyze_stream(bulk, 0, progress=told(ANALYSING))
    told.check()
    dones = [done for _, done, _ in told.calls]
    assert 2048 in dones and dones[-1] == len(bulk)      # the reference went on from there
    monkeypatch.undo()
    assert analysis.counts() == reference_counts(bulk)


def reference_counts(index: CaptureIndex) -> dict[str, int]:
    return analyze_stream(index, 0).counts()


def test_the_analysis_of_a_whole_capture_tells_packets(tmp_path: Path) -> None:
    from core.analysis import analyze_capture
    from tests.capture.builders import handshake, pcap
    frames: list[bytes] = []
    for k in range(6):
        frames += handshake(cport=40000 + k)
    path = tmp_path / "six.pcap"
    path.write_bytes(pcap(frames))
    index = read_capture(path)
    told = Told()
    analyses = analyze_capture(index, progress=told(ANALYSING))
    told.check()
    assert told.calls[-1] == (ANALYSING, len(index), len(index))
    assert [a.counts() for a in analyses] == [a.counts() for a in analyze_capture(index)]
    for at in range(1, len(told.calls) + 1):
        with pytest.raises(Cancelled):
            analyze_capture(index, progress=Told(at)(ANALYSING))
