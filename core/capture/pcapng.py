"""pcapng files: sections of either byte order, many interfaces, EPB/SPB/OPB packets.

Invariants:
- Block framing must add up: every block length is a multiple of 4, at least 12, at
  most 16 MiB, and repeated at the block's end; fixed block fields must fit. Anything
  else is one ``CaptureError`` at the block's offset.
- A block cut by the end of the file is dropped with a warning (the blocks before it are
  kept); so are fewer than 8 stray bytes at the end.
- Unknown block types are skipped. A packet block must name an interface described
  earlier in its section; interfaces of unknown link types are kept but marked
  unsupported (their packets are counted, not decoded). At most 65535 interfaces.
- Times honour ``if_tsresol`` (10^-n and 2^-n) and ``if_tsoffset``; SPBs have no time (0).
  A time outside ``0 .. MAX_TIME_NS`` (1970-01-01 to 2262-04-11, what int64 ns hold) is
  clamped to the nearest end and reported in one warning, so any two times of a capture
  differ by a value that fits in int64 (no overflow downstream).
- Work is linear in the number of blocks whatever the number of sections: blocks of all
  sections are validated together, each with its section's byte order.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

from core.capture import linktypes
from core.capture.index import MAX_RECORD, CaptureWarning, Interface
from core.capture.records import Records, walk_blocks
from core.capture.source import GATHER_CHUNK, Source, be16, be32, gather_rows, le32
from core.progress import Progress, ignore
from core.text import counted

SHB = 0x0A0D0D0A
IDB, OPB, SPB, EPB = 1, 2, 3, 6
BOMS = {b"\x1a\x2b\x3c\x4d": True, b"\x4d\x3c\x2b\x1a": False}
MAX_BLOCK = 16 * 1024 * 1024
MAX_INTERFACES = 0xFFFF
#: Blocks walked between two progress calls (tens of milliseconds).
WALK_BUDGET = 1 << 15
_MIN_LENGTH = {SHB: 28, IDB: 20, EPB: 32, OPB: 32, SPB: 16}
_OPT_NAME, _OPT_TSRESOL, _OPT_TSOFFSET = 2, 9, 14
#: The latest time an int64 of nanoseconds holds (2262-04-11T23:47:16.854775807Z).
MAX_TIME_NS = 2**63 - 1
_EDGE_NS = 2.0**20          # float estimates this near an end are decided exactly

Arr = np.ndarray[Any, np.dtype[Any]]


def read_pcapng(src: Source, progress: Progress = ignore) -> Records:
    """Walk every block of a pcapng file (see module invariants); ``progress(bytes
    walked, size)`` at the start, every ``WALK_BUDGET`` blocks and at the end."""
    progress(0, src.size)
    offsets: array[int] = array("q")
    starts: list[int] = []          # index in offsets of each section's SHB
    orders: list[bool] = []         # big endian, per run of same-order sections
    runs: list[int] = []            # index in offsets where each run starts
    warnings: list[CaptureWarning] = []
    pos = 0
    while True:
        big = _section_order(src, pos)
        runs.append(len(offsets))
        orders.append(big)
        starts.append(len(offsets))
        pos, why = walk_blocks(src.raw, pos, src.size, big, offsets, starts, WALK_BUDGET)
        while why == "more":
            progress(min(pos, src.size), src.size)
            pos, why = walk_blocks(src.raw, pos, src.size, big, offsets, starts, WALK_BUDGET,
                                   resume=True)
        if why == "bad":
            length = struct.unpack_from(">I" if big else "<I", src.raw, pos + 4)[0]
            raise src.error(pos, f"block length {length} is not a multiple of 4 of at least 12")
        if why == "end":
            break

    def check() -> None:
        progress(src.size, src.size)
    check()
    if pos < src.size:
        warnings.append(CaptureWarning(pos, f"the file ends inside a block header "
                                            f"({counted(src.size - pos, 'stray byte')})"))
    blocks = np.frombuffer(offsets, np.int64) if len(offsets) else np.zeros(0, np.int64)
    counts = np.diff(np.append(runs, blocks.shape[0]))
    order = np.repeat(np.array(orders, bool), counts)
    section = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, blocks.shape[0])))
    return _blocks(src, blocks, order, section, warnings, check)


def _section_order(src: Source, pos: int) -> bool:
    if src.size - pos < 28:
        raise src.error(pos, f"the file ends inside a section header block "
                             f"({src.size - pos} of at least 28 bytes)")
    bom = bytes(src.raw[pos + 8:pos + 12])
    if bom not in BOMS:
        raise src.error(pos + 8, f"bad byte-order magic {bom.hex()} in the section header")
    return BOMS[bom]


def _u32(rows: Arr, col: int, big: Arr) -> Arr:
    return np.where(big, be32(rows, col), le32(rows, col)).astype(np.int64)


def _blocks(src: Source, blocks: Arr, big: Arr, section: Arr,
            warnings: list[CaptureWarning], check: Callable[[], None]) -> Records:
    head = gather_rows(src.buf, blocks, 32, check)
    kind = _u32(head, 0, big)
    length = _u32(head, 4, big)
    check()
    if length.size and int(blocks[-1] + length[-1]) > src.size:
        last = int(blocks[-1])
        if int(length[-1]) > MAX_BLOCK:
            raise src.error(last, f"block length {int(length[-1])} is over {MAX_BLOCK} bytes")
        warnings.append(CaptureWarning(last, (
            f"the file ends inside a block of {counted(int(length[-1]), 'byte')} at byte {last} "
            f"(the file has {src.size - last}); the blocks before it were read")))
        blocks, head, kind, length = blocks[:-1], head[:-1], kind[:-1], length[:-1]
        big, section = big[:-1], section[:-1]
    _check(src, blocks, head, kind, length, big, check)
    check()

    is_idb = kind == IDB
    if int(np.count_nonzero(is_idb)) > MAX_INTERFACES:
        raise src.error(int(blocks[np.flatnonzero(is_idb)[MAX_INTERFACES]]),
                        f"more than {MAX_INTERFACES} interfaces")
    ifaces = [_read_idb(src, off, bool(b), i, warnings)
              for i, (off, b) in enumerate(zip(blocks[is_idb].tolist(), big[is_idb].tolist(),
                                               strict=True))]
    seen = np.cumsum(is_idb)                              # interfaces described so far
    before = np.concatenate([[0], seen])                  # ... before each block
    first_block = np.searchsorted(section, np.arange(int(section[-1]) + 1 if section.size
                                                     else 0))
    base = before[first_block][section] if section.size else section   # section's first
    check()

    rows = np.flatnonzero(np.isin(kind, (EPB, SPB, OPB)))
    pk, ph, pb = kind[rows], head[rows], big[rows]
    check()
    word = _u32(ph, 8, pb)
    local = np.where(pk == OPB, np.where(pb, word >> 16, word & 0xFFFF), word)
    local[pk == SPB] = 0
    known = seen[rows] - base[rows]
    bad = np.flatnonzero(local >= known)
    if bad.size:
        i = int(bad[0])
        raise src.error(int(blocks[rows[i]]), f"packet block refers to interface "
                                              f"{int(local[i])}, but only {int(known[i])} "
                                              f"were described before it in its section")
    iface = local + base[rows]
    check()
    caplen = _u32(ph, 20, pb)
    wirelen = _u32(ph, 24, pb)
    data = blocks[rows] + 28
    spb = pk == SPB
    if spb.any():
        snaplen = np.array([i.snaplen for i, _, _ in ifaces], np.int64)[iface[spb]]
        wirelen[spb] = word[spb]
        room = length[rows][spb] - 16
        caplen[spb] = np.where(snaplen > 0, np.minimum(np.minimum(word[spb], room), snaplen),
                               np.minimum(word[spb], room))
        data[spb] = blocks[rows][spb] + 12
    over = np.flatnonzero((caplen > length[rows] - 32) & ~spb)
    if over.size:
        i = int(over[0])
        said = counted(int(caplen[i]), "captured byte")
        raise src.error(int(blocks[rows[i]]), f"packet block says {said}, more than its "
                                              f"length {int(length[rows[i]])} leaves")
    huge = np.flatnonzero(caplen > MAX_RECORD)
    if huge.size:
        i = int(huge[0])
        said = counted(int(caplen[i]), "captured byte")
        raise src.error(int(blocks[rows[i]]), f"packet of {said}, more than {MAX_RECORD}")
    check()
    resols = np.array([r for _, r, _ in ifaces] or [6], np.int64)
    offsets = np.array([o for _, _, o in ifaces] or [0], np.int64)
    time_ns = np.zeros(rows.size, np.int64)
    outside = np.zeros(rows.size, bool)
    for start in range(0, rows.size, GATHER_CHUNK):
        part = slice(start, start + GATHER_CHUNK)
        stamp = (_u32(ph[part], 12, pb[part]).astype(np.uint64) << np.uint64(32)) | \
            _u32(ph[part], 16, pb[part]).astype(np.uint64)
        resol, offset_s, timed = resols[iface[part]], offsets[iface[part]], ~spb[part]
        times, out = time_ns[part], outside[part]
        for r in np.unique(resol[timed]).tolist():
            sel = (resol == r) & timed
            times[sel], out[sel] = to_ns(stamp[sel], r, offset_s[sel])
        check()
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        outside_n = int(np.count_nonzero(outside))
        warnings.append(CaptureWarning(int(blocks[rows[i]]), (
            f"{counted(outside_n, 'packet')} with a time outside 1970-01-01 .. "
            f"2262-04-11 (if_tsresol/if_tsoffset or the timestamp out of range); the first "
            f"is frame {i + 1}; shown at the nearest end of that range")))
    interfaces = tuple(i for i, _, _ in ifaces)
    iface_big = big[is_idb]
    return Records(format="pcapng", block=blocks[rows], data=data, caplen=caplen,
                   wirelen=np.maximum(wirelen, caplen), time_ns=time_ns,
                   iface=iface.astype(np.uint16), interfaces=interfaces,
                   big_endian=tuple(bool(b) for b in iface_big.tolist()), warnings=warnings)


def _check(src: Source, blocks: Arr, head: Arr, kind: Arr, length: Arr, big: Arr,
           check: Callable[[], None]) -> None:
    """Block framing: size limit, trailing length, minimum length per type, SHB version."""
    problems = []
    over = np.flatnonzero(length > MAX_BLOCK)
    if over.size:
        i = int(over[0])
        problems.append((i, 0, f"block length {int(length[i])} is over {MAX_BLOCK} bytes"))
    trail = _u32(gather_rows(src.buf, blocks + length - 4, 4, check), 0, big)
    check()
    mismatch = np.flatnonzero(trail != length)
    if mismatch.size:
        i = int(mismatch[0])
        problems.append((i, 0, f"trailing block length {int(trail[i])} does not match "
                               f"the leading length {int(length[i])}"))
    minimum = np.full(kind.shape, 12, np.int64)
    for t, m in _MIN_LENGTH.items():
        minimum[kind == t] = m
    short = np.flatnonzero(length < minimum)
    if short.size:
        i = int(short[0])
        size = counted(int(length[i]), "byte")
        problems.append((i, 0, f"block of type 0x{int(kind[i]):x} is {size}, "
                               f"shorter than its fixed fields"))
    check()
    shb = kind == SHB
    major = np.where(big, be16(head, 12), be16(head, 12).byteswap())
    wrong = np.flatnonzero(shb & (major != 1))
    if wrong.size:
        i = int(wrong[0])
        problems.append((i, 12, f"unsupported pcapng version {int(major[i])}"))
    if problems:
        i, extra, text = min(problems)
        raise src.error(int(blocks[i]) + extra, text)


def _read_idb(src: Source, off: int, big: bool, number: int,
              warnings: list[CaptureWarning]) -> tuple[Interface, int, int]:
    """The interface, its raw if_tsresol byte and its if_tsoffset (seconds)."""
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
            raise src.error(pos, f"interface option {code} of {counted(size, 'byte')} runs "
                                 "past its block")
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
        warnings.append(CaptureWarning(off, f"interface {number} has unknown link type "
                                            f"{link}: its packets are not decoded"))
    exp = resol & 0x7F
    text = f"2^-{exp}" if resol & 0x80 else f"1e-{exp}"
    return (Interface(link_type=link, snaplen=snaplen, name=name, ts_resolution=text,
                      supported=supported), resol, offset_s)


def to_ns(stamp: Arr, resol: int, offset_s: Arr | int) -> tuple[Arr, Arr]:
    """pcapng timestamps (units of 10^-n or 2^-n s) to int64 ns since the epoch.

    Returns the times and a mask of those outside ``0 .. MAX_TIME_NS``, which are
    clamped to that range. Arithmetic is modulo 2**64, exact for every in-range
    result; a float estimate decides the range, and values near an end are decided
    exactly (Python integers).
    """
    exp = resol & 0x7F
    units = float(2**exp if resol & 0x80 else 10**exp)
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
        offset = np.broadcast_to(np.asarray(offset_s, np.int64), stamp.shape)
        out: Arr = ns.view(np.int64) + offset * np.int64(1_000_000_000)
    part_a = stamp.astype(np.float64) * (1e9 / units)
    part_b = offset.astype(np.float64) * 1e9
    estimate = part_a + part_b
    slack = (np.abs(part_a) + np.abs(part_b)) * 2.0**-48 + _EDGE_NS   # float error bound
    below, above = estimate < -slack, estimate > MAX_TIME_NS + slack
    near = ~below & ~above & ((estimate > MAX_TIME_NS - slack)
                              | ((estimate < slack) & (offset != 0)))   # else exact, >= 0
    out[below], out[above] = 0, MAX_TIME_NS
    outside = below | above
    for k in np.flatnonzero(near).tolist():           # near an end: decide exactly
        exact = _exact_ns(int(stamp[k]), resol, int(offset[k]))
        outside[k] = not 0 <= exact <= MAX_TIME_NS
        out[k] = min(max(exact, 0), MAX_TIME_NS)
    return out, outside


def _exact_ns(stamp: int, resol: int, offset_s: int) -> int:
    """One timestamp in ns with Python integers (as ``to_ns`` rounds: down)."""
    exp = resol & 0x7F
    if resol & 0x80 and exp > 32:
        ns = int(float(stamp) * (1e9 / 2.0**exp))
    elif resol & 0x80:
        ns = (stamp >> exp) * 1_000_000_000 + (((stamp & ((1 << exp) - 1)) * 1_000_000_000)
                                               >> exp)
    elif exp <= 28:
        ns = stamp * 10 ** (9 - exp) if exp <= 9 else stamp // 10 ** (exp - 9)
    else:
        ns = 0
    return ns + offset_s * 1_000_000_000
