"""pcapng files: sections of either byte order, many interfaces, EPB/SPB/OPB packets.

Invariants:
- Block framing must add up: every block length is a multiple of 4, at least 12, at
  most 16 MiB, and repeated at the block's end; fixed block fields must fit. Anything
  else is one ``CaptureError`` at the block's offset.
- A block cut by the end of the file is dropped with a warning (the blocks before it are
  kept); so are fewer than 8 stray bytes at the end.
- Unknown block types are skipped. A packet block must name an interface described
  earlier in its section; interfaces of unknown link types are kept but marked
  unsupported (their packets are counted, not decoded).
- Times honour ``if_tsresol`` (10^-n and 2^-n) and ``if_tsoffset``; SPBs have no time (0).
"""

from __future__ import annotations

import struct
from array import array
from typing import Any

import numpy as np

from core.capture import linktypes
from core.capture.index import MAX_RECORD, CaptureWarning, Interface
from core.capture.records import Records, walk_blocks
from core.capture.source import Source, gather_rows, u32

SHB = 0x0A0D0D0A
IDB, OPB, SPB, EPB = 1, 2, 3, 6
BOMS = {b"\x1a\x2b\x3c\x4d": True, b"\x4d\x3c\x2b\x1a": False}
MAX_BLOCK = 16 * 1024 * 1024
_MIN_LENGTH = {SHB: 28, IDB: 20, EPB: 32, OPB: 32, SPB: 16}
_OPT_NAME, _OPT_TSRESOL, _OPT_TSOFFSET = 2, 9, 14

Arr = np.ndarray[Any, np.dtype[Any]]


class _Interfaces:
    def __init__(self) -> None:
        self.all: list[Interface] = []
        self.big: list[bool] = []
        self.resol: list[int] = []          # the raw if_tsresol byte
        self.offset_s: list[int] = []


def read_pcapng(src: Source) -> Records:
    """Walk every block of a pcapng file (see module invariants)."""
    offsets: array[int] = array("q")
    sections: list[tuple[int, bool]] = []       # (index of its SHB in offsets, big)
    warnings: list[CaptureWarning] = []
    pos = 0
    while True:
        big = _section_order(src, pos)
        sections.append((len(offsets), big))
        pos, why = walk_blocks(src.raw, pos, src.size, big, offsets)
        if why == "bad":
            length = struct.unpack_from(">I" if big else "<I", src.raw, pos + 4)[0]
            raise src.error(pos, f"block length {length} is not a multiple of 4 of at least 12")
        if why == "end":
            break
    blocks = np.frombuffer(offsets, np.int64) if len(offsets) else np.zeros(0, np.int64)
    if pos < src.size:
        warnings.append(CaptureWarning(pos, f"the file ends inside a block header "
                                            f"({src.size - pos} stray bytes)"))
    ifaces = _Interfaces()
    parts: list[dict[str, Arr]] = []
    bounds = [s for s, _ in sections] + [blocks.shape[0]]
    for k, (first, big) in enumerate(sections):
        section = blocks[first:bounds[k + 1]]
        part = _section(src, section, big, ifaces, warnings)
        if part is not None:
            parts.append(part)
    if parts:
        cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    else:
        cols = {key: np.zeros(0, np.int64) for key in ("block", "data", "caplen", "wirelen",
                                                       "time_ns", "iface")}
    return Records(format="pcapng", block=cols["block"], data=cols["data"],
                   caplen=cols["caplen"], wirelen=np.maximum(cols["wirelen"], cols["caplen"]),
                   time_ns=cols["time_ns"], iface=cols["iface"].astype(np.uint16),
                   interfaces=tuple(ifaces.all), big_endian=tuple(ifaces.big),
                   warnings=warnings)


def _section_order(src: Source, pos: int) -> bool:
    if src.size - pos < 28:
        raise src.error(pos, f"the file ends inside a section header block "
                             f"({src.size - pos} of at least 28 bytes)")
    bom = bytes(src.raw[pos + 8:pos + 12])
    if bom not in BOMS:
        raise src.error(pos + 8, f"bad byte-order magic {bom.hex()} in the section header")
    big = BOMS[bom]
    major = struct.unpack_from(">H" if big else "<H", src.raw, pos + 12)[0]
    if major != 1:
        raise src.error(pos + 12, f"unsupported pcapng version {major}")
    return big


def _section(src: Source, blocks: Arr, big: bool, ifaces: _Interfaces,
             warnings: list[CaptureWarning]) -> dict[str, Arr] | None:
    """Validate one section's blocks; return its packet records as columns."""
    head = gather_rows(src.buf, blocks, 32)
    kind = u32(head, 0, big).astype(np.int64)
    length = u32(head, 4, big).astype(np.int64)
    end = blocks + length
    if length.size and int(end[-1]) > src.size:
        last = int(blocks[-1])
        if int(length[-1]) > MAX_BLOCK:
            raise src.error(last, f"block length {int(length[-1])} is over {MAX_BLOCK} bytes")
        warnings.append(CaptureWarning(last, (
            f"the file ends inside a block of {int(length[-1])} bytes at byte {last} "
            f"(the file has {src.size - last}); the blocks before it were read")))
        blocks, head, kind, length, end = blocks[:-1], head[:-1], kind[:-1], length[:-1], end[:-1]
    _check(src, blocks, kind, length, end, big)

    base = len(ifaces.all)
    for off in blocks[kind == IDB].tolist():
        _read_idb(src, off, big, ifaces, warnings)
    count = len(ifaces.all) - base
    packet = np.isin(kind, (EPB, SPB, OPB))
    if not packet.any():
        return None
    rows = np.flatnonzero(packet)
    pk = kind[rows]
    ph = head[rows]
    known = np.cumsum(kind == IDB)[rows]            # interfaces described so far
    word = u32(ph, 8, big)
    local = np.where(pk == OPB, (word >> 16) if big else (word & 0xFFFF), word).astype(np.int64)
    local[pk == SPB] = 0
    bad = np.flatnonzero(local >= known)
    if bad.size:
        i = int(bad[0])
        raise src.error(int(blocks[rows[i]]), f"packet block refers to interface "
                                              f"{int(local[i])}, but only {int(known[i])} "
                                              f"were described before it in its section")
    caplen = u32(ph, 20, big).astype(np.int64)
    wirelen = u32(ph, 24, big).astype(np.int64)
    data = blocks[rows] + 28
    spb = pk == SPB
    if spb.any():
        snap0 = ifaces.all[base].snaplen if count else 0
        wirelen[spb] = u32(ph, 8, big)[spb]
        room = length[rows] - 16
        caplen[spb] = np.minimum(wirelen[spb], room[spb])
        if snap0:
            caplen[spb] = np.minimum(caplen[spb], snap0)
        data[spb] = blocks[rows][spb] + 12
    over = np.flatnonzero((caplen > length[rows] - 32) & ~spb)
    if over.size:
        i = int(over[0])
        raise src.error(int(blocks[rows[i]]), f"packet block says {int(caplen[i])} captured "
                                              f"bytes, more than its length {int(length[rows[i]])} "
                                              f"leaves")
    huge = np.flatnonzero(caplen > MAX_RECORD)
    if huge.size:
        i = int(huge[0])
        raise src.error(int(blocks[rows[i]]), f"packet of {int(caplen[i])} captured bytes, "
                                              f"more than {MAX_RECORD}")
    iface = local + base
    stamp = (u32(ph, 12, big).astype(np.uint64) << np.uint64(32)) | u32(ph, 16, big)
    time_ns = np.zeros(rows.size, np.int64)
    for g in np.unique(iface).tolist():
        sel = (iface == g) & ~spb
        time_ns[sel] = to_ns(stamp[sel], ifaces.resol[g], ifaces.offset_s[g])
    return {"block": blocks[rows], "data": data, "caplen": caplen, "wirelen": wirelen,
            "time_ns": time_ns, "iface": iface}


def _check(src: Source, blocks: Arr, kind: Arr, length: Arr, end: Arr, big: bool) -> None:
    """Block framing: size limit, trailing length, minimum length per type."""
    problems = []
    over = np.flatnonzero(length > MAX_BLOCK)
    if over.size:
        i = int(over[0])
        problems.append((i, f"block length {int(length[i])} is over {MAX_BLOCK} bytes"))
    trail = u32(gather_rows(src.buf, end - 4, 4), 0, big).astype(np.int64)
    mismatch = np.flatnonzero(trail != length)
    if mismatch.size:
        i = int(mismatch[0])
        problems.append((i, f"trailing block length {int(trail[i])} does not match "
                            f"the leading length {int(length[i])}"))
    minimum = np.full(kind.shape, 12, np.int64)
    for t, m in _MIN_LENGTH.items():
        minimum[kind == t] = m
    short = np.flatnonzero(length < minimum)
    if short.size:
        i = int(short[0])
        problems.append((i, f"block of type 0x{int(kind[i]):x} is {int(length[i])} bytes, "
                            f"shorter than its fixed fields"))
    if problems:
        i, text = min(problems)
        raise src.error(int(blocks[i]), text)


def _read_idb(src: Source, off: int, big: bool, ifaces: _Interfaces,
              warnings: list[CaptureWarning]) -> None:
    order = ">" if big else "<"
    length = struct.unpack_from(order + "I", src.raw, off + 4)[0]
    link, _reserved, snaplen = struct.unpack_from(order + "HHI", src.raw, off + 8)
    resol, offset_s, name = 6, 0, ""
    pos, stop = off + 16, off + length - 4
    while pos + 4 <= stop:
        code, size = struct.unpack_from(order + "HH", src.raw, pos)
        if code == 0:
            break
        if pos + 4 + size > stop:
            raise src.error(pos, f"interface option {code} of {size} bytes runs past its block")
        value = bytes(src.raw[pos + 4:pos + 4 + size])
        if code == _OPT_TSRESOL and size >= 1:
            resol = value[0]
        elif code == _OPT_TSOFFSET and size == 8:
            offset_s = struct.unpack(order + "q", value)[0]
        elif code == _OPT_NAME:
            name = value.split(b"\0", 1)[0].decode("utf-8", "replace")
        pos += 4 + size + (-size % 4)
    supported = link in linktypes.SUPPORTED
    if not supported:
        warnings.append(CaptureWarning(off, f"interface {len(ifaces.all)} has unknown link "
                                            f"type {link}: its packets are not decoded"))
    exp = resol & 0x7F
    text = f"2^-{exp}" if resol & 0x80 else f"1e-{exp}"
    ifaces.all.append(Interface(link_type=link, snaplen=snaplen, name=name,
                                ts_resolution=text, supported=supported))
    ifaces.big.append(big)
    ifaces.resol.append(resol)
    ifaces.offset_s.append(offset_s)


def to_ns(stamp: Arr, resol: int, offset_s: int) -> Arr:
    """pcapng timestamps (units of 10^-n or 2^-n s) to int64 ns; wraps rather than raises."""
    exp = resol & 0x7F
    with np.errstate(over="ignore"):
        if resol & 0x80:
            if exp <= 32:
                whole = (stamp >> np.uint64(exp)) * np.uint64(1_000_000_000)
                frac = ((stamp & np.uint64((1 << exp) - 1)) * np.uint64(1_000_000_000)) \
                    >> np.uint64(exp)
                ns = whole + frac
            else:
                ns = (stamp.astype(np.float64) * (1e9 / 2.0**exp)).astype(np.uint64)
        elif exp <= 9:
            ns = stamp * np.uint64(10 ** (9 - exp))
        elif exp <= 28:
            ns = stamp // np.uint64(10 ** (exp - 9))
        else:
            ns = np.zeros_like(stamp)
        out = ns.view(np.int64) + np.int64(offset_s) * np.int64(1_000_000_000)
    return out
