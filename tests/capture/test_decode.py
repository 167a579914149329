"""Link layers, IP variants and TCP header fields, one hand-made frame at a time."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np
import pytest

from core.capture import (
    INFO_BAD_DOFF,
    INFO_NO_SEGLEN,
    INFO_OPTIONS_CUT,
    INFO_PAYLOAD_CUT,
    CaptureIndex,
    read_capture,
)
from core.capture.decode import decode_frames
from core.capture.scalar import C_TCP, decode_frame
from tests.capture import builders as b

SEG = b.tcp(5555, 443, seq=0x01020304, ack=0xA0B0C0D0, flags=0x18, window=0x1234,
            payload=b"data!")
V4 = b.ipv4("192.0.2.1", "198.51.100.7", SEG)
V6 = b.ipv6("2001:db8::1", "2001:db8::2", SEG)


def read_frames(tmp_path: Path, frames: list[bytes | tuple[bytes, int]], link: int = 1,
                **kw: object) -> CaptureIndex:
    path = tmp_path / "t.pcap"
    path.write_bytes(b.pcap(frames, link=link, **kw))  # type: ignore[arg-type]
    return read_capture(path)


def arcnet(payload: bytes, proto: int = 212, exception: bool = False) -> bytes:
    head = bytes([1, 2, 0, 0, proto])
    if proto == 240:
        return head + payload
    return head + (b"\xff\x00\x00\x00\x00\x00\x00" if exception else b"\x00\x00\x00") + payload


LINK_CASES = {
    "ether": (1, b.ether(V4), 14, 4),
    "ether6": (1, b.ether(V6, b.ETH_IPV6), 14, 6),
    "dot1q": (1, b.ether(V4, vlans=[0x8100]), 18, 4),
    "qinq": (1, b.ether(V4, vlans=[0x88A8, 0x8100]), 22, 4),
    "9100": (1, b.ether(V6, b.ETH_IPV6, vlans=[0x9100, 0x8100]), 22, 6),
    "three-tags": (1, b.ether(V4, vlans=[0x88A8, 0x8100, 0x8100]), 26, 4),
    "llc-snap": (1, bytes(12) + struct.pack("!H", 8 + len(V4))
                 + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + V4, 22, 4),
    "sll": (113, b.sll(V4), 16, 4),
    "sll6": (113, b.sll(V6, b.ETH_IPV6), 16, 6),
    "sll-vlan": (113, b.sll(struct.pack("!HH", 7, 0x0800) + V4, 0x8100), 20, 4),
    "sll2": (276, b.sll2(V4), 20, 4),
    "sll2-6": (276, b.sll2(V6, b.ETH_IPV6), 20, 6),
    "raw4": (101, V4, 0, 4),
    "raw6": (101, V6, 0, 6),
    "raw12": (12, V4, 0, 4),
    "raw14": (14, V6, 0, 6),
    "ipv4": (228, V4, 0, 4),
    "ipv6": (229, V6, 0, 6),
    "null": (0, b.null(V4, 2), 4, 4),
    "null-swapped": (0, b.null(V4, 2, ">"), 4, 4),
    "null-bsd6": (0, b.null(V6, 24), 4, 6),
    "null-freebsd6": (0, b.null(V6, 28), 4, 6),
    "null-darwin6": (0, b.null(V6, 30), 4, 6),
    "loop": (108, b.null(V4, 2, ">"), 4, 4),
    "loop6": (108, b.null(V6, 24, ">"), 4, 6),
    "arcnet": (129, arcnet(V4), 8, 4),
    "arcnet-1051": (129, arcnet(V4, 240), 5, 4),
    "arcnet-exception": (129, arcnet(V4, exception=True), 12, 4),
    "arcnet6": (129, arcnet(V6, 0xC4), 8, 6),
}


@pytest.mark.parametrize("name", LINK_CASES)
def test_link_types(tmp_path: Path, name: str) -> None:
    link, frame, l3, version = LINK_CASES[name]
    ix = read_frames(tmp_path, [frame], link=link)
    assert len(ix) == 1 and ix.non_tcp == 0 and ix.malformed == 0
    row = ix.packets[0]
    ip_len = 20 if version == 4 else 40
    assert int(row["tcp_offset"]) == l3 + ip_len
    assert (int(row["sport"]), int(row["dport"])) == (5555, 443)
    assert (int(row["seq"]), int(row["ack"])) == (0x01020304, 0xA0B0C0D0)
    assert (int(row["flags"]), int(row["window"])) == (0x18, 0x1234)
    assert (int(row["payload_len"]), int(row["tcp_hdr_len"])) == (5, 20)
    assert int(row["ip_version"]) == version
    expected = ("192.0.2.1", "198.51.100.7") if version == 4 else ("2001:db8::1", "2001:db8::2")
    assert (ix.addresses[row["src"]], ix.addresses[row["dst"]]) == expected
    assert ix.tcp_header_bytes(0) == SEG[:20]
    assert ix.record_bytes(0) == frame


def test_null_link_in_a_big_endian_file(tmp_path: Path) -> None:
    ix = read_frames(tmp_path, [b.null(V4, 2, ">"), b.null(V6, 30, ">")], link=0, big=True)
    assert list(ix.packets["ip_version"]) == [4, 6]


@pytest.mark.parametrize("options", [4, 8, 20, 40])
def test_ipv4_options(tmp_path: Path, options: int) -> None:
    frame = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", SEG, options=b"\x01" * options))
    row = read_frames(tmp_path, [frame]).packets[0]
    assert int(row["tcp_offset"]) == 14 + 20 + options
    assert int(row["payload_len"]) == 5 and int(row["seq"]) == 0x01020304


def frag6(offset: int, more: bool) -> tuple[int, bytes]:
    return 44, b"\0" + struct.pack("!HI", (offset << 3) | int(more), 77)


@pytest.mark.parametrize("ext, tcp_at", [
    ([(0, b"")], 48), ([(43, b"\0\0")], 48), ([(60, b"\1" * 12)], 56),
    ([frag6(0, False)], 48), ([(0, b""), (60, b""), (51, b"")], 68),
])
def test_ipv6_extension_headers(tmp_path: Path, ext: list[tuple[int, bytes]],
                                tcp_at: int) -> None:
    frame = b.ether(b.ipv6("2001:db8::1", "2001:db8::2", SEG, ext=ext), b.ETH_IPV6)
    ix = read_frames(tmp_path, [frame])
    assert len(ix) == 1
    assert int(ix.packets[0]["tcp_offset"]) == 14 + tcp_at
    assert int(ix.packets[0]["payload_len"]) == 5


def test_fragments_are_counted_not_read_as_tcp(tmp_path: Path) -> None:
    frames = [
        b.ether(b.ipv4("10.0.0.1", "10.0.0.2", SEG, frag=0x2000)),          # MF, offset 0
        b.ether(b.ipv4("10.0.0.1", "10.0.0.2", SEG, frag=0x0010)),          # offset != 0
        b.ether(b.ipv6("2001:db8::1", "2001:db8::2", SEG, ext=[frag6(0, True)]), b.ETH_IPV6),
        b.ether(b.ipv6("2001:db8::1", "2001:db8::2", SEG, ext=[frag6(8, False)]), b.ETH_IPV6),
        b.ether(b.ipv4("10.0.0.1", "10.0.0.2", SEG, frag=0x4000)),          # DF only: TCP
    ]
    ix = read_frames(tmp_path, frames)
    assert (len(ix), ix.fragments, ix.non_tcp) == (1, 4, 0)
    assert int(ix.packets[0]["frame"]) == 5
    assert any("4 IP fragments" in str(w) for w in ix.warnings)


def test_non_tcp_is_counted_and_skipped(tmp_path: Path) -> None:
    frames = [
        b.ether(bytes(28), 0x0806),                                          # ARP
        b.ether(b.ipv4("10.0.0.1", "10.0.0.2", bytes(16), proto=17)),       # UDP
        b.ether(b.ipv4("10.0.0.1", "10.0.0.2", bytes(16), proto=1)),        # ICMP
        b.ether(b.ipv6("::1", "::1", bytes(16), nh=58), b.ETH_IPV6),        # ICMPv6
        b.ether(b.ipv6("::1", "::1", b"", nh=59), b.ETH_IPV6),              # no next header
        b.ether(V4),
    ]
    ix = read_frames(tmp_path, frames)
    assert (len(ix), ix.non_tcp, ix.frames) == (1, 5, 6)


def test_snaplen_cut_keeps_header_fields_and_ip_lengths(tmp_path: Path) -> None:
    big_seg = b.tcp(1, 2, 7, 8, 0x10, options=b"\x01" * 12, payload=bytes(1400))
    frame = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", big_seg))
    frames: list[bytes | tuple[bytes, int]] = [
        (frame[:80], len(frame)),               # headers whole, payload cut
        (frame[:60], len(frame)),               # options cut
        (frame[:50], len(frame)),               # TCP header cut: not indexed
    ]
    ix = read_frames(tmp_path, frames, snaplen=80)
    assert (len(ix), ix.truncated) == (2, 1)
    first, second = ix.packets
    assert int(first["payload_len"]) == 1400 and int(second["payload_len"]) == 1400
    assert first["info"] == INFO_PAYLOAD_CUT
    assert second["info"] == INFO_PAYLOAD_CUT | INFO_OPTIONS_CUT
    assert int(first["caplen"]) == 80 and int(second["seq"]) == 7


def test_tso_total_length_zero_uses_the_frame(tmp_path: Path) -> None:
    frame = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(payload=bytes(3000)), total=0))
    assert int(read_frames(tmp_path, [frame]).packets[0]["payload_len"]) == 3000


def test_ethernet_padding_and_overlong_ip_length(tmp_path: Path) -> None:
    padded = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(flags=0x10))) + bytes(6)
    overlong = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(payload=b"abc"), total=500))
    ix = read_frames(tmp_path, [padded, overlong])
    assert list(ix.packets["payload_len"]) == [0, 3]


def test_flags_all_nine_bits_and_bad_data_offset(tmp_path: Path) -> None:
    frames = [b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(flags=0x1FF))),
              b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(flags=0x02, doff=3)))]
    ix = read_frames(tmp_path, frames)
    assert int(ix.packets[0]["flags"]) == 0x1FF
    assert int(ix.packets[1]["info"]) & INFO_BAD_DOFF
    assert int(ix.packets[1]["tcp_hdr_len"]) == 12


def test_ip_length_shorter_than_tcp_header(tmp_path: Path) -> None:
    seg = b.tcp(options=b"\x01" * 20)
    frame = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", seg, total=20 + 24))
    row = read_frames(tmp_path, [frame]).packets[0]
    assert int(row["info"]) & INFO_NO_SEGLEN and int(row["payload_len"]) == 0


@pytest.mark.parametrize("frame", [
    b.ether(b"\x65" + V4[1:]),                                   # IPv4 ethertype, version 6
    b.ether(b"\x44" + V4[1:]),                                   # IHL 4
    b.ether(b.ipv4("10.0.0.1", "10.0.0.2", SEG, total=12)),      # total < IHL
    b.ether(b.ipv4("10.0.0.1", "10.0.0.2", SEG, total=30)),      # no room for TCP
    b.ether(V4)[:20],                                            # IP header not captured
    b.ether(V4)[:10],                                            # Ethernet header cut
])
def test_malformed_frames_are_counted(tmp_path: Path, frame: bytes) -> None:
    ix = read_frames(tmp_path, [frame, b.ether(V4)])
    assert (len(ix), ix.malformed) == (1, 1)


def test_raw_link_with_wrong_version_is_malformed(tmp_path: Path) -> None:
    ix = read_frames(tmp_path, [V4, V6], link=229)
    assert (len(ix), ix.malformed) == (1, 1)


def _variants() -> list[tuple[int, bytes]]:
    frames = [(link, frame) for link, frame, _l3, _v in LINK_CASES.values()]
    frames += [(1, b.ether(b.ipv6("2001:db8::1", "2001:db8::2", SEG, ext=[(0, b""), e])))
               for e in ((60, b""), frag6(0, False), frag6(1, True), (51, b""))]
    frames += [(1, b.ether(b.ipv4("10.0.0.1", "10.0.0.2", SEG, options=b"\x01" * 8)))]
    return frames


def test_vectorized_decoder_matches_the_scalar_one() -> None:
    """Random cuts and byte flips of every layout: both decoders say the same thing."""
    rnd = random.Random(1234)
    cases: list[tuple[int, bytes, int]] = []
    for link, frame in _variants():
        for _ in range(150):
            data = bytearray(frame)
            for _ in range(rnd.choice((0, 0, 1, 2))):
                data[rnd.randrange(min(len(data), 80))] = rnd.randrange(256)
            cut = rnd.choice((len(data), rnd.randrange(len(data) + 1)))
            cases.append((link, bytes(data[:cut]), len(data) + rnd.choice((0, 0, 7, -3))))
    for link in sorted({c[0] for c in cases}):
        mine = [c for c in cases if c[0] == link]
        blob = b"".join(c[1] for c in mine) + bytes(200)
        offsets = np.cumsum([0] + [len(c[1]) for c in mine[:-1]]).astype(np.int64)
        caplen = np.array([len(c[1]) for c in mine], np.int64)
        wirelen = np.maximum(np.array([c[2] for c in mine], np.int64), caplen)
        dec = decode_frames(np.frombuffer(blob, np.uint8), offsets, caplen, wirelen, link,
                            False)
        tcp_rows = {int(r): k for k, r in enumerate(dec.rows)}
        for i, (_link, data, wire) in enumerate(mine):
            info = decode_frame(data, link, max(wire, len(data)), False)
            assert int(dec.cls[i]) == info.cls, (link, data.hex())
            if info.cls == C_TCP:
                k = tcp_rows[i]
                assert (int(dec.tcp[k]), int(dec.seg_len[k]), int(dec.version[k])) == \
                    (info.tcp, info.seg_len, info.version)
                src = dec.src4[k].tobytes()[::-1] if info.version == 4 else dec.src6[k].tobytes()
                assert src == info.src
                assert dec.header[k].tobytes() == data[info.tcp:info.tcp + 20]
