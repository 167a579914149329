"""Issue 11, robustness: timestamp extremes, zero IP lengths (TSO), files that are not
regular files, deep VLAN stacks, counted nouns. Each case reads without a traceback,
keeps what could be read and says what was wrong."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from core.analysis import analyze_stream
from core.capture import read_capture
from core.capture.pcapng import MAX_TIME_NS, to_ns
from core.capture.scalar import MAX_OFFLOAD
from core.errors import CaptureError
from core.replay import replay_stream
from core.replay.report import stream_rows, trace_lines
from core.streams.stream_output import table_lines
from core.streams.stream_table import stream_table
from core.text import counted
from tests.capture import builders as b

NS9 = b.option(9, b"\x09")       # if_tsresol 10^-9


def _pcapng(stamps: list[int], options: bytes = b"") -> bytes:
    frames = b.handshake()
    return b"".join([b.shb(), b.idb(1, options=options),
                     *(b.epb(f, 0, s) for f, s in zip(frames, stamps, strict=True))])


def _everything(path: Path) -> list[str]:
    """What every command does with a capture: index, analysis, replay, report."""
    index = read_capture(path)
    stream_rows(index)
    lines = list(table_lines(stream_table(index)))
    for stream in sorted(set(index.packets["stream"].tolist())):
        replay = replay_stream(index, stream, analyze_stream(index, stream))
        lines += list(trace_lines(index, replay))
    return lines


@pytest.mark.parametrize(("stamps", "options", "outside"), [
    ([9_500_000_000 * 10**6 + i for i in range(5)], b"", 5),          # year 2271 (us)
    ([2**63 - 2000 + 1000 * i for i in range(5)], NS9, 3),              # straddles 2262
    ([10**9, 2**63 + 5, 10**9 + 2, 2**64 - 1, 0], NS9, 2),              # wild jumps
    ([0] * 5, b"", 0),                                                  # all zero
    ([2**64 - 1 - i for i in range(5)], b.option(9, b"\x80"), 5),       # 2^0 s units
    ([2**64 - 1 - i for i in range(5)], b.option(9, b"\xff"), 0),       # 2^-127 s units
    ([2**64 - 1 - i for i in range(5)], b.option(9, b"\x7f"), 0),       # 10^-127 s units
    ([10**6 * i for i in range(5)], b.option(14, struct.pack("<q", 2**62)), 5),
    ([10**6 * i for i in range(5)], b.option(14, struct.pack("<q", -2**62)), 5),
    ([10**6 * i for i in range(5)], b.option(14, struct.pack("<q", -2)), 2),   # pre-1970
])
def test_timestamp_extremes_clamp_with_one_warning(tmp_path: Path, stamps: list[int],
                                                   options: bytes, outside: int) -> None:
    path = tmp_path / "t.pcapng"
    path.write_bytes(_pcapng(stamps, options))
    lines = _everything(path)                      # no OverflowError anywhere
    assert len([line for line in lines if " IP " in line]) == 5
    index = read_capture(path)
    times = index.packets["time_ns"]
    assert bool(np.all((times >= 0) & (times <= MAX_TIME_NS)))
    warned = [w for w in index.warnings if "time outside" in w.message]
    assert len(warned) == (1 if outside else 0)
    if outside:
        assert warned[0].message.startswith(counted(outside, "packet"))


def test_to_ns_is_exact_at_the_ends() -> None:
    stamps = np.array([MAX_TIME_NS, MAX_TIME_NS + 1, 0, 2**64 - 1], np.uint64)
    out, outside = to_ns(stamps, 9, 0)
    assert out.tolist() == [MAX_TIME_NS, MAX_TIME_NS, 0, MAX_TIME_NS]
    assert outside.tolist() == [False, True, False, True]
    out, outside = to_ns(np.array([5, 4], np.uint64), 0, np.array([-5, -5]))
    assert out.tolist() == [0, 0] and outside.tolist() == [False, True]


def _tso_frame(v6: bool = False) -> bytes:
    seg = b.tcp(40000, 80, 101, 901, 0x18, payload=b"hello")
    if v6:
        return b.ether(b.ipv6("2001:db8::1", "2001:db8::2", seg, plen=0), b.ETH_IPV6)
    return b.ether(b.ipv4("10.0.0.1", "10.0.0.2", seg, total=0))


@pytest.mark.parametrize("v6", [False, True])
@pytest.mark.parametrize(("wire", "payload"), [
    (None, 5),                  # the frame as captured
    (1500, 1500 - 54),          # a TSO frame cut by the snap length: tshark's tcp.len
    (20, 5),                    # original length below the captured one
    (0xFFFFFFFF, 5),            # a broken original length: the captured bytes count
    (MAX_OFFLOAD + 1, 5),
])
def test_zero_ip_length_is_tso_never_a_huge_length(tmp_path: Path, v6: bool,
                                                   wire: int | None, payload: int) -> None:
    frame = _tso_frame(v6)
    path = tmp_path / "tso.pcap"
    path.write_bytes(b.pcap([frame if wire is None else (frame, wire)]))
    index = read_capture(path)
    expect = payload - 20 if v6 and wire == 1500 else payload
    assert index.packets["payload_len"].tolist() == [expect]
    assert len(path.read_bytes()) < 200


def test_fifo_is_refused_at_once_and_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.pcap"
    os.mkfifo(fifo)
    result: list[BaseException] = []
    worker = threading.Thread(target=lambda: _catch(fifo, result), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "opening a FIFO blocked"
    assert isinstance(result[0], CaptureError)
    assert "not a regular file" in str(result[0]) and "named pipe" in str(result[0])
    assert str(fifo) in str(result[0])


def _catch(path: Path, out: list[BaseException]) -> None:
    try:
        read_capture(path)
    except BaseException as exc:  # noqa: BLE001 - handed to the test thread
        out.append(exc)


@pytest.mark.parametrize(("path", "what"), [
    ("/dev/zero", "character device"), ("/dev/null", "character device"),
    (".", "directory")])
def test_devices_and_directories_are_not_regular_files(path: str, what: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"no {path} here")
    with pytest.raises(CaptureError) as caught:
        read_capture(path)
    assert "not a regular file" in str(caught.value) and what in str(caught.value)
    assert "empty" not in str(caught.value)


def test_empty_file_name() -> None:
    with pytest.raises(CaptureError, match="the file name is empty"):
        read_capture("")


def test_record_bytes_never_blocks_on_a_fifo_put_in_place(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    path.write_bytes(b.pcap(b.handshake()))
    index = read_capture(path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(CaptureError, match="named pipe"):
        index.record_bytes(0)


@pytest.mark.parametrize("tags", [1, 3, 8, 9, 20])
def test_stacked_vlan_tags_decode_to_tsharks_depth(tmp_path: Path, tags: int) -> None:
    frame = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(payload=b"hi")),
                    vlans=[(0x8100, 0x88A8, 0x9100)[k % 3] for k in range(tags)])
    path = tmp_path / "v.pcap"
    path.write_bytes(b.pcap([frame]))
    index = read_capture(path)
    assert len(index) == 1 and index.packets["payload_len"].tolist() == [2]
    assert index.warnings == []


@pytest.mark.parametrize("tags", [21, 400, 5000])
def test_deeper_vlan_stacks_are_reported_not_silent(tmp_path: Path, tags: int) -> None:
    frame = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp()), vlans=[0x8100] * tags)
    path = tmp_path / "v.pcap"
    path.write_bytes(b.pcap([frame]))
    index = read_capture(path)
    assert len(index) == 0 and index.non_tcp == 1
    assert [w.message for w in index.warnings] == [
        "1 frame with more than 20 stacked VLAN tags (not decoded, as in tshark); "
        "the first is frame 1"]


def test_a_vlan_stack_cut_by_the_frame_is_malformed(tmp_path: Path) -> None:
    frame = b.ether(b"", vlans=[0x8100] * 30)[:14 + 4 * 12]
    path = tmp_path / "v.pcap"
    path.write_bytes(b.pcap([frame]))
    assert read_capture(path).malformed == 1


def test_counted_nouns() -> None:
    assert counted(1, "byte") == "1 byte"
    assert counted(0, "byte") == "0 bytes"
    assert counted(1024, "frame", sep=",") == "1,024 frames"
    assert counted(2, "IP fragment", "IP fragments") == "2 IP fragments"


def test_no_one_bytes_in_capture_messages(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    path.write_bytes(b.pcap(b.handshake()) + b"\x00")      # one stray byte
    messages = [w.message for w in read_capture(path).warnings]
    assert messages == ["the file ends inside a record header (1 stray byte after record 5)"]
