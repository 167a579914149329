"""Per-stream summaries of a capture index, computed with numpy (no per-packet Python).

Invariants:
- One row per stream id ``0..S-1`` (stream ids are dense, as tshark's are).
- Endpoint "a" is the source of the stream's first packet (tshark's conversation "A").
- ``bytes`` counts TCP payload bytes (from the IP lengths), both directions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.capture.index import CaptureIndex

STREAM_DTYPE = np.dtype([
    ("stream", "<i4"),
    ("a", "<u4"),            # address id of the first packet's source
    ("a_port", "<u2"),
    ("b", "<u4"),
    ("b_port", "<u2"),
    ("packets", "<i8"),
    ("bytes", "<i8"),
    ("packets_ab", "<i8"),   # packets sent by a
    ("first_ns", "<i8"),     # absolute time of the first and last packet (frame order)
    ("last_ns", "<i8"),
    ("first_frame", "<u4"),
    ("last_frame", "<u4"),
])


def list_streams(index: CaptureIndex) -> np.ndarray[Any, np.dtype[Any]]:
    """A :data:`STREAM_DTYPE` row per stream of ``index``, in stream order."""
    p = index.packets
    stream = p["stream"].astype(np.int64)
    count = int(stream.max()) + 1 if stream.size else 0
    out = np.zeros(count, STREAM_DTYPE)
    if count == 0:
        return out
    order = np.arange(stream.size)
    first = np.empty(count, np.int64)
    last = np.empty(count, np.int64)
    first[stream[::-1]] = order[::-1]           # the last write wins: the smallest index
    last[stream] = order
    head = p[first]
    out["stream"] = np.arange(count)
    out["a"], out["a_port"] = head["src"], head["sport"]
    out["b"], out["b_port"] = head["dst"], head["dport"]
    out["packets"] = np.bincount(stream, minlength=count)
    out["bytes"] = np.bincount(stream, weights=p["payload_len"], minlength=count).astype(np.int64)
    from_a = (p["src"] == out["a"][stream]) & (p["sport"] == out["a_port"][stream])
    out["packets_ab"] = np.bincount(stream[from_a], minlength=count)
    out["first_ns"], out["last_ns"] = head["time_ns"], p["time_ns"][last]
    out["first_frame"], out["last_frame"] = head["frame"], p["frame"][last]
    return out


def stream_label(index: CaptureIndex, row: np.void) -> str:
    """``"10.0.0.1:1234 <-> 10.0.0.2:80"`` for one :data:`STREAM_DTYPE` row."""
    def ep(addr: int, port: int) -> str:
        text = index.addresses[addr]
        return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"
    return f"{ep(int(row['a']), int(row['a_port']))} <-> {ep(int(row['b']), int(row['b_port']))}"
