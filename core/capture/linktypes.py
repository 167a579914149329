"""Link layers: where the IP header starts in a frame, for every link type we read.

Invariants:
- ``link_l3`` (vectorized) and ``link_l3_scalar`` agree on every frame that
  ``link_l3`` does not mark ``L3_SLOW``; slow frames are decided by the scalar code.
- Offsets are relative to the frame's first byte; a result never points past the
  captured length (such frames are ``L3_BAD``).
- The kind is ``L3_V4``/``L3_V6`` for IP, ``L3_OTHER`` for anything else (ARP, ...),
  ``L3_BAD`` for a link header that was not captured or IP of the wrong version on a raw
  link (tshark: "Bogus IP version", malformed), ``L3_DEEP`` for more than
  ``MAX_VLAN_TAGS`` stacked VLAN tags (tshark: "Too many nested VLAN tags", not decoded).
- VLAN tags (802.1Q, 802.1ad, QinQ 0x9100) stack to any depth a frame holds; tshark
  decodes 20 and leaves the rest undecoded, and so do we (counted and reported).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from core.capture.source import U8, be16, le32

NULL = 0            # BSD loopback: 4-byte address family in the capturing host's order
ETHERNET = 1
RAW_ALT_12 = 12     # DLT_RAW on most BSDs (LINKTYPE_RAW in files from those systems)
RAW_ALT_14 = 14     # DLT_RAW on OpenBSD
RAW = 101
LOOP = 108          # OpenBSD loopback: address family in network order
LINUX_SLL = 113
ARCNET_LINUX = 129
IPV4 = 228
IPV6 = 229
LINUX_SLL2 = 276

NAMES: dict[int, str] = {
    NULL: "null", ETHERNET: "ether", RAW_ALT_12: "rawip", RAW_ALT_14: "rawip",
    RAW: "rawip", LOOP: "loop", LINUX_SLL: "linux-sll", ARCNET_LINUX: "arcnet_linux",
    IPV4: "rawip4", IPV6: "rawip6", LINUX_SLL2: "linux-sll2",
}
SUPPORTED = frozenset(NAMES)

L3_OTHER = 0
L3_V4 = 4
L3_V6 = 6
L3_BAD = 250        # link header not captured, or IP of the wrong version on raw links
L3_DEEP = 251       # more than MAX_VLAN_TAGS VLAN tags: not decoded (as tshark)
L3_SLOW = 255       # undecided here: use link_l3_scalar

VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
#: tshark's VLAN_MAX_NESTED_TAGS (packet-vlan.c): deeper stacks are left undecoded.
MAX_VLAN_TAGS = 20
_AF_INET = 2
_AF_INET6 = (24, 28, 30)    # NetBSD/OpenBSD, FreeBSD, Darwin
_ARC_IP_OLD = 240           # RFC 1051
_ARC_IP = 212               # RFC 1201
_ARC_IP6 = 0xC4
_SNAP = b"\xaa\xaa\x03\x00\x00\x00"

I32 = np.ndarray[Any, np.dtype[np.int32]]
K8 = np.ndarray[Any, np.dtype[np.uint8]]

#: Bytes of every frame the vectorized link decoders look at.
LINK_WINDOW = 32


def _kind_from_ethertype(et: np.ndarray[Any, Any]) -> K8:
    kind = np.full(et.shape, L3_OTHER, np.uint8)
    kind[et == 0x0800] = L3_V4
    kind[et == 0x86DD] = L3_V6
    kind[et < 0x0600] = L3_SLOW        # 802.3 length: LLC/SNAP, decided by the scalar code
    return kind


def _ethertype_chain(rows: U8, et_col: int, l3_col: int) -> tuple[K8, I32]:
    """Ethertype at ``et_col``, IP at ``l3_col``; up to two VLAN tags inserted at ``l3_col``."""
    et = be16(rows, et_col)
    l3 = np.full(et.shape, l3_col, np.int32)
    tagged = np.isin(et, VLAN_TPIDS)
    if tagged.any():
        et = np.where(tagged, be16(rows, l3_col + 2), et)
        l3 += 4 * tagged
        twice = tagged & np.isin(et, VLAN_TPIDS)
        if twice.any():
            et = np.where(twice, be16(rows, l3_col + 6), et)
            l3 += 4 * twice
            thrice = twice & np.isin(et, VLAN_TPIDS)
            kind = _kind_from_ethertype(et)
            kind[thrice] = L3_SLOW
            return kind, l3
    return _kind_from_ethertype(et), l3


def _family_kind(fam: np.ndarray[Any, Any]) -> K8:
    kind = np.full(fam.shape, L3_OTHER, np.uint8)
    kind[fam == _AF_INET] = L3_V4
    kind[np.isin(fam, _AF_INET6)] = L3_V6
    return kind


def link_l3(link_type: int, rows: U8, caplen: np.ndarray[Any, Any],
            big_endian_file: bool) -> tuple[K8, I32]:
    """Kind and IP offset of each frame; ``rows`` holds its first ``LINK_WINDOW`` bytes."""
    n = rows.shape[0]
    if link_type == ETHERNET:
        (kind, l3), need = _ethertype_chain(rows, 12, 14), 14
    elif link_type == LINUX_SLL:
        (kind, l3), need = _ethertype_chain(rows, 14, 16), 16
    elif link_type == LINUX_SLL2:
        (kind, l3), need = _ethertype_chain(rows, 0, 20), 20
    elif link_type in (NULL, LOOP):
        fam = le32(rows, 0)
        if link_type == LOOP or big_endian_file:
            fam = fam.byteswap()
        if link_type == NULL:
            fam = np.where(fam & 0xFFFF0000, fam.byteswap(), fam)
        kind, l3, need = _family_kind(fam), np.full(n, 4, np.int32), 4
    elif link_type in (RAW, RAW_ALT_12, RAW_ALT_14, IPV4, IPV6):
        version = rows[:, 0] >> 4
        kind = np.full(n, L3_BAD, np.uint8)
        if link_type != IPV6:
            kind[version == 4] = L3_V4
        if link_type != IPV4:
            kind[version == 6] = L3_V6
        l3, need = np.zeros(n, np.int32), 1
    else:
        return np.full(n, L3_SLOW, np.uint8), np.zeros(n, np.int32)
    ip = (kind == L3_V4) | (kind == L3_V6)
    short = (caplen < np.maximum(l3, need)) | (ip & (caplen <= l3))
    kind[short] = L3_BAD
    return kind, l3


def link_l3_scalar(link_type: int, frame: bytes, big_endian_file: bool) -> tuple[int, int]:
    """Kind and IP offset of one frame, for every supported link type and layout."""
    kind, l3 = _scalar_link(link_type, frame, big_endian_file)
    if kind in (L3_V4, L3_V6) and len(frame) <= l3:
        return L3_BAD, 0
    return kind, l3


def _scalar_link(link_type: int, frame: bytes, big_endian_file: bool) -> tuple[int, int]:
    caplen = len(frame)
    if link_type == ETHERNET:
        return _scalar_et_chain(frame, 12, 14)
    if link_type == LINUX_SLL:
        return _scalar_et_chain(frame, 14, 16)
    if link_type == LINUX_SLL2:
        return _scalar_et_chain(frame, 0, 20)
    if link_type in (NULL, LOOP):
        if caplen < 4:
            return L3_BAD, 0
        order = ">" if link_type == LOOP or big_endian_file else "<"
        fam = struct.unpack(order + "I", frame[:4])[0]
        if link_type == NULL and fam & 0xFFFF0000:
            fam = int.from_bytes(fam.to_bytes(4, "little"), "big")
        return (L3_V4 if fam == _AF_INET else L3_V6 if fam in _AF_INET6 else L3_OTHER), 4
    if link_type in (RAW, RAW_ALT_12, RAW_ALT_14, IPV4, IPV6):
        if caplen < 1:
            return L3_BAD, 0
        version = frame[0] >> 4
        if version == 4 and link_type != IPV6:
            return L3_V4, 0
        if version == 6 and link_type != IPV4:
            return L3_V6, 0
        return L3_BAD, 0
    if link_type == ARCNET_LINUX:
        return _arcnet_linux(frame)
    return L3_OTHER, 0


def _scalar_et_chain(frame: bytes, et_col: int, l3: int) -> tuple[int, int]:
    """Ethertype at ``et_col``, IP at ``l3``, any VLAN tags and LLC/SNAP in between."""
    caplen = len(frame)
    if caplen < l3:
        return L3_BAD, 0
    et = int.from_bytes(frame[et_col:et_col + 2], "big")
    tags = 0
    while et in VLAN_TPIDS:             # ends: each tag takes 4 of the captured bytes
        if tags == MAX_VLAN_TAGS:
            return L3_DEEP, 0
        if caplen < l3 + 4:
            return L3_BAD, 0
        et = int.from_bytes(frame[l3 + 2:l3 + 4], "big")
        l3 += 4
        tags += 1
    if et < 0x0600:                     # 802.3 length field: LLC, maybe SNAP
        if frame[l3:l3 + 6] != _SNAP or caplen < l3 + 8:
            return L3_OTHER, 0
        et = int.from_bytes(frame[l3 + 6:l3 + 8], "big")
        l3 += 8
    return (L3_V4 if et == 0x0800 else L3_V6 if et == 0x86DD else L3_OTHER), l3


def _arcnet_linux(frame: bytes) -> tuple[int, int]:
    """ARCNET with Linux's header: src, dst, 2 bytes offset, protocol id, [split flag, seq]."""
    caplen = len(frame)
    if caplen < 5:
        return L3_BAD, 0
    proto = frame[4]
    if proto == _ARC_IP_OLD:
        return L3_V4, 5
    if proto in (_ARC_IP, _ARC_IP6):
        if caplen < 6:
            return L3_BAD, 0
        l3 = 12 if frame[5] == 0xFF else 8     # 0xff: an exception packet, 4 more bytes
        return (L3_V6 if proto == _ARC_IP6 else L3_V4), l3
    return L3_OTHER, 0
