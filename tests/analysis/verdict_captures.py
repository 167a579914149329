"""Small hand-made captures, one per verdict rule (``core.analysis.verdict``).

Each function writes a pcap under ``folder`` and returns its path. Addresses: the client
10.0.0.1:40000 (ISS 100), the server 10.0.0.2:80 (ISS 900); packets ``ms`` milliseconds
apart unless given their own times.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.capture.builders import ether, ipv4, tcp

C, S = ("10.0.0.1", 40000), ("10.0.0.2", 80)
SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08
WSCALE = b"\x03\x03\x07\x01"           # window scale 7, NOP


def ts(val: int, ecr: int) -> bytes:
    """NOP NOP Timestamps."""
    return b"\x01\x01\x08\x0a" + struct.pack("!II", val, ecr)


def sack(*blocks: tuple[int, int]) -> bytes:
    """NOP NOP SACK with raw edges."""
    body = b"".join(struct.pack("!II", a, b) for a, b in blocks)
    return b"\x01\x01\x05" + bytes([2 + len(body)]) + body


def pkt(src: tuple[str, int], seq: int, ack: int, flags: int, window: int = 1023,
        options: bytes = b"", payload: bytes = b"") -> bytes:
    dst = S if src == C else C
    return ether(ipv4(src[0], dst[0], tcp(src[1], dst[1], seq, ack, flags, window, options,
                                          payload)))


def write(folder: Path, name: str, frames: list[bytes], times: list[float] | None = None,
          ms: float = 10.0) -> Path:
    """A pcap of ``frames`` at ``times`` (seconds), or ``ms`` apart."""
    stamps = times if times is not None else [i * ms / 1000 for i in range(len(frames))]
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    for frame, t in zip(frames, stamps, strict=True):
        sec, usec = divmod(round(t * 1_000_000), 1_000_000)
        out += struct.pack("<IIII", 1_700_000_000 + sec, usec, len(frame), len(frame)) + frame
    path = folder / f"{name}.pcap"
    path.write_bytes(out)
    return path


def handshake() -> list[bytes]:
    return [pkt(C, 100, 0, SYN, 65535, WSCALE), pkt(S, 900, 101, SYN | ACK, 65535, WSCALE),
            pkt(C, 101, 901, ACK)]


def simultaneous_open(folder: Path) -> Path:
    """Frames 1-2 the SYNs, 3-4 the SYN+ACKs (tshark: retransmissions), 5 the client's ACK
    of the server's SYN+ACK (tshark: window_update), 6 the server's SYN+ACK again (a real
    retransmission) and 7 the client's ACK of it."""
    return write(folder, "simultaneous_open", [
        pkt(C, 100, 0, SYN, 65535, WSCALE), pkt(S, 900, 0, SYN, 65535, WSCALE),
        pkt(C, 100, 901, SYN | ACK, 65535, WSCALE), pkt(S, 900, 101, SYN | ACK, 65535, WSCALE),
        pkt(C, 101, 901, ACK), pkt(S, 900, 101, SYN | ACK, 65535, WSCALE),
        pkt(C, 101, 901, ACK)])


def fin_reack(folder: Path) -> Path:
    """Captured at the client: 4-5 the client's FIN and its ACK, 6 the server's FIN, 7 its
    ACK (lost after the capture point), 8 the server's FIN again, 9 the client's re-ACK
    (tshark: duplicate_ack)."""
    return write(folder, "fin_reack", [
        *handshake(), pkt(C, 101, 901, FIN | ACK), pkt(S, 901, 102, ACK),
        pkt(S, 901, 102, FIN | ACK), pkt(C, 102, 902, ACK), pkt(S, 901, 102, FIN | ACK),
        pkt(C, 102, 902, ACK)])


def dsack(folder: Path, *, block: tuple[int, int] = (201, 301)) -> Path:
    """4-5 data 1:101 and 101:201, 6 the ACK of the first, 7 a retransmission of 101:201
    (tshark: retransmission), 8 the ACK of everything with a D-SACK for ``block``
    (raw edges; the default is exactly frame 7's bytes: frame 5 had arrived)."""
    data = b"x" * 100
    return write(folder, "dsack", [
        *handshake(), pkt(C, 101, 901, ACK | PSH, payload=data),
        pkt(C, 201, 901, ACK | PSH, payload=data), pkt(S, 901, 201, ACK),
        pkt(C, 201, 901, ACK | PSH, payload=data), pkt(S, 901, 301, ACK, options=sack(block))])


def tsecr(folder: Path, *, echo_ms: float = 160.0) -> Path:
    """Captured at the client, which took 100 ms to see the SYN+ACK: 4 data 1:101 (TSval
    5001, unique), 5 its retransmission at 150 ms (TSval 5150; tshark: retransmission),
    6 at ``echo_ms`` the server's ACK echoing TSecr 5001. Whether the echo left before
    frame 5 could arrive depends on the delays the caller assumes."""
    data = b"y" * 100
    return write(folder, "tsecr", [
        pkt(C, 100, 0, SYN, 65535, WSCALE + ts(4900, 0)),
        pkt(S, 900, 101, SYN | ACK, 65535, WSCALE + ts(7000, 4900)),
        pkt(C, 101, 901, ACK, options=ts(5000, 7000)),
        pkt(C, 101, 901, ACK | PSH, options=ts(5001, 7000), payload=data),
        pkt(C, 101, 901, ACK | PSH, options=ts(5150, 7000), payload=data),
        pkt(S, 901, 201, ACK, options=ts(7100, 5001))],
        times=[0.0, 0.100, 0.1001, 0.1002, 0.150, echo_ms / 1000])
