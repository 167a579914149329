"""Compare ``StreamAnalysis`` results with a corpus ``NAME.truth.json`` (tshark 4.0.17 -2).

Every disagreement is sorted into one of the documented categories (``core.analysis``)
by checking the packets themselves; anything else is reported as ``unexplained``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from core.analysis import StreamAnalysis, analyze_capture
from core.capture import CaptureIndex

Packet = dict[str, Any]


def load_truth(path: Path) -> list[Packet]:
    return [p for p in json.loads(path.read_text())["packets"] if p.get("tcp")]


def ours_by_frame(index: CaptureIndex,
                  streams: list[StreamAnalysis] | None = None) -> dict[int, tuple[Any, int]]:
    frames = index.packets["frame"]
    out = {}
    for sa in streams if streams is not None else analyze_capture(index):
        for k, row in enumerate(sa.rows.tolist()):
            out[int(frames[row])] = (sa, k)
    return out


def fields(sa: StreamAnalysis, k: int) -> dict[str, Any]:
    rtt = float(sa.ack_rtt[k])
    return {
        "seq": int(sa.rel_seq[k]),
        "ack": None if sa.rel_ack[k] < 0 else int(sa.rel_ack[k]),
        "nxtseq": None if sa.next_seq[k] < 0 else int(sa.next_seq[k]),
        "win": int(sa.win[k]),
        "analysis": list(sa.labels[k]),
        "dup_ack_num": int(sa.dup_ack_num[k]) or None,
        "dup_ack_of_frame": int(sa.dup_ack_of[k]) or None,
        "acks_frame": int(sa.acks_frame[k]) or None,
        "ack_rtt": None if math.isnan(rtt) else rtt,
        "bytes_in_flight": None if sa.bytes_in_flight[k] < 0 else int(sa.bytes_in_flight[k]),
    }


def expected(p: Packet) -> dict[str, Any]:
    av = p.get("analysis_values", {})
    out = {k: p[k] for k in ("seq", "ack", "nxtseq", "win", "analysis")}
    for k in ("dup_ack_num", "dup_ack_of_frame", "acks_frame", "ack_rtt", "bytes_in_flight"):
        out[k] = av.get(k)
    if p["len"] is None:
        out["nxtseq"] = None
    return out


def differences(got: dict[str, Any], want: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    out = {}
    for k, g in got.items():
        w = want[k]
        if k == "ack_rtt" and g is not None and w is not None:
            if abs(g - w) > 1e-6:
                out[k] = (g, w)
        elif g != w:
            out[k] = (g, w)
    return out
