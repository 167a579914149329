"""``read_capture``: file -> records -> decoded headers -> the packet index.

Invariants:
- The only exception that leaves ``read_capture`` is ``CaptureError`` (one per file).
- Frames are decoded in chunks of ``CHUNK`` records, grouped by link type, so temporary
  memory stays a few tens of MB whatever the file size; the index costs 64 B a packet.
- Per-frame trouble (non-TCP, fragments, broken headers, cut TCP headers) never stops the
  read: it is counted on the index and summarized in its warnings.
- ``stages``, when given, is told four stages (:mod:`core.progress`): ``READING`` (bytes
  brought into memory, a ``LOAD_CHUNK`` at a time), ``WALKING`` (bytes walked from
  record to record), ``DECODING`` (bytes decoded: after each chunk of ``CHUNK``
  records) and ``INDEXING`` (``INDEX_STEPS`` steps: conversations, addresses, streams).
  ``progress(done, total)`` alone is the decoding stage as it always was: bytes of the
  file read so far and its size, at the start, when the records are walked, after each
  decoded chunk, at the end (``total, total``); never per packet. Either may raise
  ``Cancelled``, which leaves ``read_capture`` unchanged (the only other exception that
  does).
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

from core.capture.addresses import address_names, address_numbers
from core.capture.decode import (
    C_FRAGMENT,
    C_MALFORMED,
    C_OTHER,
    C_TRUNCATED,
    C_UNDECODED,
    decode_frames,
)
from core.capture.index import (
    INFO_BAD_DOFF,
    INFO_NO_SEGLEN,
    INFO_OPTIONS_CUT,
    INFO_PAYLOAD_CUT,
    PACKET_DTYPE,
    CaptureIndex,
    CaptureWarning,
)
from core.capture.pcap import MAGICS, read_pcap
from core.capture.pcapng import read_pcapng
from core.capture.records import Records
from core.capture.source import DEFAULT_MAX_BYTES, Source, be16, be32
from core.capture.streams import assign_streams, conversation_order
from core.errors import CaptureError
from core.progress import DECODING, INDEXING, READING, WALKING, Progress, Stages, ignore
from core.text import counted

CHUNK = 1 << 16
_CLASSES = C_UNDECODED + 1
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

Arr = np.ndarray[Any, np.dtype[Any]]
#: Steps of the ``INDEXING`` stage.
INDEX_STEPS = 4


def read_capture(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 progress: Progress | None = None,
                 stages: Stages | None = None) -> CaptureIndex:
    """Index every TCP packet of a pcap or pcapng file (see ``core.capture``); progress
    and cancellation as the module invariants say."""
    name = os.fspath(path)
    with Source(name, max_bytes=max_bytes, populate=stages is None) as src:
        try:
            told = _Told(src.size, progress, stages)
            index = _read(src, told)
            told.decoding(src.size, src.size)
            return index
        except CaptureError:
            raise
        except (ValueError, IndexError, OverflowError, struct.error) as exc:  # pragma: no cover
            raise CaptureError(name, 0, f"unreadable capture (internal: {exc!r})") from exc


class _Told:
    """Who hears of each stage: ``stages``, or ``progress`` for the decoding alone."""

    def __init__(self, size: int, progress: Progress | None, stages: Stages | None) -> None:
        self.given = stages is not None or progress is not None
        if stages is not None:
            self.reading, self.walking = stages(READING), stages(WALKING)
            self.decoding, self.indexing = stages(DECODING), stages(INDEXING)
        else:
            self.reading = self.walking = self.indexing = ignore
            self.decoding = progress if progress is not None else ignore
            self.decoding(0, size)


def _read(src: Source, told: _Told) -> CaptureIndex:
    magic = bytes(src.raw[:4])
    if told.reading is not ignore:
        src.load(told.reading)
    if magic in MAGICS:
        rec = read_pcap(src, told.walking)
    elif magic == PCAPNG_MAGIC:
        rec = read_pcapng(src, told.walking)
    elif src.size < 4:
        raise src.error(0, f"the file is {counted(src.size, 'byte')}, too short for a capture")
    else:
        raise src.error(0, f"not a pcap or pcapng file (magic {magic.hex()})")
    return _index(src, rec, _Meter(src.size, rec.block, told.decoding if told.given
                                   else None), told.indexing)


class _Meter:
    """Bytes read so far, told to ``progress`` after each decoded chunk of records.

    A record's bytes run from its start to the next record's (blocks in between count
    with the record before them); the file header counts as read once the walk is done.
    """

    def __init__(self, size: int, block: Arr, progress: Progress | None) -> None:
        self.size = size
        self.progress = progress
        if progress is None:
            return
        ends = np.append(block[1:], size) if block.size else block
        self.spans = ends - block
        self.done = int(block[0]) if block.size else 0
        progress(self.done, size)

    def chunk(self, rows: Arr) -> None:
        if self.progress is not None:
            self.done += int(self.spans[rows].sum())
            self.progress(self.done, self.size)


class _Fill:
    """The packet rows being filled chunk by chunk, plus what the chunks counted."""

    def __init__(self, capacity: int) -> None:
        self.pk = np.empty(capacity, PACKET_DTYPE)
        self.used = 0
        self.counts = np.zeros(_CLASSES, np.int64)
        self.first: dict[int, int] = {}         # class -> first record index
        self.v6: list[tuple[Arr, Arr, Arr]] = []  # (rows, src6, dst6) of IPv6 packets


def _index(src: Source, rec: Records, meter: _Meter, indexing: Progress) -> CaptureIndex:
    frames = rec.block.shape[0]
    links = np.array([i.link_type for i in rec.interfaces], np.int64)
    ok = np.array([i.supported for i in rec.interfaces], bool)
    unsupported = int(np.count_nonzero(~ok[rec.iface])) if frames and not ok.all() else 0
    groups = sorted({(int(links[i]), rec.big_endian[i]) for i in range(len(links)) if ok[i]})
    fill = _Fill(frames - unsupported)
    for link, big in groups:
        ids = [i for i in range(len(links)) if links[i] == link and rec.big_endian[i] == big]
        sel = np.flatnonzero(np.isin(rec.iface, ids)) if len(groups) > 1 or unsupported \
            else None
        total = frames if sel is None else sel.size
        for start in range(0, total, CHUNK):
            rows = np.arange(start, min(start + CHUNK, total)) if sel is None \
                else sel[start:start + CHUNK]
            _decode_chunk(src, rec, rows, link, big, fill)
            meter.chunk(rows)
    # what the index keeps of the records; their columns (~40 B a frame) go before the
    # stream numbering's own temporaries are made (the read's peak memory)
    warnings = rec.warnings + _summaries(rec, fill)
    start_ns = int(rec.time_ns[0]) if frames else 0
    _release(rec)

    indexing(0, INDEX_STEPS)
    m = fill.used
    pk = fill.pk[:m] if m >= 0.75 * fill.pk.shape[0] else fill.pk[:m].copy()
    perm = None
    if len(groups) > 1:
        perm = np.argsort(pk["frame"], kind="stable")
        pk = pk[perm]
    version = pk["ip_version"]
    src6 = np.zeros((m, 16), np.uint8) if fill.v6 else np.zeros((0, 16), np.uint8)
    dst6 = src6.copy()
    for rows6, s6, d6 in fill.v6:
        src6[rows6], dst6[rows6] = s6, d6
    if perm is not None and fill.v6:
        src6, dst6 = src6[perm], dst6[perm]
    src_num, dst_num, table6 = address_numbers(version, pk["src"], pk["dst"], src6, dst6)
    indexing(1, INDEX_STEPS)
    ep_a = (src_num << np.uint64(16)) | pk["sport"]
    ep_b = (dst_num << np.uint64(16)) | pk["dport"]
    del src_num, dst_num, src6, dst6
    conv_order, conv_first = conversation_order(ep_a, ep_b, lambda: indexing(1, INDEX_STEPS))
    indexing(2, INDEX_STEPS)
    pk["src"], pk["dst"], names = _address_ids(ep_a, ep_b, conv_order, conv_first, table6)
    indexing(3, INDEX_STEPS)
    analyzed = (pk["info"] & INFO_NO_SEGLEN) == 0
    pk["stream"] = assign_streams(conv_order, conv_first, ep_a, ep_b, pk["flags"], pk["seq"],
                                  pk["ack"], analyzed, lambda: indexing(3, INDEX_STEPS))
    indexing(INDEX_STEPS, INDEX_STEPS)
    counts = fill.counts
    return CaptureIndex(
        path=src.path, format=rec.format, packets=pk, addresses=names,
        interfaces=rec.interfaces, frames=frames,
        start_ns=start_ns,
        non_tcp=int(counts[C_OTHER] + counts[C_UNDECODED]), fragments=int(counts[C_FRAGMENT]),
        truncated=int(counts[C_TRUNCATED]), malformed=int(counts[C_MALFORMED]),
        unsupported=unsupported, warnings=warnings)


def _release(rec: Records) -> None:
    """Drop the per-record columns of ``rec`` (decoded: ``_index`` needs them no more)."""
    empty = np.zeros(0, np.int64)
    rec.block = rec.data = rec.caplen = rec.wirelen = rec.time_ns = empty
    rec.iface = np.zeros(0, np.uint16)


def _address_ids(ep_a: Arr, ep_b: Arr, order: Arr, first: Arr,
                 table6: Arr) -> tuple[Arr, Arr, list[str]]:
    """Address ids per packet via the (few) endpoint pairs of the conversations."""
    if ep_a.size == 0:
        return np.zeros(0, np.uint32), np.zeros(0, np.uint32), []
    reps = order[first]
    lo = np.minimum(ep_a[reps], ep_b[reps]) >> np.uint64(16)
    hi = np.maximum(ep_a[reps], ep_b[reps]) >> np.uint64(16)
    numbers = np.unique(np.concatenate([lo, hi]))
    id_lo = np.searchsorted(numbers, lo).astype(np.uint32)
    id_hi = np.searchsorted(numbers, hi).astype(np.uint32)
    group = np.empty(ep_a.size, np.int64)
    group[order] = np.cumsum(first) - 1
    a_is_lo = ep_a <= ep_b
    src = np.where(a_is_lo, id_lo[group], id_hi[group])
    dst = np.where(a_is_lo, id_hi[group], id_lo[group])
    return src, dst, address_names(numbers, table6)


def _decode_chunk(src: Source, rec: Records, rows: Arr, link: int, big: bool,
                  fill: _Fill) -> None:
    data, caplen = rec.data[rows], rec.caplen[rows]
    dec = decode_frames(src.buf, data, caplen, rec.wirelen[rows], link, big)
    fill.counts += np.bincount(dec.cls, minlength=_CLASSES)[:_CLASSES]
    for c in (C_FRAGMENT, C_MALFORMED, C_TRUNCATED, C_UNDECODED):
        if c not in fill.first:
            hit = np.flatnonzero(dec.cls == c)
            if hit.size:
                fill.first[c] = int(rows[hit[0]])
    k = dec.rows.size
    out = fill.pk[fill.used:fill.used + k]
    record = rows[dec.rows]
    h = dec.header
    tcp = dec.tcp.astype(np.int64)
    doff = (h[:, 12] >> 4).astype(np.int64)
    hdr_len = doff * 4
    seg = dec.seg_len
    has_seg = seg >= hdr_len
    payload = np.where(has_seg, seg - hdr_len, 0)
    cap = caplen[dec.rows]
    info = np.where(has_seg, 0, INFO_NO_SEGLEN) | np.where(doff < 5, INFO_BAD_DOFF, 0)
    info |= np.where(cap < tcp + hdr_len, INFO_OPTIONS_CUT, 0)
    info |= np.where(cap < tcp + hdr_len + payload, INFO_PAYLOAD_CUT, 0)
    out["time_ns"] = rec.time_ns[record]
    out["data_offset"] = data[dec.rows]
    out["frame"] = record + 1
    out["stream"] = 0
    out["src"], out["dst"] = dec.src4, dec.dst4
    out["seq"], out["ack"] = be32(h, 4), be32(h, 8)
    out["payload_len"] = payload
    out["caplen"] = cap
    out["sport"], out["dport"] = be16(h, 0), be16(h, 2)
    out["flags"] = ((h[:, 12].astype(np.uint16) & 1) << 8) | h[:, 13]
    out["window"] = be16(h, 14)
    out["tcp_offset"] = tcp
    out["interface"] = rec.iface[record]
    out["tcp_hdr_len"] = hdr_len
    out["ip_version"] = dec.version
    out["info"] = info
    v6 = np.flatnonzero(dec.version == 6)
    if v6.size:
        fill.v6.append((v6 + fill.used, dec.src6[v6], dec.dst6[v6]))
    fill.used += k


def _summaries(rec: Records, parts: _Fill) -> list[CaptureWarning]:
    out = []
    texts = {C_FRAGMENT: ("IP fragment", "IP fragments", "(not reassembled, not read as TCP)"),
             C_MALFORMED: ("frame", "frames", "with broken link or IP headers"),
             C_TRUNCATED: ("TCP frame", "TCP frames",
                           "whose 20-byte TCP header was not captured"),
             C_UNDECODED: ("frame", "frames", "with more than 20 stacked VLAN tags (not "
                                              "decoded, as in tshark)")}
    for c, (one, many, text) in texts.items():
        n = int(parts.counts[c])
        if n:
            i = parts.first[c]
            out.append(CaptureWarning(int(rec.block[i]), f"{counted(n, one, many)} {text}; "
                                                         f"the first is frame {i + 1}"))
    return out
