"""``analyze_stream`` and ``analyze_capture``: from a ``CaptureIndex`` to ``StreamAnalysis``.

Invariants:
- Both give the same result for a stream (``analyze_capture`` only shares the work:
  options are read and copies found once for the whole file).
- Copies of a packet seen at another capture point are found first
  (``core.analysis.duplicates``); the analysis runs on the other packets only, and each
  copy then repeats its original's numbers with no labels.
- A stream's first packet is ``reused_ports`` when it is a SYN and an earlier stream has
  the same endpoints (tshark starts a new stream only for such a SYN).
- ``analyze_streams`` (some streams, their rows given) gives the same again: options
  and copies are per stream, so reading them for several streams together changes
  nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np

from core.analysis import fast
from core.analysis.duplicates import find_copies
from core.analysis.inputs import StreamOutput, stream_input
from core.analysis.labels import labels_of
from core.analysis.options import OptionColumns, read_options
from core.analysis.result import StreamAnalysis
from core.capture.index import CaptureIndex, take_rows
from core.gcpause import paused
from core.progress import Progress, ignore

Arr = np.ndarray[Any, np.dtype[Any]]
_NO_LABELS: tuple[str, ...] = ()
#: The analysis used per stream (tests swap in ``strict=True`` to compare with tshark).
_analyze = fast.analyze


def analyze_stream(index: CaptureIndex, stream: int, *,
                   progress: Progress = ignore) -> StreamAnalysis:
    """The analysis of one stream of ``index`` (the garbage collector paused meanwhile,
    see :mod:`core.gcpause`); ``progress(packets done, packets)`` as
    :mod:`core.progress` says (it may raise ``Cancelled``)."""
    with paused():
        return _analyze_stream(index, stream, progress)


def _analyze_stream(index: CaptureIndex, stream: int, progress: Progress) -> StreamAnalysis:
    p = index.packets
    rows = np.flatnonzero(p["stream"] == stream).astype(np.int64)
    if rows.size == 0:
        raise ValueError(f"stream {stream} is not in the capture")
    progress(0, int(rows.size))
    opts = read_options(index, rows, check=lambda: progress(0, int(rows.size)))
    local = np.arange(rows.size)
    mine = take_rows(p, rows)
    copies = find_copies(mine, opts.tsval)
    head = p[rows[0]]
    earlier = take_rows(p, np.flatnonzero(p["stream"] < stream))
    a = (int(head["src"]), int(head["sport"]))
    b = (int(head["dst"]), int(head["dport"]))
    fwd = (earlier["src"] == a[0]) & (earlier["sport"] == a[1]) & (
        earlier["dst"] == b[0]) & (earlier["dport"] == b[1])
    back = (earlier["src"] == b[0]) & (earlier["sport"] == b[1]) & (
        earlier["dst"] == a[0]) & (earlier["dport"] == a[1])
    reused = bool((fwd | back).any())
    progress(0, int(rows.size))
    return replace(_one(mine, opts, local, copies, stream, rows, reused, progress),
                   options=opts)


def analyze_capture(index: CaptureIndex, *,
                    progress: Progress = ignore) -> list[StreamAnalysis]:
    """The analysis of every stream of ``index``, in stream order; ``progress(packets
    done, packets)`` over the whole capture as :mod:`core.progress` says (it may raise
    ``Cancelled``)."""
    p = index.packets
    n = int(p.shape[0])
    if n == 0:
        return []
    progress(0, n)
    opts = read_options(index, check=lambda: progress(0, n))
    copies = find_copies(p, opts.tsval)
    progress(0, n)
    stream = p["stream"].astype(np.int64)
    order = np.argsort(stream, kind="stable")
    bounds = np.flatnonzero(np.diff(stream[order])) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [n]])
    heads = order[starts]
    reused = reused_endpoints(p[heads])
    out = []
    for k, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        rows = order[s:e]
        out.append(_one(p, opts, rows, copies, int(stream[heads[k]]), rows,
                        bool(reused[k]), _from(progress, s, n)))
    progress(n, n)
    return out


def analyze_streams(index: CaptureIndex, streams: Sequence[int], rows: Sequence[Arr],
                    reused: Sequence[bool]) -> list[StreamAnalysis]:
    """The analysis of each of ``streams`` given its ``rows`` (indices into
    ``index.packets``, frame order) and whether an earlier stream shares its endpoints
    (``reused_endpoints``): options are read and copies found once for all their
    packets. Each result carries its stream's options, as ``analyze_stream``'s do."""
    if not streams:
        return []
    with paused():
        every = np.concatenate([np.asarray(r, np.int64) for r in rows])
        p = take_rows(index.packets, every)
        opts = read_options(index, every)
        copies = find_copies(p, opts.tsval)
        out = []
        start = 0
        for stream, mine, again in zip(streams, rows, reused, strict=True):
            local = np.arange(start, start + len(mine))
            start += len(mine)
            own = OptionColumns(*(getattr(opts, f.name)[local] for f in fields(opts)))
            out.append(replace(_one(p, opts, local, copies, int(stream),
                                    np.asarray(mine, np.int64), bool(again)), options=own))
        return out


def _from(progress: Progress, before: int, total: int) -> Progress:
    """One stream's progress as part of the capture's: its packets after ``before``."""
    if progress is ignore:
        return ignore
    return lambda done, _: progress(before + done, total)


def reused_endpoints(heads: Arr) -> Arr:
    """Per stream (given its first packet): does an earlier stream share its endpoints?"""
    a = heads["src"].astype(np.int64) << 16 | heads["sport"]
    b = heads["dst"].astype(np.int64) << 16 | heads["dport"]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = np.stack([lo, hi], axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    out = np.ones(heads.shape[0], bool)
    out[first] = False
    return out


def _one(packets: Arr, opts: OptionColumns, rows: Arr, copies: Arr, stream: int,
         index_rows: Arr, reused: bool, progress: Progress = ignore) -> StreamAnalysis:
    """Analyse ``rows`` (indices into ``packets``/``opts``/``copies``) as one stream."""
    dup = copies[rows]
    keep = dup < 0
    kept = rows[keep]
    head = packets[rows[0]]
    syn = int(head["flags"]) & 0x12 == 0x02
    inp = stream_input(packets, opts, kept, reused_first=reused and syn)
    res = _analyze(inp, progress=progress)
    n = int(rows.shape[0])
    p = take_rows(packets, rows)
    from_a = (p["src"] == head["src"]) & (p["sport"] == head["sport"])
    a_is_flow1 = bool(inp.flow1[0]) if len(inp) else True
    ws = res.win_scale if a_is_flow1 else (res.win_scale[1], res.win_scale[0])
    full = _expand(res, keep, n)
    labels = [_NO_LABELS] * n
    pos = np.flatnonzero(keep)
    labelled = np.flatnonzero(res.bits)
    for j, bits in zip(pos[labelled].tolist(), res.bits[labelled].tolist(), strict=True):
        labels[j] = labels_of(bits)
    duplicate_of = np.full(n, -1, np.int64)
    if not keep.all():
        # copies repeat their original (same stream, an earlier row) numbers
        where = {int(r): k for k, r in enumerate(rows.tolist())}
        for k in np.flatnonzero(~keep).tolist():
            orig = where[int(dup[k])]
            duplicate_of[k] = index_rows[orig]
            for col in (full.rel_seq, full.rel_ack, full.next_seq, full.win):
                col[k] = col[orig]
    rtt = np.where((full.acks_frame > 0) & (full.ack_rtt != 0), full.ack_rtt / 1e9, np.nan)
    rto = np.where(full.rto != 0, full.rto / 1e9, np.nan)
    return StreamAnalysis(
        stream=stream, rows=np.asarray(index_rows, np.int64), from_a=from_a,
        rel_seq=full.rel_seq, rel_ack=full.rel_ack, next_seq=full.next_seq, win=full.win,
        win_scale=ws, labels=labels, dup_ack_num=full.dup_num.astype(np.int32),
        dup_ack_of=full.dup_frame, acks_frame=full.acks_frame, ack_rtt=rtt,
        bytes_in_flight=full.bif, duplicate_of=duplicate_of, rto=rto,
        rto_frame=np.where(full.rto != 0, full.rto_frame, 0))


def _expand(res: StreamOutput, keep: Arr, n: int) -> StreamOutput:
    if bool(keep.all()):
        return res
    full = StreamOutput.empty(n)
    for name in ("bits", "rel_seq", "rel_ack", "next_seq", "win", "dup_num", "dup_frame",
                 "acks_frame", "ack_rtt", "bif", "rto", "rto_frame"):
        getattr(full, name)[keep] = getattr(res, name)
    return full
