"""From an index row to ``core.segment`` values: TCP options and a ``Segment``.

Invariants:
- Only the captured bytes are read (one small read per call): options cut by the snap
  length are parsed as far as they go; a malformed option ends the parse, as in tcpdump.
- ``segment_at`` gives raw (absolute) sequence numbers; ``payload`` holds the captured
  payload bytes, which may be fewer than ``length``.
"""

from __future__ import annotations

from core.capture.index import CaptureIndex
from core.segment import Flag, Options, Segment

_EOL, _NOP, _MSS, _WSCALE, _SACK_PERM, _SACK, _TIMESTAMP = 0, 1, 2, 3, 4, 5, 8


def tcp_options(header: bytes) -> Options:
    """The options of a TCP header (``header`` starts at the TCP source port)."""
    mss: int | None = None
    wscale: int | None = None
    sack_permitted = False
    sack: list[tuple[int, int]] = []
    stamp: tuple[int, int] | None = None
    other: list[int] = []
    pos, end = 20, len(header)
    while pos < end:
        kind = header[pos]
        if kind == _EOL:
            break
        if kind == _NOP:
            pos += 1
            continue
        if pos + 1 >= end:
            break
        size = header[pos + 1]
        if size < 2 or pos + size > end:
            break
        body = header[pos + 2:pos + size]
        if kind == _MSS and size == 4:
            mss = int.from_bytes(body, "big")
        elif kind == _WSCALE and size == 3:
            wscale = body[0]
        elif kind == _SACK_PERM and size == 2:
            sack_permitted = True
        elif kind == _SACK and (size - 2) % 8 == 0:
            sack.extend((int.from_bytes(body[k:k + 4], "big"),
                         int.from_bytes(body[k + 4:k + 8], "big"))
                        for k in range(0, size - 2, 8))
        elif kind == _TIMESTAMP and size == 10:
            stamp = (int.from_bytes(body[:4], "big"), int.from_bytes(body[4:], "big"))
        else:
            other.append(kind)
        pos += size
    return Options(mss=mss, wscale=wscale, sack_permitted=sack_permitted,
                   sack_blocks=tuple(sack), timestamp=stamp, other_kinds=tuple(other))


def segment_at(index: CaptureIndex, i: int) -> Segment:
    """Packet ``i`` of the index as a ``Segment`` (raw numbers, captured payload)."""
    row = index.packets[i]
    frame = index.record_bytes(i)
    start = int(row["tcp_offset"])
    hdr_len = max(int(row["tcp_hdr_len"]), 20)
    length = int(row["payload_len"])
    payload = frame[start + hdr_len:start + hdr_len + length]
    return Segment(seq=int(row["seq"]), ack=int(row["ack"]), flags=Flag(int(row["flags"])),
                   window=int(row["window"]), length=length, payload=payload,
                   options=tcp_options(frame[start:start + hdr_len]))
