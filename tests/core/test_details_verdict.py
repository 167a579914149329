"""The details of a segment where SynAck's verdict and tshark's labels differ, and of a
D-SACK: both sayings, the reason, and the SACK block named for what it reports."""

from __future__ import annotations

from pathlib import Path

from core.analysis.explain import DSACK, explain
from core.capture import read_capture
from core.details import ReplaySource, SegmentDetails, segment_details
from core.replay import replay_stream
from core.simulate.scenarios import get
from tests.analysis import verdict_captures as vc


def dsack_details(folder: Path, segment: int) -> SegmentDetails:
    index = read_capture(str(vc.dsack(folder)))
    replay = replay_stream(index, 0)
    return segment_details(replay.timeline, segment,
                           capture=ReplaySource(index=index, replay=replay))


def test_dsack_block_reports_bytes_that_arrived_twice(tmp_path: Path) -> None:
    details = dsack_details(tmp_path, 7)                    # frame 8: the D-SACK
    sack = details.field("SACK")
    assert sack.value == "1 block(s), the first a D-SACK"
    assert "arrived twice (RFC 2883)" in sack.note
    assert "beyond the ACK number" not in sack.note
    block = details.field("block 1 (D-SACK)")
    assert block.value == "101–201"                         # relative to the client's ISS
    assert block.note == f"raw 201–301: {explain(DSACK)}"
    assert "arrived twice" in explain(DSACK)
    assert details.verdict is None                          # the ACK's labels agree


def test_ordinary_sack_blocks_are_beyond_the_ack(tmp_path: Path) -> None:
    index = read_capture(str(vc.dsack(tmp_path, block=(301, 401))))
    replay = replay_stream(index, 0)
    details = segment_details(replay.timeline, 7, capture=ReplaySource(index=index,
                                                                        replay=replay))
    assert details.field("SACK").value == "1 block(s)"
    assert details.field("SACK").note.startswith("bytes received beyond the ACK number")
    assert details.field("block 1").value == "201–301"


def test_spurious_retransmission_shows_both_sayings(tmp_path: Path) -> None:
    details = dsack_details(tmp_path, 6)                    # frame 7: the retransmission
    assert details.verdict is not None
    assert details.verdict.tshark == "retransmission"
    assert details.verdict.synack == "retransmission, spurious_retransmission"
    assert details.verdict.why[0].startswith("Frame 8 carries a D-SACK (RFC 2883)")
    assert [label.name for label in details.labels] == ["retransmission",
                                                        "spurious_retransmission"]


def test_simulated_fin_reack_shows_both_sayings() -> None:
    timeline = get("time_wait_lost_ack").run()
    reack = timeline.segments[12]                           # the client's second ACK
    assert reack.labels == ("fin_reack",)
    details = segment_details(timeline, 12)
    assert details.verdict is not None
    assert (details.verdict.tshark, details.verdict.synack) == ("duplicate_ack", "fin_reack")
    assert "Frame 12 repeated the FIN of frame 10" in details.verdict.why[0]
    assert details.labels[0].sentence == explain("fin_reack")
    assert details.labels[0].analysis


def test_simulated_simultaneous_open() -> None:
    timeline = get("simultaneous_open").run()
    for index in (2, 3):
        details = segment_details(timeline, index)
        assert details.verdict is not None
        assert (details.verdict.tshark, details.verdict.synack) == ("retransmission",
                                                                    "simultaneous_open")
    assert segment_details(timeline, 0).verdict is None
