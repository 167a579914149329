"""``read_capture``: file -> records -> decoded headers -> the packet index.

Invariants:
- The only exception that leaves ``read_capture`` is ``CaptureError`` (one per file).
- Frames are decoded in chunks of ``CHUNK`` records, grouped by link type, so temporary
  memory stays a few tens of MB whatever the file size; the index costs 64 B a packet.
- Per-frame trouble (non-TCP, fragments, broken headers, cut TCP headers) never stops the
  read: it is counted on the index and summarized in its warnings.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

from core.capture.addresses import address_names, address_numbers
from core.capture.decode import C_FRAGMENT, C_MALFORMED, C_OTHER, C_TRUNCATED, decode_frames
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

CHUNK = 1 << 18
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

Arr = np.ndarray[Any, np.dtype[Any]]


def read_capture(path: str | os.PathLike[str], *,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> CaptureIndex:
    """Index every TCP packet of a pcap or pcapng file (see ``core.capture``)."""
    name = os.fspath(path)
    with Source(name, max_bytes=max_bytes) as src:
        try:
            return _read(src)
        except CaptureError:
            raise
        except (ValueError, IndexError, OverflowError, struct.error) as exc:  # pragma: no cover
            raise CaptureError(name, 0, f"unreadable capture (internal: {exc!r})") from exc


def _read(src: Source) -> CaptureIndex:
    magic = bytes(src.raw[:4])
    if magic in MAGICS:
        rec = read_pcap(src)
    elif magic == PCAPNG_MAGIC:
        rec = read_pcapng(src)
    elif src.size < 4:
        raise src.error(0, f"the file is {src.size} bytes, too short for a capture")
    else:
        raise src.error(0, f"not a pcap or pcapng file (magic {magic.hex()})")
    return _index(src, rec)


class _Parts:
    """Decoded TCP frames, collected chunk by chunk."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Arr]] = {}
        self.counts = np.zeros(5, np.int64)
        self.first: dict[int, int] = {}         # class -> first record index

    def add(self, key: str, value: Arr) -> None:
        self.cols.setdefault(key, []).append(value)

    def get(self, key: str, dtype: Any) -> Arr:
        parts = self.cols.get(key)
        if not parts:
            return np.zeros((0, 16) if key in ("src6", "dst6") else 0, dtype)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _index(src: Source, rec: Records) -> CaptureIndex:
    frames = rec.block.shape[0]
    parts = _Parts()
    links = np.array([i.link_type for i in rec.interfaces], np.int64)
    ok = np.array([i.supported for i in rec.interfaces], bool)
    unsupported = int(np.count_nonzero(~ok[rec.iface])) if frames and not ok.all() else 0
    groups = sorted({(int(links[i]), rec.big_endian[i]) for i in range(len(links)) if ok[i]})
    for link, big in groups:
        ids = [i for i in range(len(links)) if links[i] == link and rec.big_endian[i] == big]
        sel = np.flatnonzero(np.isin(rec.iface, ids)) if len(groups) > 1 or unsupported \
            else None
        total = frames if sel is None else sel.size
        for start in range(0, total, CHUNK):
            rows = np.arange(start, min(start + CHUNK, total)) if sel is None \
                else sel[start:start + CHUNK]
            _decode_chunk(src, rec, rows, link, big, parts)

    order = parts.get("record", np.int64)
    if len(groups) > 1:
        perm = np.argsort(order, kind="stable")
        for key in list(parts.cols):
            parts.cols[key] = [parts.get(key, np.int64)[perm]]
        order = order[perm]
    version = parts.get("version", np.uint8)
    src_num, dst_num, table6 = address_numbers(
        version, parts.get("src4", np.uint32), parts.get("dst4", np.uint32),
        parts.get("src6", np.uint8), parts.get("dst6", np.uint8))
    sport, dport = parts.get("sport", np.uint16), parts.get("dport", np.uint16)
    ep_a = (src_num << np.uint64(16)) | sport
    ep_b = (dst_num << np.uint64(16)) | dport
    conv_order, conv_first = conversation_order(ep_a, ep_b)
    src_ids, dst_ids, names = _address_ids(ep_a, ep_b, conv_order, conv_first, table6)

    pk = np.zeros(order.shape[0], PACKET_DTYPE)
    pk["time_ns"] = rec.time_ns[order]
    pk["data_offset"] = rec.data[order]
    pk["frame"] = order + 1
    pk["caplen"] = rec.caplen[order]
    pk["interface"] = rec.iface[order]
    pk["src"], pk["dst"], pk["ip_version"] = src_ids, dst_ids, version
    pk["sport"], pk["dport"] = sport, dport
    for key in ("seq", "ack", "flags", "window", "tcp_offset", "tcp_hdr_len", "payload_len",
                "info"):
        pk[key] = parts.get(key, np.int64)
    analyzed = (pk["info"] & INFO_NO_SEGLEN) == 0
    pk["stream"] = assign_streams(conv_order, conv_first, ep_a, ep_b, pk["flags"], pk["seq"],
                                  pk["ack"], analyzed)
    counts = parts.counts
    warnings = rec.warnings + _summaries(rec, parts)
    return CaptureIndex(
        path=src.path, format=rec.format, packets=pk, addresses=names,
        interfaces=rec.interfaces, frames=frames,
        start_ns=int(rec.time_ns[0]) if frames else 0,
        non_tcp=int(counts[C_OTHER]), fragments=int(counts[C_FRAGMENT]),
        truncated=int(counts[C_TRUNCATED]), malformed=int(counts[C_MALFORMED]),
        unsupported=unsupported, warnings=warnings)


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
                  parts: _Parts) -> None:
    data, caplen = rec.data[rows], rec.caplen[rows]
    dec = decode_frames(src.buf, data, caplen, rec.wirelen[rows], link, big)
    parts.counts += np.bincount(dec.cls, minlength=5)[:5]
    for c in (C_FRAGMENT, C_MALFORMED, C_TRUNCATED):
        if c not in parts.first:
            hit = np.flatnonzero(dec.cls == c)
            if hit.size:
                parts.first[c] = int(rows[hit[0]])
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
    parts.add("record", rows[dec.rows])
    parts.add("version", dec.version)
    parts.add("src4", dec.src4)
    parts.add("dst4", dec.dst4)
    parts.add("src6", dec.src6)
    parts.add("dst6", dec.dst6)
    parts.add("sport", be16(h, 0))
    parts.add("dport", be16(h, 2))
    parts.add("seq", be32(h, 4))
    parts.add("ack", be32(h, 8))
    parts.add("flags", ((h[:, 12].astype(np.uint16) & 1) << 8) | h[:, 13])
    parts.add("window", be16(h, 14))
    parts.add("tcp_offset", tcp)
    parts.add("tcp_hdr_len", hdr_len)
    parts.add("payload_len", payload)
    parts.add("info", info)


def _summaries(rec: Records, parts: _Parts) -> list[CaptureWarning]:
    out = []
    texts = {C_FRAGMENT: "IP fragments (not reassembled, not read as TCP)",
             C_MALFORMED: "frames with broken link or IP headers",
             C_TRUNCATED: "TCP frames whose 20-byte TCP header was not captured"}
    for c, text in texts.items():
        count = int(parts.counts[c])
        if count:
            i = parts.first[c]
            out.append(CaptureWarning(int(rec.block[i]),
                                      f"{count} {text}; the first is frame {i + 1}"))
    return out
