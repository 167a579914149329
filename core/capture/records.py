"""Packet records as the file formats give them, before any header is decoded.

Invariants:
- One entry per packet record (pcap record, pcapng EPB/SPB/OPB), in file order; the
  frame number of entry ``i`` is ``i + 1``, as in tshark.
- ``data[i] + caplen[i]`` never passes the end of the file: a record cut by the end of
  the file is dropped by the format reader and reported as a warning.
- The record walkers only follow length fields; validation is vectorized afterwards.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.capture.index import CaptureWarning, Interface

I64 = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(slots=True, kw_only=True)
class Records:
    format: str
    block: I64                # file offset of each record (header or block start)
    data: I64                 # file offset of the frame's first byte
    caplen: I64
    wirelen: I64
    time_ns: I64
    iface: np.ndarray[Any, np.dtype[np.uint16]]
    interfaces: tuple[Interface, ...]
    big_endian: tuple[bool, ...]      # per interface: byte order of its section
    warnings: list[CaptureWarning] = field(default_factory=list)


def walk_records(raw: Any, start: int, size: int, big: bool,
                 stop_at: int | None = None) -> tuple[array[int], int]:
    """Offsets of the pcap records from ``start`` (16-byte header, then incl_len bytes).

    Stops when fewer than 16 bytes remain, or at the first offset at or past ``stop_at``;
    returns the offsets and where it stopped.
    """
    offsets: array[int] = array("q")
    append = offsets.append
    off = start
    end = size - 16 if stop_at is None else min(size - 16, stop_at - 1)
    if not big and sys.byteorder == "little":
        mv = memoryview(raw)
        views = tuple(mv[a:a + 4 * ((size - a) // 4)].cast("I") for a in range(4))
        while off <= end:
            append(off)
            off += 16 + views[off & 3][(off >> 2) + 2]
        del views
        mv.release()
    else:
        word = struct.Struct(">I" if big else "<I").unpack_from
        while off <= end:
            append(off)
            off += 16 + word(raw, off + 8)[0]
    return offsets, off


def walk_blocks(raw: Any, start: int, size: int, big: bool, offsets: array[int],
                sections: list[int], budget: int = sys.maxsize,
                resume: bool = False) -> tuple[int, str]:
    """Append the offsets of pcapng blocks from ``start`` (an SHB) to ``offsets``.

    An SHB of the same byte order starts a new section without leaving the loop (its
    index in ``offsets`` goes to ``sections``). Stops at an SHB of the other (or no) byte
    order (``"shb"``), at a block length that is not a multiple of 4 or under 12
    (``"bad"``), when fewer than 8 bytes remain (``"end"``), or after ``budget`` blocks
    (``"more"``: call again from there with ``resume``, which says ``start`` is no
    section's first SHB but any block).
    """
    append = offsets.append
    off = start
    end = size - 8
    shb, bom = 0x0A0D0D0A, 0x1A2B3C4D
    opening = -1 if resume else start      # the SHB the walk starts on opens no section
    if not big and sys.byteorder == "little":
        mv = memoryview(raw)
        words = mv[:size - size % 4].cast("I")
        last = len(words) - 3
        try:
            for _ in range(budget):
                if off > end:
                    return off, "end"
                i = off >> 2
                if words[i] == shb and off != opening:
                    if i > last or words[i + 2] != bom:
                        return off, "shb"
                    sections.append(len(offsets))
                length = words[i + 1]
                if length < 12 or length & 3:
                    return off, "bad"
                append(off)
                off += length
        finally:
            words.release()
            mv.release()
    else:
        triple = struct.Struct(">III" if big else "<III").unpack_from
        pair = struct.Struct(">II" if big else "<II").unpack_from
        for _ in range(budget):
            if off > end:
                return off, "end"
            kind, length = pair(raw, off)
            if kind == shb and off != opening:
                if off + 12 > size or triple(raw, off)[2] != bom:
                    return off, "shb"
                sections.append(len(offsets))
            if length < 12 or length & 3:
                return off, "bad"
            append(off)
            off += length
    return off, "end" if off > end else "more"
