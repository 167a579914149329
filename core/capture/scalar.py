"""One frame at a time: the general decoder for every layout the vectorized path skips.

Invariants:
- ``decode_frame`` handles every supported link type, any VLAN depth, LLC/SNAP, IPv4
  options and IPv6 extension headers; it is the definition the vectorized decoder must
  match (tests compare the two on every frame).
- A frame is exactly one of the ``C_*`` classes. Only ``C_TCP`` frames carry offsets;
  their 20-byte TCP header lies inside the captured bytes.
- ``seg_len`` is the TCP segment length (header + payload) that the IP header gives,
  clipped to the frame's wire length; the IP total length 0 (TSO) means "the frame", as in
  tshark: its original length, unless that is over ``MAX_OFFLOAD`` (no NIC is handed
  more; a broken record header), when the captured bytes are used (``tso_len``).
"""

from __future__ import annotations

from typing import NamedTuple

from core.capture.linktypes import L3_DEEP, L3_V4, L3_V6, link_l3_scalar

C_OTHER = 0        # not TCP over IP (ARP, UDP, ICMP, ...)
C_TCP = 1
C_FRAGMENT = 2     # an IP fragment: not reassembled, never read as TCP
C_MALFORMED = 3    # broken link or IP header, or no room for a TCP header
C_TRUNCATED = 4    # TCP whose 20-byte header was not captured (snap length)
C_UNDECODED = 5    # more VLAN tags than tshark decodes: not read (counted as not TCP)

IPPROTO_TCP = 6
#: IPv6 extension headers we step over: hop-by-hop, routing, fragment, dest options,
#: AH, mobility, HIP, shim6, experimental.
IPV6_EXT = frozenset({0, 43, 44, 60, 51, 135, 139, 140, 253, 254})
_FRAGMENT = 44
_AH = 51
_MAX_EXT = 16
_MAX_TCP_OFFSET = 0xFFFF
#: The largest frame segmentation offload makes (Linux BIG TCP: 8 x 64 KiB).
MAX_OFFLOAD = 8 * 65536


def tso_len(wirelen: int, caplen: int) -> int:
    """The frame length an IP length of 0 stands for (module invariants)."""
    wire = max(wirelen, caplen)
    return wire if wire <= MAX_OFFLOAD else caplen


class FrameInfo(NamedTuple):
    cls: int
    tcp: int = 0          # offset of the TCP header in the frame
    seg_len: int = 0      # TCP header + payload, per the IP header
    version: int = 0
    src: bytes = b""
    dst: bytes = b""


OTHER = FrameInfo(C_OTHER)
MALFORMED = FrameInfo(C_MALFORMED)
FRAGMENT = FrameInfo(C_FRAGMENT)
TRUNCATED = FrameInfo(C_TRUNCATED)
UNDECODED = FrameInfo(C_UNDECODED)


def decode_frame(frame: bytes, link_type: int, wirelen: int,
                 big_endian_file: bool) -> FrameInfo:
    """Classify one frame and locate its TCP header (see module invariants)."""
    kind, l3 = link_l3_scalar(link_type, frame, big_endian_file)
    if kind == L3_V4:
        return decode_ipv4(frame, l3, wirelen)
    if kind == L3_V6:
        return decode_ipv6(frame, l3, wirelen)
    return OTHER if kind == 0 else UNDECODED if kind == L3_DEEP else MALFORMED


def decode_ipv4(frame: bytes, l3: int, wirelen: int) -> FrameInfo:
    caplen = len(frame)
    if caplen < l3 + 20:
        return MALFORMED
    b0 = frame[l3]
    ihl = (b0 & 15) * 4
    if b0 >> 4 != 4 or ihl < 20:
        return MALFORMED
    total = int.from_bytes(frame[l3 + 2:l3 + 4], "big")
    if total and total < ihl:
        return MALFORMED
    if int.from_bytes(frame[l3 + 6:l3 + 8], "big") & 0x3FFF:
        return FRAGMENT
    if frame[l3 + 9] != IPPROTO_TCP:
        return OTHER
    avail = max(wirelen, caplen) - l3
    seg_len = (tso_len(wirelen, caplen) - l3 if total == 0 else min(total, avail)) - ihl
    if seg_len < 20:
        return MALFORMED
    tcp = l3 + ihl
    if caplen < tcp + 20:
        return TRUNCATED
    return FrameInfo(C_TCP, tcp, seg_len, 4, frame[l3 + 12:l3 + 16], frame[l3 + 16:l3 + 20])


def decode_ipv6(frame: bytes, l3: int, wirelen: int) -> FrameInfo:
    caplen = len(frame)
    if caplen < l3 + 40:
        return MALFORMED
    if frame[l3] >> 4 != 6:
        return MALFORMED
    plen = int.from_bytes(frame[l3 + 4:l3 + 6], "big")
    nxt = frame[l3 + 6]
    avail = max(wirelen, caplen) - l3 - 40
    payload = tso_len(wirelen, caplen) - l3 - 40 if plen == 0 else min(plen, avail)  # TSO
    off = l3 + 40
    for _ in range(_MAX_EXT):
        if nxt == IPPROTO_TCP:
            break
        if nxt not in IPV6_EXT:
            return OTHER
        if caplen < off + 8:
            return MALFORMED
        if nxt == _FRAGMENT:
            if int.from_bytes(frame[off + 2:off + 4], "big") & 0xFFF9:
                return FRAGMENT            # offset != 0 or more fragments follow
            length = 8
        elif nxt == _AH:
            length = (frame[off + 1] + 2) * 4
        else:
            length = (frame[off + 1] + 1) * 8
        nxt = frame[off]
        off += length
    else:
        return MALFORMED
    seg_len = payload - (off - l3 - 40)
    if seg_len < 20 or off > _MAX_TCP_OFFSET:
        return MALFORMED
    if caplen < off + 20:
        return TRUNCATED
    return FrameInfo(C_TCP, off, seg_len, 6, frame[l3 + 8:l3 + 24], frame[l3 + 24:l3 + 40])
