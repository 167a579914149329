"""Analysis labels on simulated segments: the client-side capture's labels, as tshark gives
them, under loss, jitter, reordering and duplication, at both capture points.

Differences from tshark are allowed only where ``tests/simulate/tshark.py`` documents
and checks them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from core.capture.writer import captured_view, write_pcap
from core.simulate.judged import changes_of
from core.simulate.labels import analysis_labels
from core.simulate.scenarios import get
from core.tcp.states import Side
from tests.simulate.tshark import (
    TSHARK,
    explain,
    ours,
    tshark_labels,
    tshark_packets,
    verdict,
)

IMPAIRED = {"loss": 0.1, "jitter": 0.004, "reorder": 0.2, "duplicate": 0.05, "mss": 100}
#: scenario, seed: between them every label but the TCP Fast Open ones and ack_lost_segment
CASES = [("fast_retransmit", 1), ("fast_retransmit", 2), ("out_of_order", 3),
         ("flow_control", 1), ("keepalive", 2), ("time_wait_old_duplicate", 1),
         ("retransmission", 5), ("listen_backlog", 1), ("close_client_first", 3)]
SEEN: Counter[str] = Counter()


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (make test installs it)")
@pytest.mark.parametrize("at", list(Side), ids=lambda s: s.value)
@pytest.mark.parametrize(("name", "seed"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_labels_match_tshark(name: str, seed: int, at: Side, tmp_path: Path) -> None:
    timeline = get(name).run({**IMPAIRED, "seed": seed})
    path = tmp_path / "capture.pcap"
    write_pcap(timeline, path, at=at)
    packets = tshark_packets(path)
    found = analysis_labels(timeline, at)
    view = captured_view(timeline, at)
    assert len(packets) == len(view)
    for n, (info, (_, rec)) in enumerate(zip(packets, view, strict=True), 1):
        mine, theirs = found.get(rec.index, ()), tshark_labels(info)
        SEEN.update(mine)
        if mine != theirs:
            assert explain(timeline, at, n, mine, theirs), \
                f"frame {n}: ours {mine}, tshark {theirs}"
        if at is Side.CLIENT:
            assert ours(timeline, rec) == mine  # the Timeline keeps the client-side labels


def test_label_coverage() -> None:
    """The cases above exercise the vocabulary (run after them, in file order)."""
    if TSHARK is None or not SEEN:
        pytest.skip("needs the tshark comparisons above")
    assert set(SEEN) >= {
        "retransmission", "fast_retransmission", "spurious_retransmission", "duplicate_ack",
        "out_of_order", "lost_segment", "zero_window", "zero_window_probe",
        "zero_window_probe_ack", "window_update", "window_full", "keep_alive",
        "keep_alive_ack", "reused_ports"}


def test_unexplained_differences_are_not_excused() -> None:
    timeline = get("fast_retransmit").run()
    assert explain(timeline, Side.CLIENT, 3, ("retransmission",), ("duplicate_ack",)) is None
    # frame 4 carries new data: it is no "already seen" retransmission
    assert explain(timeline, Side.CLIENT, 4, ("retransmission",), ("out_of_order",)) is None
    assert explain(timeline, Side.CLIENT, 4, ("zero_window_probe",), ("keep_alive",)) is None


def test_labels_keep_the_simulations_own() -> None:
    timeline = get("listen_backlog").run()
    syns = [r for r in timeline.segments if r.sender is Side.CLIENT and r.segment.seq ==
            timeline.segments[0].segment.seq and not r.segment.length][:3]
    assert [r.labels for r in syns] == [
        ("SYN dropped: accept queue full",),
        ("retransmission", "SYN dropped: accept queue full"),
        ("retransmission",)]
    copies = get("hello_ok").run({"duplicate": 1.0})
    assert any(r.labels[-1:] == ("duplicated by the link",) for r in copies.segments)


def test_segments_unseen_at_the_client_have_no_analysis_labels() -> None:
    timeline = get("hello_ok").run({"drop": "server:3,server:4"})  # "OK", then again
    seen = {rec.index for _, rec in captured_view(timeline)}
    unseen = [r for r in timeline.segments if r.index not in seen]
    assert [r.segment.payload for r in unseen] == [b"OK", b"OK"]
    assert all(not ours(timeline, r) and not verdict(r) for r in unseen)
    # the client's capture sees only the third "OK": new data there, as tshark would say
    third = [r for r in timeline.segments if r.segment.payload == b"OK"][2]
    assert third.index in seen and not ours(timeline, third)


def test_simulated_handshake_ack_is_no_window_update() -> None:
    # the client's SYN+ACK was lost, the server's resent: the client's ACK of them
    # (segment 7) compares its window with its own SYN+ACK's (segment 3), never scaled
    timeline = get("simultaneous_open").run({**IMPAIRED, "seed": 1})
    rec = timeline.segments[6]
    assert ours(timeline, rec) == ("window_update",) and verdict(rec) == ()
    [change] = changes_of(timeline, 6)
    assert change.rule == "handshake_ack"
    # segments numbered as simulated: the server's first SYN+ACK is segment 4
    assert "the SYN+ACK in frame 4" in change.why and "SYN in frame 3" in change.why
