"""From an index row to ``core.tcp.segment`` values: TCP options and a ``Segment``.

Invariants:
- Only the captured bytes are read (one small read per call): options cut by the snap
  length are parsed as far as they go; a malformed option ends the parse, as in tcpdump.
- ``segment_at`` gives raw (absolute) sequence numbers; ``payload`` holds the captured
  payload bytes, which may be fewer than ``length``.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.capture.index import CaptureIndex, take_rows
from core.errors import CaptureError
from core.tcp.segment import NO_OPTIONS, Flag, Options, Segment

#: Payload bytes kept per segment by ``segments_of``.
PREVIEW = 64
_NOP_NOP_TS = b"\x01\x01\x08\x0a"  # NOP, NOP, timestamps (kind 8, length 10)
_TS = struct.Struct(">II")

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


def segments_of(index: CaptureIndex, rows: Sequence[int] | np.ndarray[Any, Any], *,
                preview: int = PREVIEW) -> list[Segment]:
    """``segment_at`` for many packets with one pass over the file.

    Payloads are cut to ``preview`` bytes (the diagram shows a preview; the full bytes
    stay in the file, see ``CaptureIndex.record_bytes``), so memory stays bounded.
    """
    sel = take_rows(index.packets, np.asarray(rows, dtype=np.int64))
    if not sel.shape[0]:
        return []
    columns = zip(sel["data_offset"].tolist(), sel["tcp_offset"].tolist(),
                  sel["tcp_hdr_len"].tolist(), sel["caplen"].tolist(),
                  sel["payload_len"].tolist(), sel["seq"].tolist(), sel["ack"].tolist(),
                  sel["flags"].tolist(), sel["window"].tolist(), strict=True)
    out: list[Segment] = []
    flag_cache: dict[int, Flag] = {}
    try:
        with open(index.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            for data, tcp, hdr, caplen, length, seq, ack, flags, window in columns:
                base = data + tcp
                end = data + caplen
                hdr = max(hdr, 20)
                if hdr == 32 and base + 32 <= end and m[base + 20:base + 24] == _NOP_NOP_TS:
                    options = Options(timestamp=_TS.unpack_from(m, base + 24))  # Linux's usual
                elif hdr > 20:
                    options = tcp_options(m[base:min(base + hdr, end)])
                else:
                    options = NO_OPTIONS
                start = base + hdr
                payload = m[start:min(start + min(length, preview), end)] if length else b""
                flag = flag_cache.get(flags)
                if flag is None:
                    flag = flag_cache[flags] = Flag(flags)
                out.append(Segment(seq=seq, ack=ack, flags=flag, window=window,
                                   length=length, payload=payload, options=options))
    except (OSError, ValueError) as exc:
        raise CaptureError(index.path, 0, f"cannot read the file again: {exc}") from exc
    return out
