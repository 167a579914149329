"""The slow reference: the same index built with scapy's readers and layers.

Invariants:
- The only module of core that imports scapy; no scapy object leaves it.
- Records come from ``RawPcapReader``/``RawPcapNgReader`` and headers from scapy's
  dissectors; only the rules (TSO length, stream ids via ``StreamTracker``, what counts as
  a fragment) are shared with the fast path, never the byte parsing.
- Differences it cannot avoid: pcapng ``if_tsoffset`` is ignored by scapy, pcapng
  interface ids are not reported (0), and ``data_offset`` is only known for pcap files.
"""

from __future__ import annotations

import socket
from typing import Any

import numpy as np

from core.capture.index import (
    INFO_BAD_DOFF,
    INFO_NO_SEGLEN,
    INFO_OPTIONS_CUT,
    INFO_PAYLOAD_CUT,
    MAX_RECORD,
    PACKET_DTYPE,
    CaptureIndex,
    CaptureWarning,
    Interface,
)
from core.capture.scalar import tso_len
from core.capture.streams import StreamTracker
from core.errors import CaptureError

_EXT_HEADERS = ("IPv6ExtHdrHopByHop", "IPv6ExtHdrRouting", "IPv6ExtHdrSegmentRouting",
                "IPv6ExtHdrDestOpt", "IPv6ExtHdrFragment", "AH")


def scapy_frames(path: str) -> list[tuple[bytes, Any]]:
    """Every whole packet record as (bytes, scapy metadata), in file order."""
    from scapy.utils import RawPcapReader

    out: list[tuple[bytes, Any]] = []
    try:
        reader = RawPcapReader(path)
    except Exception as exc:       # scapy raises its own exception types
        raise CaptureError(path, 0, f"scapy cannot read it: {exc}") from exc
    with reader:
        while True:
            try:
                data, meta = reader._read_packet(MAX_RECORD)
            except EOFError:
                break
            if hasattr(meta, "caplen") and len(data) < meta.caplen:
                break                  # cut by the end of the file
            out.append((data, meta))
    return out


def _l2(link: int, data: bytes) -> Any:
    from scapy.config import conf
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6, IPv46
    from scapy.packet import Raw

    if link in (12, 14, 101, 228, 229):
        version = data[0] >> 4 if data else 0
        if version not in ((4,) if link == 228 else (6,) if link == 229 else (4, 6)):
            return None
        return IPv46(data)
    if link == 129:                        # ARCNET (Linux): not in scapy
        proto = data[4] if len(data) > 4 else -1
        start = 5 if proto == 240 else (12 if len(data) > 5 and data[5] == 0xFF else 8)
        if proto == 240 or proto == 212:
            return IP(data[start:])
        return IPv6(data[start:]) if proto == 0xC4 else Raw(data)
    layer: Any = conf.l2types.get(link)
    return layer(data) if layer is not None else None


def _decode(link: int, data: bytes, wirelen: int) -> dict[str, Any] | str:
    """Fields of one TCP frame, or the class name of a frame that is not one."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment

    layer = _l2(link, data)
    if layer is None:
        return "malformed"
    while layer is not None and layer.name != "NoPayload":
        if type(layer) in (IP, IPv6):
            break
        layer = layer.payload
    else:
        return "other"
    ip = layer
    l3 = len(data) - len(ip.original)
    wire = max(wirelen, len(data)) - l3
    tso = tso_len(wirelen, len(data)) - l3      # what an IP length of 0 stands for
    if isinstance(ip, IP):
        ihl = ip.ihl * 4
        if ip.version != 4 or ihl < 20 or (ip.len and ip.len < ihl) or len(ip.original) < 20:
            return "malformed"
        if ip.frag or ip.flags.MF:
            return "fragment"
        if ip.proto != 6:
            return "other"
        seg = (tso if ip.len == 0 else min(ip.len, wire)) - ihl
        upper, nxt, tcp_offset = ip.payload, 6, l3 + ihl
    else:
        if ip.version != 6 or len(ip.original) < 40:
            return "malformed"
        seg = tso - 40 if ip.plen == 0 else min(ip.plen, wire - 40)
        upper, nxt, tcp_offset = ip.payload, ip.nh, l3 + 40
        while type(upper).__name__ in _EXT_HEADERS:
            if isinstance(upper, IPv6ExtHdrFragment) and (upper.offset or upper.m):
                return "fragment"
            size = len(upper.original) - len(upper.payload.original)
            seg, tcp_offset = seg - size, tcp_offset + size
            upper, nxt = upper.payload, upper.nh
        if nxt != 6:
            return "other"
    if seg < 20:
        return "malformed"
    if not isinstance(upper, TCP) or len(upper.original) < 20:
        return "truncated"
    return {"ip": ip, "tcp": upper, "seg": seg, "tcp_offset": tcp_offset}


def read_capture_scapy(path: str) -> CaptureIndex:
    """Build the index with scapy (slow: for tests and as the executable definition)."""
    frames = scapy_frames(path)
    with open(path, "rb") as f:
        is_ng = f.read(4) == b"\x0a\x0d\x0d\x0a"
    rows: list[dict[str, Any]] = []
    counts = {"other": 0, "fragment": 0, "malformed": 0, "truncated": 0}
    links: list[int] = []
    offset = 24
    start_ns = 0
    link, nano = (0, False) if is_ng else (_pcap_link(path), _pcap_nano(path))
    for number, (data, meta) in enumerate(frames, start=1):
        if is_ng:
            link = meta.linktype
            stamp = ((meta.tshigh or 0) << 32) | (meta.tslow or 0)
            time_ns = stamp * 1_000_000_000 // meta.tsresol
            data_offset = 0
        else:
            time_ns = meta.sec * 1_000_000_000 + meta.usec * (1 if nano else 1000)
            data_offset = offset + 16
            offset += 16 + len(data)
        if number == 1:
            start_ns = time_ns
        if link not in links:
            links.append(link)
        got = _decode(link, data, meta.wirelen)
        if isinstance(got, str):
            counts[got] += 1
            continue
        rows.append(dict(got, frame=number, time_ns=time_ns, data_offset=data_offset,
                         caplen=len(data)))
    return _build(path, "pcapng" if is_ng else "pcap", rows, counts, links, len(frames),
                  start_ns)


def _pcap_link(path: str) -> int:
    from scapy.utils import RawPcapReader
    with RawPcapReader(path) as r:
        return int(r.linktype) & 0x03FFFFFF


def _pcap_nano(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")


def _build(path: str, fmt: str, rows: list[dict[str, Any]], counts: dict[str, int],
           links: list[int], frames: int, start_ns: int) -> CaptureIndex:
    from scapy.layers.inet import IP

    keys = sorted({(4 if isinstance(r["ip"], IP) else 6, r["ip"].src) for r in rows} |
                  {(4 if isinstance(r["ip"], IP) else 6, r["ip"].dst) for r in rows},
                  key=lambda k: (k[0], socket.inet_pton(
                      socket.AF_INET if k[0] == 4 else socket.AF_INET6, k[1])))
    ids = {k: i for i, k in enumerate(keys)}
    tracker = StreamTracker()
    pk = np.zeros(len(rows), PACKET_DTYPE)
    for i, r in enumerate(rows):
        ip, tcp = r["ip"], r["tcp"]
        version = 4 if isinstance(ip, IP) else 6
        src, dst = ids[(version, ip.src)], ids[(version, ip.dst)]
        hdr_len = tcp.dataofs * 4
        has_seg = r["seg"] >= hdr_len
        payload = r["seg"] - hdr_len if has_seg else 0
        info = (0 if has_seg else INFO_NO_SEGLEN) | (INFO_BAD_DOFF if tcp.dataofs < 5 else 0)
        if r["caplen"] < r["tcp_offset"] + hdr_len:
            info |= INFO_OPTIONS_CUT
        if r["caplen"] < r["tcp_offset"] + hdr_len + payload:
            info |= INFO_PAYLOAD_CUT
        flags = int(tcp.flags)
        pk[i] = (r["time_ns"], r["data_offset"], r["frame"],
                 tracker.add(src, tcp.sport, dst, tcp.dport, flags, tcp.seq, tcp.ack, has_seg),
                 src, dst, tcp.seq, tcp.ack, payload, r["caplen"], tcp.sport, tcp.dport,
                 flags, tcp.window, r["tcp_offset"], 0, hdr_len, version, info)
    warnings: list[CaptureWarning] = []
    return CaptureIndex(
        path=path, format=fmt, packets=pk, addresses=[k[1] for k in keys],
        interfaces=tuple(Interface(link_type=lk, snaplen=0) for lk in links),
        frames=frames, start_ns=start_ns, non_tcp=counts["other"],
        fragments=counts["fragment"], truncated=counts["truncated"],
        malformed=counts["malformed"], warnings=warnings)
