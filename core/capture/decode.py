"""Vectorized decoding of many frames of one link type: link, IP and TCP headers.

Invariants:
- Works on ``gather_rows`` copies of each frame's first ``WINDOW`` bytes; every byte used
  is checked against the frame's captured length, so over-read bytes never matter.
- Frames whose layout is uncommon (deep VLAN stacks, LLC/SNAP, IPv6 extension headers,
  ARCNET) are handed to ``scalar.decode_frame``; the result is the same either way.
- ``decode_frames`` returns per-frame classes and, for the TCP frames only, their
  header fields, in frame order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.capture import linktypes as lt
from core.capture.scalar import (
    C_FRAGMENT,
    C_MALFORMED,
    C_OTHER,
    C_TCP,
    C_TRUNCATED,
    C_UNDECODED,
    IPPROTO_TCP,
    IPV6_EXT,
    MAX_OFFLOAD,
    decode_frame,
)
from core.capture.source import U8, be16, be32, gather_rows

WINDOW = 96
_IP_WINDOW = 40
_MAX_GROUPS = 16
_IPV6_EXT = np.array(sorted(IPV6_EXT), np.uint8)

Arr = np.ndarray[Any, np.dtype[Any]]


@dataclass(slots=True)
class Decoded:
    """Per-frame classes plus the fields of the TCP frames (``rows`` indexes the frames)."""

    cls: Arr            # uint8 per frame
    rows: Arr           # int64: frame positions of the TCP frames
    tcp: Arr            # int32: TCP header offset in the frame
    seg_len: Arr        # int64: TCP header + payload per IP
    version: Arr        # uint8
    src4: Arr           # uint32 (0 for IPv6 rows)
    dst4: Arr
    src6: Arr           # (n, 16) uint8 (zeros for IPv4 rows)
    dst6: Arr
    header: Arr         # (n, 20) uint8: the TCP header


def decode_frames(buf: U8, data: Arr, caplen: Arr, wirelen: Arr, link_type: int,
                  big_endian_file: bool) -> Decoded:
    """Decode every frame (``data`` offsets into ``buf``) of one link type."""
    n = data.shape[0]
    g = gather_rows(buf, data, WINDOW)
    kind, l3 = lt.link_l3(link_type, g[:, :lt.LINK_WINDOW], caplen, big_endian_file)
    cls = np.full(n, C_OTHER, np.uint8)
    cls[kind == lt.L3_BAD] = C_MALFORMED
    tcp = np.zeros(n, np.int32)
    seg = np.zeros(n, np.int64)
    version = np.zeros(n, np.uint8)
    src4 = np.zeros(n, np.uint32)
    dst4 = np.zeros(n, np.uint32)
    slow = kind == lt.L3_SLOW

    for want, decoder in ((lt.L3_V4, _ipv4), (lt.L3_V6, _ipv6)):
        sel = kind == want
        if not sel.any():
            continue
        for idx, c in _groups(sel, l3):
            ip = g[idx, c:c + _IP_WINDOW] if idx is not None else g[:, c:c + _IP_WINDOW]
            rows = idx if idx is not None else np.arange(n)
            cap = caplen[rows] - c
            wire = np.maximum(wirelen[rows], caplen[rows])
            tso = np.where(wire <= MAX_OFFLOAD, wire, caplen[rows]) - c
            r_cls, r_tcp, r_seg, r_slow = decoder(ip, cap, wire - c, tso)
            cls[rows] = r_cls
            tcp[rows] = r_tcp + c
            seg[rows] = r_seg
            version[rows] = want
            slow[rows] |= r_slow
            if want == lt.L3_V4:
                src4[rows] = be32(ip, 12)
                dst4[rows] = be32(ip, 16)
    slow6: dict[int, tuple[bytes, bytes]] = {}
    for r in np.flatnonzero(slow).tolist():
        start, length = int(data[r]), int(caplen[r])
        info = decode_frame(bytes(buf[start:start + length]), link_type, int(wirelen[r]),
                            big_endian_file)
        cls[r] = info.cls
        if info.cls == C_TCP:
            tcp[r], seg[r], version[r] = info.tcp, info.seg_len, info.version
            if info.version == 4:
                src4[r] = int.from_bytes(info.src, "big")
                dst4[r] = int.from_bytes(info.dst, "big")
            else:
                slow6[r] = (info.src, info.dst)

    rows = np.flatnonzero(cls == C_TCP)
    src6 = np.zeros((rows.size, 16), np.uint8)
    dst6 = np.zeros((rows.size, 16), np.uint8)
    v6 = np.flatnonzero(version[rows] == 6)
    if v6.size:
        fast = v6[~slow[rows[v6]]]
        if fast.size:
            ip6 = gather_rows(buf, data[rows[fast]] + l3[rows[fast]] + 8, 32)
            src6[fast] = ip6[:, :16]
            dst6[fast] = ip6[:, 16:]
        for k in v6[slow[rows[v6]]].tolist():
            s6, d6 = slow6[int(rows[k])]
            src6[k] = np.frombuffer(s6, np.uint8)
            dst6[k] = np.frombuffer(d6, np.uint8)
    header = _tcp_headers(buf, g, data, rows, tcp[rows])
    return Decoded(cls, rows, tcp[rows], seg[rows], version[rows], src4[rows], dst4[rows],
                   src6, dst6, header)


def _groups(sel: Arr, col: Arr) -> list[tuple[Arr | None, int]]:
    """Frames of ``sel`` grouped by ``col`` value; ``None`` stands for "every frame"."""
    values = col[sel]
    lo, hi = int(values.min()), int(values.max())
    if lo == hi and bool(sel.all()):
        return [(None, lo)]
    if lo == hi:
        return [(np.flatnonzero(sel), lo)]
    present = np.flatnonzero(np.bincount(values - lo)) + lo
    return [(np.flatnonzero(sel & (col == v)), int(v)) for v in present.tolist()]


def _ipv4(ip: U8, cap: Arr, wire: Arr, tso: Arr) -> tuple[Arr, Arr, Arr, Arr]:
    """Class, TCP offset (from IP), segment length and "needs scalar" of IPv4 headers;
    ``tso`` is what an IP length of 0 stands for (``scalar.tso_len``)."""
    n = ip.shape[0]
    b0 = ip[:, 0]
    ihl = (b0 & 15).astype(np.int64) * 4
    total = be16(ip, 2).astype(np.int64)
    frag = (be16(ip, 6) & 0x3FFF) != 0
    proto = ip[:, 9]
    eff = np.where(total == 0, tso, np.minimum(total, wire))
    seg = eff - ihl
    cls = np.full(n, C_TCP, np.uint8)
    cls[cap < ihl + 20] = C_TRUNCATED
    cls[seg < 20] = C_MALFORMED
    cls[proto != IPPROTO_TCP] = C_OTHER
    cls[frag] = C_FRAGMENT
    cls[((total != 0) & (total < ihl)) | ((b0 >> 4) != 4) | (ihl < 20) | (cap < 20)] = C_MALFORMED
    return cls, ihl, seg, np.zeros(n, bool)


def _ipv6(ip: U8, cap: Arr, wire: Arr, tso: Arr) -> tuple[Arr, Arr, Arr, Arr]:
    """As ``_ipv4`` for IPv6; extension-header chains go to the scalar decoder."""
    n = ip.shape[0]
    plen = be16(ip, 4).astype(np.int64)
    nxt = ip[:, 6]
    seg = np.where(plen == 0, tso - 40, np.minimum(plen, wire - 40))
    cls = np.full(n, C_TCP, np.uint8)
    cls[cap < 60] = C_TRUNCATED
    cls[seg < 20] = C_MALFORMED
    cls[nxt != IPPROTO_TCP] = C_OTHER
    bad = ((ip[:, 0] >> 4) != 6) | (cap < 40)
    cls[bad] = C_MALFORMED
    slow = np.isin(nxt, _IPV6_EXT) & ~bad
    return cls, np.full(n, 40, np.int64), seg, slow


def _tcp_headers(buf: U8, g: U8, data: Arr, rows: Arr, tcp: Arr) -> U8:
    """The 20-byte TCP header of each TCP frame, sliced from ``g`` where it fits."""
    out = np.empty((rows.size, 20), np.uint8)
    if rows.size == 0:
        return out
    lo, hi = int(tcp.min()), int(tcp.max())
    if lo == hi and hi + 20 <= WINDOW:
        return g[rows, lo:lo + 20]
    values = np.flatnonzero(np.bincount(tcp - lo)) + lo
    done = np.zeros(rows.size, bool)
    if values.size <= _MAX_GROUPS:
        for v in values.tolist():
            if v + 20 > WINDOW:
                continue
            sel = tcp == v
            out[sel] = g[rows[sel], v:v + 20]
            done |= sel
    rest = np.flatnonzero(~done)
    if rest.size:
        out[rest] = gather_rows(buf, data[rows[rest]] + tcp[rest], 20)
    return out


__all__ = ["C_FRAGMENT", "C_MALFORMED", "C_OTHER", "C_TCP", "C_TRUNCATED", "C_UNDECODED",
           "Decoded",
           "decode_frames"]
