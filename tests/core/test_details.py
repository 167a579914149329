"""core.details: the details of one segment on the demo, scenarios and corpus replays."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.analysis.explain import DSACK, EXPLANATIONS, INJECTED, UNKNOWN, explain
from core.analysis.verdict import VERDICT_LABELS
from core.capture import read_capture
from core.capture.writer import write_pcap
from core.demo import demo_timeline
from core.details import (
    ReplaySource,
    SegmentDetails,
    hex_cell,
    hex_dump,
    segment_details,
)
from core.replay import replay_stream
from core.simulate.pair import LINK_COPY
from core.simulate.scenarios import SCENARIOS, get
from core.trace import Timeline

T = TypeVar("T")


def value(details: SegmentDetails, name: str) -> str:
    return details.field(name).value


def undump(lines: list[str]) -> bytes:
    """The bytes back from a hex dump (hex cells only)."""
    out = bytearray()
    for line in lines:
        cells = line.split("  ")[1:3]
        out += bytes.fromhex(" ".join(cells))
    return bytes(out)


# ----- explanations ---------------------------------------------------------------------
def test_every_analysis_label_and_simulator_note_has_a_sentence() -> None:
    for name in (*VERDICT_LABELS, DSACK, LINK_COPY, INJECTED, "SYN dropped: accept queue full",
                 "handshake ACK dropped: accept queue full"):
        assert name in EXPLANATIONS, name
        sentence = explain(name)
        assert sentence.endswith(".") and sentence.count(". ") == 0, name


def test_unknown_labels_get_a_fallback() -> None:
    assert explain("something new") == UNKNOWN
    assert "accept queue" in explain("FIN dropped: accept queue full")


def test_every_scenario_label_is_explained_and_every_segment_has_details() -> None:
    for scenario in SCENARIOS:
        timeline = scenario.run()
        for rec in timeline.segments:
            details = segment_details(timeline, rec.index)
            assert [label.name for label in details.labels] == list(rec.labels)
            for label in details.labels:
                assert label.sentence != UNKNOWN, (scenario.name, label.name)
                assert label.analysis == (label.name in VERDICT_LABELS)
            assert details.frame and undump(details.hex_lines()) == details.frame


# ----- the demo (a simulation) ----------------------------------------------------------
def test_demo_hello_segment() -> None:
    timeline = demo_timeline()
    details = segment_details(timeline, 3)
    assert details.title == "Segment 4 · client → server · [P.] seq 1:6 ack 1 win 1023"
    tsval, tsecr = timeline.segments[3].segment.options.timestamp or (0, 0)
    assert details.tcpdump == ("0.020000 IP 10.0.0.1.34694 > 10.0.0.2.5000: Flags [P.], "
                               f"seq 1:6, ack 1, win 1023, options [TS val {tsval} ecr "
                               f"{tsecr}], length 5")
    assert value(details, "Sequence number") == "1"
    assert value(details, "Next sequence number") == "6"
    assert value(details, "Acknowledgment number") == "1"
    assert value(details, "Header length") == "32 bytes (8 words)"  # NOP NOP TS
    assert value(details, "Timestamps") == f"TSval {tsval}, TSecr {tsecr}"
    assert value(details, "Flags") == "0x018 (PSH, ACK)"
    assert value(details, "Push (PSH)") == "set" and value(details, "Syn (SYN)") == "not set"
    assert value(details, "Window") == "1023"
    assert value(details, "Window scale") == "×128 (shift 7)"
    assert value(details, "Calculated window") == "130944 bytes"
    assert value(details, "Payload length") == "5 bytes"
    assert value(details, "One-way delay") == "10.000 ms"
    assert value(details, "States after") == "client ESTABLISHED, server ESTABLISHED"
    start, end = details.field("Payload length").span or (0, 0)
    assert details.frame[start:end] == b"hello"
    seq_start, seq_end = details.field("Sequence number").span or (0, 0)
    assert int.from_bytes(details.frame[seq_start:seq_end]) == timeline.segments[3].segment.seq
    assert "as written to the exported capture" in details.bytes_note
    assert details.labels == ()


def test_demo_syn_options_in_wire_order() -> None:
    details = segment_details(demo_timeline(), 0)
    names = [f.name for f in details.section("Options").fields]
    # Linux's SYN: MSS, SACK-permitted, timestamps (TSecr 0), NOP, window scale
    assert names == ["Maximum segment size", "SACK permitted", "Timestamps",
                     "No-operation (NOP)", "Window scale"]
    assert value(details, "Maximum segment size") == "1460 bytes"
    assert value(details, "Timestamps").endswith(", TSecr 0")
    assert details.section("Options").fields[4].value == "7 (multiply by 128)"
    header = details.section("TCP header").fields
    assert next(f for f in header if f.name == "Window scale").value.startswith("not applied")
    assert value(details, "Acknowledgment number") == "not set (no ACK flag)"


def test_simulated_bytes_are_the_exported_capture(tmp_path: Path) -> None:
    timeline = demo_timeline()
    path = tmp_path / "demo.pcap"
    write_pcap(timeline, path)
    index = read_capture(str(path))
    for rec in timeline.segments:
        details = segment_details(timeline, rec.index)
        frame = int(value(details, "Exported frame"))
        assert index.record_bytes(frame - 1) == details.frame
        assert details.frame_length == len(details.frame)


def test_lost_segment_says_why() -> None:
    timeline = get("retransmission").run()
    lost = next(rec for rec in timeline.segments if rec.lost)
    details = segment_details(timeline, lost.index)
    assert value(details, "Arrived") == "never"
    assert details.field("Arrived").note.startswith("lost: dropped by the")


def test_labels_carry_sentences() -> None:
    timeline = get("fast_retransmit").run()
    rec = next(r for r in timeline.segments if "fast_retransmission" in r.labels)
    details = segment_details(timeline, rec.index)
    by_name = {label.name: label for label in details.labels}
    assert by_name["fast_retransmission"].sentence == explain("fast_retransmission")
    assert by_name["retransmission"].analysis


# ----- hex dump -------------------------------------------------------------------------
@pytest.mark.parametrize("width", [16, 8])
def test_hex_cells_point_at_their_byte(width: int) -> None:
    data = bytes(range(40, 40 + 37))
    lines = hex_dump(data, width)
    assert len(lines) == -(-len(data) // width)
    for offset, byte in enumerate(data):
        line, hex_col, ascii_col = hex_cell(offset, len(data), width)
        assert lines[line][hex_col:hex_col + 2] == f"{byte:02x}"
        assert lines[line][ascii_col] == chr(byte)


def test_hex_dump_classic_layout() -> None:
    lines = hex_dump(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert lines[0] == "0000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  GET / HTTP/1.1.."
    assert lines[1] == "0010  48 6f 73 74 3a 20 78 0d  0a                       Host: x.."


# ----- corpus replays -------------------------------------------------------------------
def pcap_records(path: Path) -> Iterator[bytes]:
    """Each record's captured bytes of a classic little- or big-endian pcap file."""
    data = path.read_bytes()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    pos = 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from(f"{endian}I", data, pos + 8)[0]
        yield data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen


def scale_text(truth: dict[str, Any]) -> str:
    scale = truth["win_scale"]
    if scale is None:
        return "not applied"
    if scale == -1:
        return "unknown"
    if scale == -2:
        return "none"
    return f"×{scale} "


CORPUS_FILES = ["kernel/close_client_first_delayed.pcap", "kernel/loss5_delay20_bulk_server.pcap",
                "kernel/ipv6_basic.pcap", "kernel/zero_window.pcap", "public/bgp-role.pcapng",
                "kernel/simultaneous_close_both_sides.pcapng", "public/pptp.pcap"]


@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_replay_details_match_truth(corpus: Path, name: str) -> None:
    path = corpus / name
    truth = json.loads(path.with_name(path.name.split(".")[0] + ".truth.json").read_text())
    by_frame = {p["frame"]: p for p in truth["packets"]}
    records = list(pcap_records(path)) if path.suffix == ".pcap" else None
    index = read_capture(str(path))
    replay = replay_stream(index, 0)
    source = ReplaySource(index=index, replay=replay)
    timeline = replay.timeline
    picks = sorted({*range(min(12, len(timeline))), *range(12, len(timeline), 97)})
    for i in picks:
        details = segment_details(timeline, i, capture=source)
        frame = timeline.segments[i].frame
        assert frame is not None
        t = by_frame[frame]
        assert details.title.startswith(f"Frame {frame} · ")
        assert t["flags"] in details.title and t["flags"] in details.tcpdump
        assert value(details, "Sequence number") == str(t["seq"])
        assert details.section("TCP header").fields[3].value == str(t["seq_raw"])
        if t["ack"] is not None:
            assert value(details, "Acknowledgment number") == str(t["ack"])
            assert details.section("TCP header").fields[6].value == str(t["ack_raw"])
        assert value(details, "Next sequence number") == str(t["nxtseq"])
        assert value(details, "Window") == str(t["win_raw"])
        assert value(details, "Calculated window") == f"{t['win']} bytes"
        header = {f.name: f.value for f in details.section("TCP header").fields}
        assert header["Window scale"].startswith(scale_text(t)), (frame, header)
        assert value(details, "Payload length") == f"{t['len']} bytes"
        assert value(details, "Capture time") == f"{t['time_relative']:.6f} s"
        assert details.frame_length == t["frame_len"]
        assert len(details.frame) == t["cap_len"]
        if records is not None:
            assert details.frame == records[frame - 1]
        assert undump(details.hex_lines()) == details.frame
        options = {f.name: f.value for f in details.section("Options").fields}
        opts = t.get("options") or {}
        if "mss" in opts:
            assert options["Maximum segment size"] == f"{opts['mss']} bytes"
        if "wscale" in opts:
            assert options["Window scale"].startswith(f"{opts['wscale']} ")
        if "tsval" in opts:
            assert options["Timestamps"] == f"TSval {opts['tsval']}, TSecr {opts['tsecr']}"
        if opts.get("sack_perm"):
            assert options["SACK permitted"] == "yes"
        blocks = [f.value for f in details.section("Options").fields if f.name.startswith("block")]
        assert blocks == [f"{a}–{b}" for a, b in opts.get("sack_blocks", [])]
        values = t.get("analysis_values") or {}
        if "bytes_in_flight" in values:
            assert value(details, "Bytes in flight") == str(values["bytes_in_flight"])
        if "acks_frame" in values:
            assert value(details, "ACKs frame") == str(values["acks_frame"])
        shown = [label.name for label in details.labels]
        assert shown == list(timeline.segments[i].labels)
        if "dup_ack_num" in values and "duplicate_ack" in shown:
            text = next(lb.text for lb in details.labels if lb.name == "duplicate_ack")
            assert text == (f"duplicate_ack #{values['dup_ack_num']} of frame "
                            f"{values['dup_ack_of_frame']}")


@pytest.mark.corpus
def test_merged_capture_names_the_second_sighting(corpus: Path) -> None:
    index = read_capture(str(corpus / "kernel/simultaneous_close_both_sides.pcapng"))
    replay = replay_stream(index, 0)
    details = segment_details(replay.timeline, 0, capture=ReplaySource(index=index,
                                                                          replay=replay))
    assert value(details, "Seen again").startswith("frame 6 at ")
    assert value(details, "Interface") == "0"  # unnamed interfaces go by their id


@pytest.mark.corpus
def test_frame_not_in_the_stream_is_an_error(corpus: Path) -> None:
    index = read_capture(str(corpus / "public/tfo-5c1fa7f9ae91.pcap"))
    first, second = replay_stream(index, 0), replay_stream(index, 1)
    with pytest.raises(ValueError, match="not in stream"):
        segment_details(second.timeline, 0, capture=ReplaySource(index=index, replay=first))


class Recording(Sequence[T]):
    """A sequence that notes which items were read."""

    def __init__(self, inner: Sequence[T]) -> None:
        self.inner = inner
        self.read: set[int] = set()

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            raise AssertionError("a slice of the timeline was read")
        self.read.add(i)
        return self.inner[i]


@pytest.mark.corpus
def test_replay_touches_only_the_one_segment(corpus: Path) -> None:
    index = read_capture(str(corpus / "kernel/loss5_delay20_bulk_server.pcap"))
    replay = replay_stream(index, 0)
    timeline: Timeline = replay.timeline
    segments, rows = Recording(timeline.segments), Recording(timeline.rows)
    timeline.segments, timeline.rows = segments, rows
    details = segment_details(timeline, 1500, capture=ReplaySource(index=index, replay=replay))
    assert segments.read == {1500} and rows.read == {1500}
    assert details.title.startswith(f"Frame {timeline.segments.inner[1500].frame} ")
