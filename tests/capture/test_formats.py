"""pcap and pcapng framing: magic variants, interfaces, resolutions, warnings and errors."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from core.capture import CaptureIndex, read_capture
from core.errors import CaptureError
from tests.capture import builders as b

FRAMES = b.handshake()
V4 = b.ipv4("10.0.0.1", "10.0.0.2", b.tcp())


def write(tmp_path: Path, data: bytes, name: str = "t.cap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read(tmp_path: Path, data: bytes) -> CaptureIndex:
    return read_capture(write(tmp_path, data))


def error(tmp_path: Path, data: bytes) -> CaptureError:
    path = write(tmp_path, data)
    with pytest.raises(CaptureError) as info:
        read_capture(path)
    assert info.value.path == str(path)
    return info.value


# --- pcap ---------------------------------------------------------------------------------

@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_magic_variants(tmp_path: Path, big: bool, nano: bool) -> None:
    ix = read(tmp_path, b.pcap(FRAMES, big=big, nano=nano))
    assert (ix.format, ix.frames, len(ix)) == ("pcap", 5, 5)
    assert list(ix.packets["stream"]) == [0] * 5
    # record i is at second start + i, fraction 250 * i (us or ns)
    unit = 1 if nano else 1000
    assert [int(t) for t in ix.packets["time_ns"]] == \
        [(1_600_000_000 + i) * 10**9 + 250 * i * unit for i in range(5)]
    assert ix.interfaces[0].ts_resolution == ("1e-9" if nano else "1e-6")
    assert ix.record_bytes(3) == FRAMES[3]


def test_pcap_link_type_with_fcs_bits(tmp_path: Path) -> None:
    ix = read(tmp_path, b.pcap([V4], link_field=0x30000000 | 101))
    assert ix.link_types == (101,) and len(ix) == 1


def test_pcap_cut_mid_record_keeps_whole_records(tmp_path: Path) -> None:
    data = b.pcap(FRAMES)
    cut = len(data) - 10
    ix = read(tmp_path, data[:cut])
    assert len(ix) == 4
    (warning,) = ix.warnings
    start = len(b.pcap(FRAMES[:4]))
    assert warning.offset == start and f"from byte {start}" in warning.message


def test_pcap_cut_inside_a_record_header(tmp_path: Path) -> None:
    data = b.pcap(FRAMES[:2]) + bytes(7)
    ix = read(tmp_path, data)
    assert len(ix) == 2 and "7 stray bytes" in str(ix.warnings[0])


def test_pcap_header_only_is_an_empty_index(tmp_path: Path) -> None:
    ix = read(tmp_path, b.pcap([]))
    assert (len(ix), ix.frames, ix.warnings) == (0, 0, [])


@pytest.mark.parametrize("data, offset, words", [
    (b"", 0, "empty"),
    (b"\xd4\xc3", 0, "too short"),
    (b"\xd4\xc3\xb2\xa1" + bytes(10), 14, "pcap file header"),
    (b"GIF89a" + bytes(40), 0, "not a pcap or pcapng"),
    (struct.pack("<IHHiIII", 0xA1B2C3D4, 3, 0, 0, 0, 65535, 1), 4, "version 3.0"),
    (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147), 20, "link type 147"),
])
def test_pcap_header_errors(tmp_path: Path, data: bytes, offset: int, words: str) -> None:
    exc = error(tmp_path, data)
    assert exc.offset == offset and words in exc.problem


def test_pcap_record_over_the_snap_length_is_an_error(tmp_path: Path) -> None:
    data = b.pcap(FRAMES, snaplen=50)
    exc = error(tmp_path, data)
    assert exc.offset == 24 and "snap length 50" in exc.problem


def test_pcap_record_over_256_kib_is_an_error(tmp_path: Path) -> None:
    data = bytearray(b.pcap(FRAMES, snaplen=0))
    second = 24 + 16 + len(FRAMES[0])
    struct.pack_into("<I", data, second + 8, 300_000)
    exc = error(tmp_path, bytes(data))
    assert exc.offset == second and "262144" in exc.problem and "record 2" in exc.problem


# --- pcapng -------------------------------------------------------------------------------

def ng(*blocks: bytes) -> bytes:
    return b"".join(blocks)


@pytest.mark.parametrize("big", [False, True])
def test_pcapng_byte_orders(tmp_path: Path, big: bool) -> None:
    data = ng(b.shb(big), b.idb(big=big), *(b.epb(f, stamp=10**6 * i, big=big)
                                            for i, f in enumerate(FRAMES)))
    ix = read(tmp_path, data)
    assert (ix.format, len(ix)) == ("pcapng", 5)
    assert [int(t) for t in ix.packets["time_ns"]] == [10**9 * i for i in range(5)]
    assert ix.record_bytes(4) == FRAMES[4]


def test_pcapng_interfaces_link_types_and_resolutions(tmp_path: Path) -> None:
    sll_frame = b.sll(V4)
    data = ng(
        b.shb(),
        b.idb(1),                                                   # 0: ether, default 1e-6
        b.idb(113, options=b.option(9, b"\x09") + b.option(2, b"eth1\0")),   # 1: ns
        b.idb(101, options=b.option(9, b"\x8a") + b.option(14, struct.pack("<q", 100))),
        b.block(0x0BAD, b"custom block, skipped"),
        b.epb(FRAMES[0], 0, 1_500_000),
        b.epb(sll_frame, 1, 1_500_000_123),
        b.epb(V4, 2, 3 * 1024 + 512),                               # 2^-10 s units, +100 s
        b.block(5, bytes(16)),                                      # ISB: skipped
        b.opb(FRAMES[1], 0, 2_000_000),
        b.spb(FRAMES[2]),
    )
    ix = read(tmp_path, data)
    assert ix.link_types == (1, 113, 101)
    assert ix.interfaces[1].name == "eth1" and ix.interfaces[1].ts_resolution == "1e-9"
    assert ix.interfaces[2].ts_resolution == "2^-10"
    assert list(ix.packets["interface"]) == [0, 1, 2, 0, 0]
    assert [int(t) for t in ix.packets["time_ns"]] == [
        1_500_000_000, 1_500_000_123, 103_500_000_000, 2_000_000_000, 0]
    assert [ix.record_bytes(i) for i in range(5)] == [FRAMES[0], sll_frame, V4, FRAMES[1],
                                                      FRAMES[2]]
    assert list(ix.packets["frame"]) == [1, 2, 3, 4, 5]


def test_pcapng_sections_of_both_byte_orders(tmp_path: Path) -> None:
    data = ng(b.shb(False), b.idb(1), b.epb(FRAMES[0]),
              b.shb(True), b.idb(101, big=True), b.epb(V4, 0, 7, big=True),
              b.shb(False), b.idb(113), b.idb(1), b.epb(FRAMES[1], 1))
    ix = read(tmp_path, data)
    assert ix.link_types == (1, 101, 113, 1)
    assert list(ix.packets["interface"]) == [0, 1, 3]
    assert ix.record_bytes(1) == V4


def test_pcapng_spb_uses_the_snap_length(tmp_path: Path) -> None:
    data = ng(b.shb(), b.idb(1, snaplen=56), b.spb(FRAMES[3][:56], wire=len(FRAMES[3])))
    ix = read(tmp_path, data)
    assert len(ix) == 1
    assert (int(ix.packets[0]["caplen"]), int(ix.packets[0]["payload_len"])) == (56, 5)
    assert ix.record_bytes(0) == FRAMES[3][:56]


def test_pcapng_unknown_link_type_is_a_warning(tmp_path: Path) -> None:
    data = ng(b.shb(), b.idb(147), b.idb(1), b.epb(bytes(30), 0), b.epb(FRAMES[0], 1))
    ix = read(tmp_path, data)
    assert (len(ix), ix.unsupported, ix.frames) == (1, 1, 2)
    assert "unknown link type 147" in str(ix.warnings[0])
    assert int(ix.packets[0]["frame"]) == 2


def test_pcapng_cut_mid_block(tmp_path: Path) -> None:
    data = ng(b.shb(), b.idb(), *(b.epb(f) for f in FRAMES))
    ix = read(tmp_path, data[:-20])
    assert len(ix) == 4
    assert "ends inside a block" in str(ix.warnings[0])
    ix = read(tmp_path, data + b"\x06\x00\x00")
    assert len(ix) == 5 and "3 stray bytes" in str(ix.warnings[0])


def test_pcapng_error_offsets(tmp_path: Path) -> None:
    good = ng(b.shb(), b.idb(), b.epb(FRAMES[0]))
    epb_at = len(b.shb()) + len(b.idb())
    cases = []
    bad_trailer = bytearray(good)
    struct.pack_into("<I", bad_trailer, len(good) - 4, 999)
    cases.append((bytes(bad_trailer), epb_at, "trailing block length 999"))
    odd = bytearray(good)
    struct.pack_into("<I", odd, epb_at + 4, 33)
    cases.append((bytes(odd), epb_at, "not a multiple of 4"))
    huge = bytearray(good)
    struct.pack_into("<I", huge, epb_at + 20, 5000)
    cases.append((bytes(huge), epb_at, "more than its length"))
    cases.append((ng(b.shb(), b.epb(FRAMES[0])), len(b.shb()), "interface 0"))
    cases.append((ng(b.shb(), b.idb(), b.epb(FRAMES[0], 1)), epb_at, "interface 1"))
    bom = bytearray(good)
    bom[8:12] = b"\x01\x02\x03\x04"
    cases.append((bytes(bom), 8, "byte-order magic"))
    cases.append((good[:20], 0, "section header block"))
    version = bytearray(good)
    struct.pack_into("<H", version, 12, 2)
    cases.append((bytes(version), 12, "pcapng version 2"))
    short_idb = ng(b.shb(), b.block(1, b"\x01\x00"), b.epb(FRAMES[0]))
    cases.append((short_idb, len(b.shb()), "shorter than its fixed fields"))
    bad_opt = ng(b.shb(), b.block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 9, 99)))
    cases.append((bad_opt, len(b.shb()) + 16, "runs past its block"))
    for data, offset, words in cases:
        exc = error(tmp_path, data)
        assert (exc.offset, words in exc.problem) == (offset, True), exc


def test_error_message_names_file_offset_and_problem(tmp_path: Path) -> None:
    exc = error(tmp_path, b"not a capture at all")
    assert str(exc).startswith(f"{tmp_path / 't.cap'}: at byte 0: not a pcap")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(tmp_path / "nope.pcap")


def test_size_limit(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="over the 100-byte limit"):
        read_capture(write(tmp_path, b.pcap(FRAMES)), max_bytes=100)


def test_many_sections_stay_linear(tmp_path: Path) -> None:
    """4000 sections (half switching byte order): read fast, interfaces numbered in order."""
    parts = []
    for i in range(4000):
        big = i % 4 in (2, 3)
        parts += [b.shb(big), b.idb(1, big=big), b.epb(FRAMES[i % 5], 0, i, big=big)]
    path = write(tmp_path, ng(*parts))
    start = time.perf_counter()
    ix = read_capture(path)
    assert time.perf_counter() - start < 2.0
    assert (len(ix), len(ix.interfaces)) == (4000, 4000)
    assert list(ix.packets["interface"][:5]) == [0, 1, 2, 3, 4]
    assert ix.record_bytes(3999) == FRAMES[3999 % 5]


def test_too_many_interfaces(tmp_path: Path) -> None:
    exc = error(tmp_path, ng(b.shb(), *([b.idb()] * 65536)))
    assert "more than 65535 interfaces" in exc.problem
    assert exc.offset == len(b.shb()) + 65535 * len(b.idb())
