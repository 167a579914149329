"""Every TCP packet of every corpus capture against tshark 4.0.17's two-pass truth.

Where SynAck disagrees with tshark, the disagreement must be one of the documented
categories (see ``core.analysis``), recognised from the packets themselves:

- ``copy``: the packet is the same packet seen at a second capture point (``duplicate_of``):
  tshark calls it a retransmission or duplicate ACK; ours carries no analysis.
- ``linux_zero_window_probe``: len 0, seq one below the next expected byte, the peer's
  last window 0: tshark says ``keep_alive``; ours ``zero_window_probe``.
- ``zero_window_probe_ack``: the zero-window reply right after such a probe: ours adds
  ``zero_window_probe_ack`` (tshark's own rule for a probe's ACK).
- ``resent_not_out_of_order``: a segment whose bytes were captured before in the same
  direction: tshark says ``out_of_order``; ours ``retransmission`` (and the wire log, where
  there is one, shows the earlier copy was dropped after the capture point).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.analysis import reference
from core.analysis.api import analyze_capture
from core.capture import read_capture
from core.errors import CaptureError
from tests.analysis.truthcheck import differences, expected, fields, load_truth, ours_by_frame

pytestmark = pytest.mark.corpus

_ANALYSIS_ONLY = {"analysis"}
_PER_PACKET = {"analysis", "dup_ack_num", "dup_ack_of_frame", "acks_frame", "ack_rtt",
               "bytes_in_flight"}


def _captures(corpus: Path) -> list[tuple[Path, Path]]:
    out = []
    for truth in sorted(corpus.glob("*/*.truth.json")):
        stem = truth.name[:-len(".truth.json")]
        caps = [p for p in truth.parent.glob(stem + ".pcap*")]
        assert len(caps) == 1, truth
        out.append((caps[0], truth))
    return out


def _wire_drops(cap: Path) -> set[int] | None:
    for log in cap.parent.glob("*.wire.json"):
        if cap.stem.startswith(log.name[:-len(".wire.json")]):
            events = json.loads(log.read_text())["events"]
            return {e["seq_abs"] for e in events if e["kind"] == "loss_drop"}
    return None


def _classify(p: dict[str, Any], diff: dict[str, Any], sa: Any, k: int, index: Any,
              truth: list[dict[str, Any]], pos: int, drops: set[int] | None,
              earlier: set[int]) -> str:
    ours, theirs = diff.get("analysis", (p["analysis"], p["analysis"]))
    if sa.duplicate_of[k] >= 0:
        orig = index.packets[sa.duplicate_of[k]]
        me = index.packets[sa.rows[k]]
        same = all(orig[f] == me[f] for f in ("stream", "src", "sport", "seq", "ack", "flags",
                                               "payload_len", "window"))
        gap = int(me["time_ns"]) - int(orig["time_ns"])
        if (set(diff) <= _PER_PACKET and ours == [] and same
                and orig["interface"] != me["interface"] and 0 <= gap <= 1_000_000_000):
            return "copy"
        return "unexplained"
    if set(diff) != _ANALYSIS_ONLY:
        return "unexplained"
    peer = [q for q in truth[:pos] if q["stream"] == p["stream"] and q["sport"] != p["sport"]]
    mine = [q for q in truth[:pos] if q["stream"] == p["stream"] and q["sport"] == p["sport"]]
    top = max((q["nxtseq"] for q in mine if q["nxtseq"] is not None), default=None)
    swap = [x if x != "keep_alive" else "zero_window_probe" for x in theirs]
    if (ours == swap and "keep_alive" in theirs and p["len"] == 0 and peer
            and peer[-1]["win"] == 0 and top is not None and p["seq"] == top - 1):
        return "linux_zero_window_probe"
    if (sorted(ours) == sorted(theirs + ["zero_window_probe_ack"]) and p["win"] == 0
            and peer and peer[-1]["frame"] in earlier):
        return "zero_window_probe_ack"
    seen = any(q["len"] and q["seq"] < p["seq"] + p["len"] and p["seq"] < q["seq"] + q["len"]
               for q in mine)
    swap = [x if x != "out_of_order" else "retransmission" for x in theirs]
    if ours == swap and "out_of_order" in theirs and p["len"] and seen and (
            drops is None or p["seq_raw"] in drops):
        return "resent_not_out_of_order"
    return "unexplained"


def test_every_packet_agrees_or_is_explained(corpus: Path) -> None:
    seen_categories: dict[str, int] = {}
    compared = 0
    for cap, truth_path in _captures(corpus):
        try:
            index = read_capture(str(cap))
        except CaptureError:
            continue                       # broken files: nothing to analyse
        truth = load_truth(truth_path)
        ours = ours_by_frame(index)
        drops = _wire_drops(cap)
        probes: set[int] = set()
        for pos, p in enumerate(truth):
            if p["frame"] not in ours:
                continue                   # cut mid-record: compare the frames kept
            sa, k = ours[p["frame"]]
            compared += 1
            diff = differences(fields(sa, k), expected(p))
            if not diff:
                continue
            what = _classify(p, diff, sa, k, index, truth, pos, drops, probes)
            assert what != "unexplained", (cap.name, p["frame"], diff)
            if what == "linux_zero_window_probe":
                probes.add(p["frame"])
            seen_categories[what] = seen_categories.get(what, 0) + 1
    assert compared > 5000
    # the corpus exercises every category (README: zero_window, bulk client, both_sides)
    assert seen_categories == {"copy": 6, "linux_zero_window_probe": 3,
                               "zero_window_probe_ack": 2, "resent_not_out_of_order": 64}


def test_strict_mode_is_tshark_everywhere_but_copies(corpus: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With SynAck's two corrections off, only the copies differ from tshark."""
    from core.analysis import api, fast
    monkeypatch.setattr(api, "_analyze", lambda inp, **kw: fast.analyze(inp, strict=True, **kw))
    for cap, truth_path in _captures(corpus):
        try:
            index = read_capture(str(cap))
        except CaptureError:
            continue
        ours = ours_by_frame(index, analyze_capture(index))
        for p in load_truth(truth_path):
            if p["frame"] not in ours:
                continue
            sa, k = ours[p["frame"]]
            diff = differences(fields(sa, k), expected(p))
            assert not diff or sa.duplicate_of[k] >= 0, (cap.name, p["frame"], diff)


def test_fast_equals_reference_on_corpus(corpus: Path) -> None:
    from core.analysis import fast
    from core.analysis.inputs import stream_input
    from core.analysis.options import read_options
    for cap, _ in _captures(corpus):
        try:
            index = read_capture(str(cap))
        except CaptureError:
            continue
        p = index.packets
        opts = read_options(index)
        for s in np.unique(p["stream"]).tolist():
            inp = stream_input(p, opts, np.flatnonzero(p["stream"] == s), reused_first=False)
            for strict in (False, True):
                a = reference.analyze(inp, strict=strict)
                b = fast.run_fast_only(inp, strict=strict)
                for name in ("bits", "rel_seq", "rel_ack", "next_seq", "win", "dup_num",
                             "dup_frame", "acks_frame", "ack_rtt", "bif", "rto", "rto_frame"):
                    assert np.array_equal(getattr(a, name), getattr(b, name)), (cap, s, name)
                assert a.win_scale == b.win_scale


def test_timestamps_and_sack_blocks_equal_tshark(corpus: Path) -> None:
    """The replay's evidence columns (TSval, TSecr, every SACK block) against tshark's
    decode of every corpus packet that has them."""
    from core.analysis.options import read_options
    checked = blocks = 0
    for cap, truth in _captures(corpus):
        try:
            index = read_capture(str(cap))
        except CaptureError:
            continue
        opts = read_options(index)
        where = {int(f): i for i, f in enumerate(index.packets["frame"].tolist())}
        for pkt in json.loads(truth.read_text())["packets"]:
            i = where.get(pkt["frame"])
            if not pkt.get("tcp") or i is None:
                continue
            op = pkt.get("options") or {}
            assert (op.get("tsval", -1), op.get("tsecr", -1)) == (
                int(opts.tsval[i]), int(opts.tsecr[i])), (cap.name, pkt["frame"])
            checked += 1
            if "sack_blocks" in op:
                base = pkt["ack_raw"] - pkt["ack"]
                ours = [[(int(left) - base) % 2**32, (int(right) - base) % 2**32]
                        for left, right in opts.sack_edges[i][:opts.sack_blocks[i]].tolist()]
                assert ours == op["sack_blocks"][:4], (cap.name, pkt["frame"])
                blocks += 1
    assert checked > 5000 and blocks > 1000
