"""Tiny hand-made writers for test captures: frames, pcap files and pcapng blocks."""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD


def tcp(sport: int = 1234, dport: int = 80, seq: int = 1000, ack: int = 0, flags: int = 0x02,
        window: int = 8192, options: bytes = b"", payload: bytes = b"",
        doff: int | None = None) -> bytes:
    options += bytes(-len(options) % 4)
    offset = doff if doff is not None else (20 + len(options)) // 4
    first = (offset << 4) | ((flags >> 8) & 1)
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, first,
                       flags & 0xFF, window, 0, 0) + options + payload


def ipv4(src: str, dst: str, payload: bytes, proto: int = 6, options: bytes = b"",
         total: int | None = None, frag: int = 0x4000) -> bytes:
    options += bytes(-len(options) % 4)
    ihl = (20 + len(options)) // 4
    length = total if total is not None else ihl * 4 + len(payload)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, 1, frag, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + options + payload


def ipv6(src: str, dst: str, payload: bytes, nh: int = 6,
         ext: Sequence[tuple[int, bytes]] = (), plen: int | None = None) -> bytes:
    """``ext``: (header type, body after the next-header byte) from the outside in."""
    chain = b""
    types = [t for t, _ in ext] + [nh]
    for i, (kind, body) in enumerate(ext):
        following = types[i + 1]
        if kind == 44:                                  # fragment: fixed 8 bytes
            chain += bytes([following]) + body[:7].ljust(7, b"\0")
        elif kind == 51:                                # AH: length in 4-byte units - 2
            need = max(10, len(body))
            body = body.ljust(need + (-(need + 2) % 4), b"\0")
            chain += bytes([following, (len(body) + 2) // 4 - 2]) + body
        else:                                           # 8-byte units - 1
            need = max(6, len(body))
            body = body.ljust(need + (-(need + 2) % 8), b"\0")
            chain += bytes([following, (len(body) + 2) // 8 - 1]) + body
    body = chain + payload
    first = types[0]
    return struct.pack("!IHBB16s16s", 0x60000000, len(body) if plen is None else plen, first,
                       64, socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + body


def ether(payload: bytes, ethertype: int = ETH_IPV4, vlans: Iterable[int] = ()) -> bytes:
    head = bytes.fromhex("0200000000020200000000 01".replace(" ", ""))
    for tpid in vlans:
        head += struct.pack("!HH", tpid, 5)
    return head + struct.pack("!H", ethertype) + payload


def sll(payload: bytes, proto: int = ETH_IPV4) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, bytes(8), proto) + payload


def sll2(payload: bytes, proto: int = ETH_IPV4) -> bytes:
    return struct.pack("!HHIHBB8s", proto, 0, 1, 1, 0, 6, bytes(8)) + payload


def null(payload: bytes, family: int, order: str = "<") -> bytes:
    return struct.pack(order + "I", family) + payload


def pcap(frames: Sequence[bytes | tuple[bytes, int]], link: int = 1, big: bool = False,
         nano: bool = False, snaplen: int = 262144, start: int = 1_600_000_000,
         link_field: int | None = None) -> bytes:
    """A pcap file; a frame given as (bytes, wire length) was cut by the snap length."""
    order = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen,
                      link if link_field is None else link_field)
    for i, item in enumerate(frames):
        data, wire = (item, len(item)) if isinstance(item, bytes) else item
        out += struct.pack(order + "IIII", start + i, 250 * i, len(data), wire) + data
    return out


# --- pcapng blocks -----------------------------------------------------------------------

def block(kind: int, body: bytes, big: bool = False) -> bytes:
    order = ">" if big else "<"
    body += bytes(-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(order + "II", kind, total) + body + struct.pack(order + "I", total)


def option(code: int, value: bytes, big: bool = False) -> bytes:
    order = ">" if big else "<"
    return struct.pack(order + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def shb(big: bool = False) -> bytes:
    order = ">" if big else "<"
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), big)


def idb(link: int = 1, snaplen: int = 262144, options: bytes = b"", big: bool = False) -> bytes:
    order = ">" if big else "<"
    if options:
        options += option(0, b"", big)
    return block(1, struct.pack(order + "HHI", link, 0, snaplen) + options, big)


def epb(data: bytes, iface: int = 0, stamp: int = 0, wire: int | None = None,
        big: bool = False) -> bytes:
    order = ">" if big else "<"
    return block(6, struct.pack(order + "IIIII", iface, stamp >> 32, stamp & 0xFFFFFFFF,
                                len(data), len(data) if wire is None else wire) + data, big)


def spb(data: bytes, wire: int | None = None, big: bool = False) -> bytes:
    order = ">" if big else "<"
    return block(3, struct.pack(order + "I", len(data) if wire is None else wire) + data, big)


def opb(data: bytes, iface: int = 0, stamp: int = 0, big: bool = False) -> bytes:
    order = ">" if big else "<"
    return block(2, struct.pack(order + "HHIIII", iface, 0, stamp >> 32, stamp & 0xFFFFFFFF,
                                len(data), len(data)) + data, big)


def handshake(client: str = "10.0.0.1", server: str = "10.0.0.2", cport: int = 40000,
              isn: int = 100, server_isn: int = 900) -> list[bytes]:
    """Ethernet/IPv4 SYN, SYN/ACK, ACK, one data segment and its ACK."""
    return [
        ether(ipv4(client, server, tcp(cport, 80, isn, 0, 0x02))),
        ether(ipv4(server, client, tcp(80, cport, server_isn, isn + 1, 0x12))),
        ether(ipv4(client, server, tcp(cport, 80, isn + 1, server_isn + 1, 0x10))),
        ether(ipv4(client, server, tcp(cport, 80, isn + 1, server_isn + 1, 0x18,
                                       payload=b"hello"))),
        ether(ipv4(server, client, tcp(80, cport, server_isn + 1, isn + 6, 0x10))),
    ]


# --- a long connection ---------------------------------------------------------------------

def bulk_pcap(path: Path, segments: int, *, seed: int = 3, loss: float = 0.01) -> Path:
    """One Ethernet/IPv4 connection of about ``segments`` packets written to ``path``: a
    handshake, a bulk transfer with ``loss`` of the data lost after the capture point
    (an ACK and three duplicates, then a fast retransmission) and a four-way close; the
    shape of ``bench/replay.py``'s stream, small enough for a test."""
    rnd = random.Random(seed)
    cs, ss = rnd.getrandbits(32), rnd.getrandbits(32)
    ts = b"\x01\x01\x08\x0a" + bytes(8)
    data = bytes(1448)
    records: list[bytes] = []
    clock = [1_700_000_000_000_000]

    def put(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: bytes = b"", gap: int = 20) -> None:
        clock[0] += gap
        frame = ether(ipv4(src, dst, tcp(sport, dport, seq, ack, flags, 502, ts, payload)))
        records.append(struct.pack("<IIII", clock[0] // 1_000_000, clock[0] % 1_000_000,
                                   len(frame), len(frame)) + frame)

    def client(seq: int, ack: int, flags: int, payload: bytes = b"", gap: int = 20) -> None:
        put("10.0.0.1", "10.0.0.2", 40000, 80, seq, ack, flags, payload, gap)

    def server(seq: int, ack: int, flags: int, gap: int = 1250) -> None:
        put("10.0.0.2", "10.0.0.1", 80, 40000, seq, ack, flags, b"", gap)

    client(cs, 0, 0x02)
    server(ss, cs + 1, 0x12, 10_000)
    client(cs + 1, ss + 1, 0x10, gap=10_000)
    nxt, ss = cs + 1, ss + 1
    hole: int | None = None
    while len(records) < segments - 3:
        client(nxt, ss, 0x10, data)
        if hole is None and rnd.random() < loss:
            hole = nxt
        nxt += len(data)
        if len(records) % 3:
            continue
        if hole is not None:
            for _ in range(4):
                server(ss, hole, 0x10)
            client(hole, ss, 0x10, data)
            hole = None
        server(ss, nxt, 0x10)
    client(nxt, ss, 0x11)
    server(ss, nxt + 1, 0x11, 10_000)
    client(nxt + 1, ss + 1, 0x10, gap=10_000)
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
                     + b"".join(records))
    return path
