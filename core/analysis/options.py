"""The few TCP options the analysis needs, read for many packets at once with numpy.

Invariants:
- One pass over the memory-mapped file: the option bytes of every packet whose header is
  longer than 20 bytes are gathered and walked as TLVs in lock step (at most 40 steps).
- The walk stops where Wireshark 4.0's ``tcp_dissect_options`` stops: at EOL, at a length
  byte past the options, at a length under 2 or running past the header; bytes not
  captured end the walk too.
- ``wscale``: the shift of a 3-byte window-scale option, capped at 14 (RFC 7323), or -1.
- ``sack_sum``: the bytes covered by the first three SACK blocks of the last SACK option
  (tshark keeps three for bytes in flight), modulo 2**32; ``sack_count`` its blocks.
- ``tfo_cookie``: a Fast Open cookie (kind 34, or experimental kind 254 with magic
  0xF989) longer than a cookie request.
- ``tsval``/``tsecr``: the timestamps option (RFC 7323), -1 when absent (the replay's
  evidence: TSecr names what the peer had received).
- ``sack_edges``: the first ``MAX_SACK`` blocks of the last SACK option as raw
  (left, right) sequence numbers, ``sack_blocks`` how many (the replay's evidence: what
  arrived, and what arrived twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.capture.index import INFO_BAD_DOFF, CaptureIndex, take_rows
from core.capture.source import Source, gather_rows

Arr = np.ndarray[Any, np.dtype[Any]]

_WIDTH = 40
#: Packets with options read between two checks (tens of milliseconds).
CHUNK = 1 << 15
_NOP_NOP_TS = np.array([1, 1, 8, 10], np.uint8)


@dataclass(frozen=True, slots=True)
class OptionColumns:
    """Per packet of the index (same order): what the analysis reads from the options."""

    wscale: Arr       # int16, -1 when absent
    sack_count: Arr   # int8
    sack_sum: Arr     # int64, modulo 2**32
    tfo_cookie: Arr   # bool
    tsval: Arr        # int64, -1 when absent
    tsecr: Arr        # int64, -1 when absent
    sack_blocks: Arr  # int8: blocks in sack_edges (all of them, up to MAX_SACK)
    sack_edges: Arr   # int64 (n, MAX_SACK, 2): raw (left, right) edges


#: SACK blocks kept per packet (40 option bytes hold at most 4).
MAX_SACK = 4


def empty_columns(n: int) -> OptionColumns:
    return OptionColumns(np.full(n, -1, np.int16), np.zeros(n, np.int8),
                         np.zeros(n, np.int64), np.zeros(n, bool),
                         np.full(n, -1, np.int64), np.full(n, -1, np.int64),
                         np.zeros(n, np.int8), np.zeros((n, MAX_SACK, 2), np.int64))


def read_options(index: CaptureIndex, rows: Arr | None = None, *,
                 check: Callable[[], None] | None = None) -> OptionColumns:
    """The option columns of ``rows`` (default: every packet) of ``index``; with
    ``check``, ``CHUNK`` packets with options at a time, calling it after each."""
    p = index.packets if rows is None else take_rows(index.packets, rows)
    n = int(p.shape[0])
    out = empty_columns(n)
    hdr = p["tcp_hdr_len"].astype(np.int64)
    cand = np.flatnonzero((hdr > 20) & ((p["info"] & INFO_BAD_DOFF) == 0))
    if cand.size == 0:
        return out
    step = CHUNK if check is not None else cand.size
    with Source(index.path, populate=False) as src:    # the pages of these packets only
        for first in range(0, cand.size, step):
            _fill(src, p, hdr, cand[first:first + step], out)
            if check is not None:
                check()
    return out


def _fill(src: Source, p: Arr, hdr: Arr, cand: Arr, out: OptionColumns) -> None:
    """The columns of the packets ``cand`` (positions in ``p``, with options)."""
    start = (p["data_offset"][cand].astype(np.int64) + p["tcp_offset"][cand] + 20)
    room = p["caplen"][cand].astype(np.int64) - p["tcp_offset"][cand] - 20
    length = np.clip(np.minimum(hdr[cand] - 20, room), 0, _WIDTH)
    g = gather_rows(src.buf, start, _WIDTH).copy()
    # Linux's usual NOP NOP timestamps and nothing else: no walk needed.
    plain = (length == 12) & (g[:, :4] == _NOP_NOP_TS).all(axis=1)
    if plain.any():
        rows = np.flatnonzero(plain)
        stamps = np.ascontiguousarray(g[rows, 4:12]).view(">u4")     # TSval, TSecr
        out.tsval[cand[rows]] = stamps[:, 0]
        out.tsecr[cand[rows]] = stamps[:, 1]
    walk = np.flatnonzero(~plain)
    if walk.size:
        _walk(g[walk], length[walk], cand[walk], out)


def _walk(g: Arr, length: Arr, where: Arr, out: OptionColumns) -> None:
    m = g.shape[0]
    g = np.concatenate([g, np.zeros((m, 2), np.uint8)], axis=1)  # room for kind+len reads
    pos = np.zeros(m, np.int64)
    stopped = np.zeros(m, bool)
    for _ in range(_WIDTH):
        live = np.flatnonzero(~stopped & (pos < length))
        if live.size == 0:
            break
        at = pos[live]
        kind = g[live, at]
        stopped[live[kind == 0]] = True
        nop = kind == 1
        pos[live[nop]] += 1
        opt = kind > 1
        rows, at, kind = live[opt], at[opt], kind[opt]
        rem = length[rows] - at
        size = g[rows, at + 1].astype(np.int64)
        bad = (rem < 2) | (size < 2) | (size > rem)
        stopped[rows[bad]] = True
        ok = ~bad
        rows, at, kind, size = rows[ok], at[ok], kind[ok], size[ok]
        _record(g, rows, at, kind, size, where, out)
        pos[rows] = at + size


def _record(g: Arr, live: Arr, at: Arr, kind: Arr, size: Arr, where: Arr,
            out: OptionColumns) -> None:
    ws = (kind == 3) & (size == 3)
    if ws.any():
        out.wscale[where[live[ws]]] = np.minimum(g[live[ws], at[ws] + 2], 14)
    sack = kind == 5
    if sack.any():
        rows, base = live[sack], at[sack] + 2
        blocks = (size[sack] - 2) // 8
        total = np.zeros(rows.size, np.int64)
        for b in range(3):
            has = blocks > b
            if not has.any():
                break
            r, o = rows[has], base[has] + 8 * b
            total[has] += (_be32(g, r, o + 4) - _be32(g, r, o)) & 0xFFFFFFFF
        out.sack_sum[where[rows]] = total & 0xFFFFFFFF
        out.sack_count[where[rows]] = np.minimum(blocks, 3)
        kept = np.minimum(blocks, MAX_SACK)
        out.sack_blocks[where[rows]] = kept
        for b in range(MAX_SACK):
            has = kept > b
            if not has.any():
                break
            r, o = rows[has], base[has] + 8 * b
            out.sack_edges[where[r], b, 0] = _be32(g, r, o)
            out.sack_edges[where[r], b, 1] = _be32(g, r, o + 4)
    ts = (kind == 8) & (size == 10)
    if ts.any():
        r, o = live[ts], at[ts] + 2
        out.tsval[where[r]] = _be32(g, r, o)
        out.tsecr[where[r]] = _be32(g, r, o + 4)
    tfo = ((kind == 34) & (size > 2)) | (
        (kind == 254) & (size > 4) & (g[live, np.minimum(at + 2, 41)] == 0xF9)
        & (g[live, np.minimum(at + 3, 41)] == 0x89))
    if tfo.any():
        out.tfo_cookie[where[live[tfo]]] = True


def _be32(g: Arr, rows: Arr, col: Arr) -> Arr:
    cols = np.minimum(col[:, None] + np.arange(4), g.shape[1] - 1)
    b = g[rows[:, None], cols].astype(np.int64)
    return np.asarray((b[:, 0] << 24) | (b[:, 1] << 16) | (b[:, 2] << 8) | b[:, 3])
