"""Write a Timeline as a real capture: Ethernet / IPv4 or IPv6 / TCP, pcap or pcapng.

The capture is what a tap next to one side (``at``, the client by default) would record
(:func:`captured_view`): that side's segments when sent, the peer's when they arrive
(never, if lost on the way). A copy the link made of ``at``'s own segment is made after
the tap, so the tap sees that segment once; copies of the peer's segments arrive twice.
Taps elsewhere on the path, and at both ends at once (pcapng, one interface per tap),
are :mod:`core.capture.taps`; it writes through :func:`write_pcapng` here.

Invariants:
- Frame ``k`` (1-based) of the file is ``captured_view(timeline, at)[k - 1]``.
- pcapng: one section (little-endian), one Ethernet interface per tap (``if_name``,
  microsecond times), one Enhanced Packet Block per frame, in the order given.
- Headers are built here with ``struct``; IP and TCP checksums are correct whenever the
  whole frame is written. With ``snaplen`` each frame is cut after that many bytes (as
  ``tcpdump -s``); the IP lengths still give the full size, and the TCP checksum of a
  cut frame is left 0 (no tool can check it without the payload).
- TCP options are written in the order Linux uses, padded with EOL to 4-byte words.
- Times are microseconds from a fixed start (:data:`EPOCH`), so captures are reproducible.
"""

from __future__ import annotations

import ipaddress
import os
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence

from core.errors import SynAckError
from core.report import as_captured, initial_numbers
from core.simulate.pair import LINK_COPY
from core.tcp.payload import fill
from core.tcp.segment import SEQ_MOD, Options, Segment
from core.tcp.states import Side
from core.trace import SegmentRecord, Timeline

EPOCH = 1_795_000_000  # a fixed, recent-looking start time (seconds since 1970)
_MAC = {Side.CLIENT: bytes.fromhex("020000000001"), Side.SERVER: bytes.fromhex("020000000002")}
_PCAP_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_TCP = struct.Struct("!HHIIHHHH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_LINKTYPE_ETHERNET = 1
_SNAPLEN = 262144
_BLOCK = struct.Struct("<II")  # block type, total length
_EPB = struct.Struct("<IIIII")  # interface, time high, time low, captured, original length


def captured_view(timeline: Timeline, at: Side = Side.CLIENT) -> list[tuple[float, SegmentRecord]]:
    """The segments a tap next to ``at`` records, in capture order, with their times."""
    return [(time, rec) for time, rec in as_captured(timeline, at)
            if not (rec.sender is at and LINK_COPY in rec.labels)]


def _options(options: Options) -> bytes:
    """Linux's layout (tcp_options_write): MSS; SACK-permitted and TS in one word, or
    NOP NOP TS, or NOP NOP SACK-permitted; NOP window scale; NOP NOP SACK blocks."""
    out = bytearray()
    if options.mss is not None:
        out += struct.pack("!BBH", 2, 4, options.mss)
    if options.timestamp is not None:
        out += b"\x04\x02" if options.sack_permitted else b"\x01\x01"
        out += struct.pack("!BBII", 8, 10, *options.timestamp)
    elif options.sack_permitted:
        out += b"\x01\x01\x04\x02"
    if options.wscale is not None:
        out += struct.pack("!BBBB", 1, 3, 3, options.wscale)
    if options.sack_blocks:
        blocks = [n for block in options.sack_blocks for n in block]
        out += struct.pack(f"!BBBB{len(blocks)}I", 1, 1, 5, 2 + 4 * len(blocks), *blocks)
    return bytes(out + b"\x00" * (-len(out) % 4))


def _sum16(data: bytes) -> int:
    """The 16-bit one's complement sum of ``data`` in network order (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    words = array("H", data)
    if sys.byteorder == "little":
        words.byteswap()
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _checksum(*parts: bytes) -> int:
    total = sum(_sum16(part) for part in parts)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class _Direction:
    """What every frame from one side shares: link header, addresses, pseudo-header."""

    def __init__(self, timeline: Timeline, sender: Side, iss: int = 0) -> None:
        src, dst = timeline.peer(sender), timeline.peer(sender.peer)
        self.iss = iss  # where the sender's bytes start: a payload is filled from there
        self.ports = (src.port, dst.port)
        self.src = ipaddress.ip_address(src.address).packed
        self.dst = ipaddress.ip_address(dst.address).packed
        self.v4 = len(self.src) == 4
        if len(self.dst) != len(self.src):
            raise SynAckError(f"cannot write IPv{4 if self.v4 else 6} {src.address} to "
                              f"{dst.address} in one capture")
        ethertype = 0x0800 if self.v4 else 0x86DD
        self.ether = _MAC[sender.peer] + _MAC[sender] + struct.pack("!H", ethertype)
        self._ip: dict[int, bytes] = {}  # IP header by TCP length

    def ip(self, tcp_len: int) -> bytes:
        header = self._ip.get(tcp_len)
        if header is None:
            if self.v4:
                header = _IPV4.pack(0x45, 0, 20 + tcp_len, 0, 0x4000, 64, 6, 0, self.src,
                                    self.dst)
                header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
            else:
                header = _IPV6.pack(0x6 << 28, tcp_len, 6, 64, self.src, self.dst)
            self._ip[tcp_len] = header
        return header

    def pseudo(self, tcp_len: int) -> bytes:
        if self.v4:
            return struct.pack("!4s4sBBH", self.src, self.dst, 0, 6, tcp_len)
        return struct.pack("!16s16sIxxxB", self.src, self.dst, tcp_len, 6)

    def frame(self, rec: SegmentRecord, cut: int | None) -> tuple[bytes, int]:
        """The frame's first ``cut`` bytes (all without ``cut``) and its full length."""
        seg = rec.segment
        options = _options(seg.options)
        tcp_len = 20 + len(options) + seg.length
        header = _TCP.pack(*self.ports, seg.seq, seg.ack,
                           (5 + len(options) // 4) << 12 | int(seg.flags) & 0x1FF,
                           seg.window, 0, 0) + options
        head = self.ether + self.ip(tcp_len)
        full = len(head) + tcp_len
        payload = payload_bytes(seg, self.iss)
        if cut is not None and cut < full:  # no tool can check its checksum: left 0
            return (head + header + payload)[:cut], full
        checksum = _checksum(self.pseudo(tcp_len), header, payload)
        return head + header[:16] + struct.pack("!H", checksum) + header[18:] + payload, full


def payload_bytes(seg: Segment, iss: int) -> bytes:
    """The ``seg.length`` payload octets written for ``seg``: its payload, continued (if
    the segment only counts them) with :mod:`core.tcp.payload`'s text at their stream offset
    (``iss``: the sender's initial sequence number)."""
    return fill(seg.payload, seg.length, (seg.seq - iss - 1) % SEQ_MOD)


def frame_of(timeline: Timeline, rec: SegmentRecord) -> tuple[bytes, int]:
    """The whole frame :func:`write_pcap` writes for ``rec`` and the offset of its TCP
    header (raises ``SynAckError``/``ValueError`` when no frame can be built)."""
    direction = _Direction(timeline, rec.sender, initial_numbers(timeline).get(rec.sender, 0))
    frame, _ = direction.frame(rec, None)
    return frame, len(direction.ether) + (20 if direction.v4 else 40)


def write_pcap(timeline: Timeline, path: str | os.PathLike[str], *, at: Side = Side.CLIENT,
               snaplen: int | None = None,
               view: Sequence[tuple[float, SegmentRecord]] | None = None) -> int:
    """Write the capture seen next to ``at`` (``view``: ``captured_view(timeline, at)``
    if the caller has it already); returns the number of packets written."""
    target = _checked(path, snaplen)
    if view is None:
        view = captured_view(timeline, at)
    chunks = [_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, snaplen or _SNAPLEN,
                                _LINKTYPE_ETHERNET)]
    for micros, frame, full in _frames(timeline, view, snaplen):
        chunks.append(_RECORD.pack(micros // 1_000_000, micros % 1_000_000, len(frame), full))
        chunks.append(frame)
    _write(target, chunks)
    return len(view)


def write_pcapng(timeline: Timeline, path: str | os.PathLike[str],
                 frames: Sequence[tuple[float, int, SegmentRecord]], *,
                 interfaces: Sequence[str], snaplen: int | None = None) -> int:
    """Write ``frames`` (time, interface, record), in the order given, as a pcapng file
    with one Ethernet interface per name in ``interfaces``; returns the frame count."""
    target = _checked(path, snaplen)
    for _, interface, _ in frames:
        if not 0 <= interface < len(interfaces):
            raise SynAckError(f"frame on interface {interface}, but only "
                              f"{len(interfaces)} interfaces")
    chunks = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
                     + _option(4, b"SynAck simulation") + _option(0, b""))]
    for name in interfaces:
        chunks.append(_block(1, struct.pack("<HHI", _LINKTYPE_ETHERNET, 0, snaplen or _SNAPLEN)
                             + _option(2, name.encode()) + _option(0, b"")))
    view = [(time, rec) for time, _, rec in frames]
    for (micros, frame, full), (_, interface, _) in zip(
            _frames(timeline, view, snaplen), frames, strict=True):
        body = _EPB.pack(interface, micros >> 32, micros & 0xFFFFFFFF, len(frame), full)
        chunks.append(_block(6, body + frame + b"\x00" * (-len(frame) % 4)))
    _write(target, chunks)
    return len(frames)


def _frames(timeline: Timeline, view: Iterable[tuple[float, SegmentRecord]],
            snaplen: int | None) -> Iterator[tuple[int, bytes, int]]:
    """(microseconds since 1970, the frame's bytes, its full length) of each record."""
    iss = initial_numbers(timeline)
    directions = {side: _Direction(timeline, side, iss.get(side, 0)) for side in Side}
    for time, rec in view:
        frame, full = directions[rec.sender].frame(rec, snaplen)
        yield EPOCH * 1_000_000 + round(time * 1_000_000), frame, full


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _block(kind: int, body: bytes) -> bytes:
    size = 12 + len(body)
    return _BLOCK.pack(kind, size) + body + struct.pack("<I", size)


def _checked(path: str | os.PathLike[str], snaplen: int | None) -> str:
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise SynAckError(f"cannot write {target}: folder {folder} does not exist")
    if snaplen is not None and snaplen < 60:
        raise SynAckError(f"snaplen must be at least 60 bytes, got {snaplen}")
    return target


def _write(target: str, chunks: list[bytes]) -> None:
    try:
        with open(target, "wb") as f:
            f.write(b"".join(chunks))
    except OSError as exc:
        raise SynAckError(f"cannot write {target}: {exc.strerror}") from exc
