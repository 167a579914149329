"""The stream list from the capture index alone: ``synack streams`` and the GUI's list.

    table = stream_table(index)         # one row per tcp.stream, numpy columns

(``core.streams.stream_output`` writes it as ``synack streams`` text and JSON.)

Rules:
1. Every column is computed with whole-array numpy over the index (no Python loop over
   packets or streams), so a capture of 1M packets or 100,000 streams lists in well
   under a second after the read. Final states and analysis labels need a replay per
   stream and are not here (``core.replay.report.stream_rows``, ``synack streams
   --states``; the GUI fills them in later).
2. The client is guessed as the replay guesses it (:func:`core.replay.roles.client_is_a`,
   the same rule on the same packets): the sender of the first SYN without ACK; failing
   that, the receiver of the first SYN+ACK; failing that, the side whose port is not
   well-known when exactly one is (< 1024); failing that, the sender of the stream's
   first packet. ``client_by`` says which (``CLIENT_BY``).
3. ``bytes`` are TCP payload bytes (from the IP lengths), ``packets`` count every
   packet of the stream (copies seen at a second capture point included); ``first`` and
   ``last`` are the times of the stream's first and last packet in frame order, seconds
   since the file's first frame; ``duration`` is ``last - first``, never below 0.
4. Flags are counted per sender: ``syn`` (SYN without ACK), ``syn_ack`` (SYN+ACK),
   ``fin`` and ``rst`` (any packet carrying them).
5. ``reused_ports`` is tshark's ``tcp.analysis.reused_ports`` for the stream (it can
   only be on its first packet): that packet is a SYN without ACK and an earlier stream
   has the same two endpoints. It is the one analysis label the index alone decides.
6. This module imports nothing but numpy and the index (``synack streams`` starts fast).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.capture.index import CaptureIndex

Arr = np.ndarray[Any, np.dtype[Any]]

SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04
#: A port below this is "well-known" for the client guess (rule 2).
WELL_KNOWN = 1024
#: How the client was told, by ``client_by`` code (rule 2).
CLIENT_BY = ("syn", "syn_ack", "port", "first")
BY_SYN, BY_SYN_ACK, BY_PORT, BY_FIRST = range(len(CLIENT_BY))
#: The flag counts, in column order; ``FLAG_MARKS`` is their short text.
FLAGS = ("syn", "syn_ack", "fin", "rst")
FLAG_MARKS = {"syn": "S", "syn_ack": "SA", "fin": "F", "rst": "R"}
SIDES = ("client", "server")

TABLE_DTYPE = np.dtype([
    ("stream", "<i4"),
    ("client", "<u4"),            # address id (CaptureIndex.addresses) of the client
    ("client_port", "<u2"),
    ("server", "<u4"),
    ("server_port", "<u2"),
    ("client_by", "u1"),          # index into CLIENT_BY
    ("reused_ports", "?"),
    ("packets", "<u4"),
    ("client_packets", "<u4"),    # packets sent by the client
    ("bytes", "<i8"),
    ("client_bytes", "<i8"),      # payload bytes sent by the client
    ("first_ns", "<i8"),          # absolute times of the first and last packet
    ("last_ns", "<i8"),
    ("client_syn", "<u4"), ("client_syn_ack", "<u4"), ("client_fin", "<u4"),
    ("client_rst", "<u4"),
    ("server_syn", "<u4"), ("server_syn_ack", "<u4"), ("server_fin", "<u4"),
    ("server_rst", "<u4"),
])

#: What the index-only list shows (``synack streams`` prints it first, as a comment).



@dataclass(frozen=True, slots=True, eq=False)
class StreamTable:
    """One :data:`TABLE_DTYPE` row per stream, in stream order, with what reads them.

    ``index`` is the capture the rows come from (None for a table built from arrays,
    e.g. in tests and benchmarks); ``addresses`` name the address ids; ``start_ns`` is
    the time of the file's first frame.
    """

    rows: Arr
    addresses: list[str]
    start_ns: int
    index: CaptureIndex | None = None

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, stream: object) -> bool:
        return isinstance(stream, int) and 0 <= stream < len(self) \
            and int(self.rows["stream"][stream]) == stream

    @property
    def streams(self) -> Arr:
        return self.rows["stream"]

    def seconds(self, field: str) -> Arr:
        """``first_ns``/``last_ns`` as seconds since the file's first frame."""
        return (self.rows[field] - np.int64(self.start_ns)) / 1e9

    def duration(self) -> Arr:
        """Seconds from each stream's first to its last packet (rule 3)."""
        span: Arr = np.maximum(self.rows["last_ns"] - self.rows["first_ns"], 0) / 1e9
        return span

    def endpoint(self, row: int, side: str) -> str:
        """``10.0.0.1:80`` or ``[2001:db8::1]:80`` for ``side`` of row ``row``."""
        r = self.rows[row]
        return endpoint_text(self.addresses[int(r[side])], int(r[f"{side}_port"]))

    def flags_text(self, row: int, side: str) -> str:
        """``S F`` (what ``side`` sent), ``SAx2`` for two SYN+ACKs, ``-`` for none."""
        r = self.rows[row]
        return flags_text([int(r[f"{side}_{name}"]) for name in FLAGS])


def endpoint_text(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}"


def flags_text(counts: list[int]) -> str:
    """``S F``, ``SAx2`` (two SYN+ACKs), ``-`` for none: counts in ``FLAGS`` order."""
    parts = [FLAG_MARKS[name] + (f"x{n}" if n > 1 else "")
             for name, n in zip(FLAGS, counts, strict=True) if n]
    return " ".join(parts) or "-"


def stream_table(index: CaptureIndex) -> StreamTable:
    """The stream list of ``index`` (module rules)."""
    p = index.packets
    n = int(p.shape[0])
    stream = p["stream"].astype(np.intp)
    count = int(stream.max()) + 1 if n else 0
    out = np.zeros(count, TABLE_DTYPE)
    table = StreamTable(rows=out, addresses=index.addresses, start_ns=index.start_ns,
                        index=index)
    if count == 0:
        return table
    order = np.arange(n)
    first = _first_of(stream, order, count)
    last = np.empty(count, np.intp)
    last[stream] = order                              # the last write wins: the largest
    head = p[first]
    a, a_port = head["src"], head["sport"]
    b, b_port = head["dst"], head["dport"]
    src, sport = p["src"], p["sport"]
    from_a = (src == a[stream]) & (sport == a_port[stream])
    flags = p["flags"]
    syn_ack = flags & (SYN | ACK)
    client_is_a, by = _client_is_a(stream, count, from_a, syn_ack, a_port, b_port)
    from_client = from_a == client_is_a[stream]

    out["stream"] = np.arange(count)
    out["client"] = np.where(client_is_a, a, b)
    out["client_port"] = np.where(client_is_a, a_port, b_port)
    out["server"] = np.where(client_is_a, b, a)
    out["server_port"] = np.where(client_is_a, b_port, a_port)
    out["client_by"] = by
    out["packets"] = np.bincount(stream, minlength=count)
    out["client_packets"] = np.bincount(stream[from_client], minlength=count)
    payload = p["payload_len"]
    out["bytes"] = np.bincount(stream, weights=payload, minlength=count)
    out["client_bytes"] = np.bincount(stream[from_client], weights=payload[from_client],
                                      minlength=count)
    out["first_ns"], out["last_ns"] = head["time_ns"], p["time_ns"][last]
    for name, mask in (("syn", syn_ack == SYN), ("syn_ack", syn_ack == SYN | ACK),
                       ("fin", (flags & FIN) != 0), ("rst", (flags & RST) != 0)):
        at = np.flatnonzero(mask)
        mine = from_client[at]
        out[f"client_{name}"] = np.bincount(stream[at[mine]], minlength=count)
        out[f"server_{name}"] = np.bincount(stream[at[~mine]], minlength=count)
    out["reused_ports"] = (syn_ack[first] == SYN) & _shared_endpoints(a, a_port, b, b_port)
    return table


def _first_of(stream: Arr, order: Arr, count: int) -> Arr:
    """Each stream's first packet (streams are numbered in order of their first packet,
    as tshark's are, so it is where the running maximum of the stream id grows)."""
    grows = np.ones(stream.shape[0], bool)
    grows[1:] = stream[1:] > np.maximum.accumulate(stream)[:-1]
    first = order[grows]
    if first.shape[0] != count or bool(np.any(stream[first] != np.arange(count))):
        first = np.empty(count, np.intp)            # not in that order: the general way
        first[stream[::-1]] = order[::-1]
    return first


def _first_where(stream: Arr, count: int, mask: Arr) -> Arr:
    """Per stream, the first packet where ``mask`` holds, -1 where none does."""
    at = np.flatnonzero(mask)
    out = np.full(count, -1, np.intp)
    out[stream[at[::-1]]] = at[::-1]                # the last write wins: the smallest
    return out


def _client_is_a(stream: Arr, count: int, from_a: Arr, syn_ack: Arr, a_port: Arr,
                 b_port: Arr) -> tuple[Arr, Arr]:
    """Rule 2, per stream: is endpoint "a" (the first packet's source) the client, and
    which part of the rule said so."""
    syn = _first_where(stream, count, syn_ack == SYN)
    synack = _first_where(stream, count, syn_ack == SYN | ACK)
    a_low, b_low = a_port < WELL_KNOWN, b_port < WELL_KNOWN
    by = np.where(syn >= 0, BY_SYN, np.where(synack >= 0, BY_SYN_ACK, np.where(
        a_low != b_low, BY_PORT, BY_FIRST))).astype(np.uint8)
    out = np.ones(count, bool)
    has = syn >= 0
    out[has] = from_a[syn[has]]
    only = (synack >= 0) & ~has
    out[only] = ~from_a[synack[only]]
    port = by == BY_PORT
    out[port] = b_low[port]
    return out, by


def _shared_endpoints(a: Arr, a_port: Arr, b: Arr, b_port: Arr) -> Arr:
    """Per stream: does an earlier stream have the same two endpoints (either way)?"""
    ea = a.astype(np.uint64) << np.uint64(16) | a_port.astype(np.uint64)
    eb = b.astype(np.uint64) << np.uint64(16) | b_port.astype(np.uint64)
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    order = np.lexsort((np.arange(lo.shape[0]), hi, lo))
    later = np.zeros(lo.shape[0], bool)
    same = (lo[order][1:] == lo[order][:-1]) & (hi[order][1:] == hi[order][:-1])
    later[order[1:][same]] = True
    return later
