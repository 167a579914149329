"""Where the capture point sits, when segments left and arrived, and which never arrived,
checked against the corpus's ground truth (the impairment bridge's own log)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.capture import read_capture
from core.replay import Replay, replay_stream
from core.tcp.segment import Flag
from core.tcp.states import Side


def replay(corpus: Path, name: str) -> Replay:
    return replay_stream(read_capture(str(corpus / "kernel" / name)), 0)


def test_lost_segments_match_the_wire_log(corpus: Path) -> None:
    """Client-side capture of a 5%-loss transfer: the bridge dropped 86 data frames after
    the capture point. Every one is inferred lost, and nothing else is."""
    wire = json.loads((corpus / "kernel" / "loss5_delay20_bulk.wire.json").read_text())
    dropped = Counter(e["seq_abs"] for e in wire["events"] if e["kind"] == "loss_drop")
    assert sum(dropped.values()) == 86
    tl = replay(corpus, "loss5_delay20_bulk_client.pcap").timeline
    lost = Counter(r.segment.seq for r in tl.segments if r.lost)
    assert lost == dropped


def test_server_side_capture_sees_no_loss_after_it(corpus: Path) -> None:
    """At the server, whatever was captured had arrived; the drops happened upstream."""
    tl = replay(corpus, "loss5_delay20_bulk_server.pcap").timeline
    assert not any(r.lost for r in tl.segments)


@pytest.mark.parametrize("name,near", [("simultaneous_close_client.pcap", Side.CLIENT),
                                       ("simultaneous_close_server.pcap", Side.SERVER)])
def test_capture_point_and_crossing_fins(corpus: Path, name: str, near: Side) -> None:
    """The bridge delays each direction by 30 ms: the handshake puts the capture point
    next to ``near``, 30 ms from the other side, and both FINs were sent before the
    other arrived, so they cross on the diagram."""
    r = replay(corpus, name)
    far = r.point.delta_server if near is Side.CLIENT else r.point.delta_client
    close = r.point.delta_client if near is Side.CLIENT else r.point.delta_server
    assert far == pytest.approx(0.030, abs=0.002) and close < 0.001
    fins = [s for s in r.timeline.segments if s.segment.has(Flag.FIN)]
    assert len(fins) == 2
    for fin, other in ((fins[0], fins[1]), (fins[1], fins[0])):
        assert fin.arrived is not None and fin.arrived > other.sent
    assert "from the handshake" in r.point.describe()


def test_loopback_delays_are_tiny_and_arrivals_follow_sends(corpus: Path) -> None:
    r = replay(corpus, "close_client_first_delayed.pcap")
    assert r.point.one_way < 1e-4
    for seg in r.timeline.segments:
        assert seg.arrived is not None and seg.arrived >= seg.sent


def test_mid_stream_capture_starts_established(corpus: Path) -> None:
    """bgp-role starts mid-connection: no SYN, both sides ESTABLISHED from the start."""
    tl = replay_stream(read_capture(str(corpus / "public" / "bgp-role.pcapng")), 0).timeline
    assert tl.initial == (tl.states_after(0)[0], tl.states_after(0)[1])
    assert tl.initial[0].value == "ESTABLISHED" and tl.initial[1].value == "ESTABLISHED"


def test_handshake_answer_not_captured(corpus: Path) -> None:
    """ldp-common-session holds only the client's packets. Stream 1 starts with its SYN;
    its next segment ACKs the server's SYN+ACK, which the capture missed: both sides
    are established from there (rule 4 of core.replay.infer)."""
    index = read_capture(str(corpus / "public" / "ldp-common-session.pcap"))
    tl = replay_stream(index, 1).timeline
    assert [s.value for s in tl.states_after(0)] == ["SYN_SENT", "SYN_RECEIVED"]
    assert [s.value for s in tl.states_after(1)] == ["ESTABLISHED", "ESTABLISHED"]


def test_merged_capture_measures_sends_and_arrivals(corpus: Path) -> None:
    """simultaneous_close_both_sides holds every packet twice, once per capture point:
    the second sighting is the arrival. One arrow per segment, 30 ms each, the FINs
    cross, and the listing moves forward in time."""
    index = read_capture(str(corpus / "kernel" / "simultaneous_close_both_sides.pcapng"))
    from core.analysis import analyze_stream
    r = replay_stream(index, 0, analyze_stream(index, 0))
    assert r.point.merged and r.point.one_way == pytest.approx(0.030, abs=0.001)
    tl = r.timeline
    assert len(tl) == 7 and r.rows.size == 14
    assert all(s.arrived is not None and s.arrived - s.sent == pytest.approx(0.030, abs=0.001)
               for s in tl.segments)
    order = {"CLOSED": 0, "LISTEN": 0, "SYN_SENT": 1, "SYN_RECEIVED": 1, "ESTABLISHED": 2,
             "FIN_WAIT_1": 3, "CLOSING": 4, "TIME_WAIT": 5}
    times = ((index.packets["time_ns"][r.rows] - index.start_ns) / 1e9).tolist()
    seen = [r.states_after_packet(k, t) for k, t in enumerate(times)]
    for side in (0, 1):
        ranks = [order[s[side].value] for s in seen]
        assert ranks == sorted(ranks)
    assert [s.value for s in seen[-1]] == ["TIME_WAIT", "TIME_WAIT"]


def test_a_stale_tsval_marks_an_old_segment_only_when_held_up() -> None:
    """Evidence rule 6 by TSval alone: a segment whose TSval is below one its sender
    already sent left earlier. Seen seconds later it was held up in the network and is
    placed after its sender's segment of the nearest TSval; seen within a second it is
    mere reordering, left to the timing rules."""
    from core.replay.evidence import old_copies
    fc = np.array([False, False, False, False])
    flags = np.full(4, 0x18)
    seq = np.array([100, 105, 110, 105])
    ack = np.full(4, 7)
    length = np.full(4, 5)
    window = np.full(4, 100)
    ack_line = np.full(4, 7)
    tsval = np.array([1000, 1001, 1200, 1001])
    late = np.array([0.0, 0.001, 0.2, 5.0])
    assert old_copies(fc, flags, seq, ack, length, window, ack_line, tsval,
                      late).tolist() == [-1, -1, -1, 1]
    soon = np.array([0.0, 0.001, 0.2, 0.3])
    # the same TSval and numbers as segment 1: still its copy (the identical-copy rule)
    assert old_copies(fc, flags, seq, ack, length, window, ack_line, tsval,
                      soon).tolist() == [-1, -1, -1, 1]
    other = seq.copy()
    other[3] = 115                       # numbered apart: reordering, not a copy
    assert old_copies(fc, flags, other, ack, length, window, ack_line, tsval,
                      soon).tolist() == [-1, -1, -1, -1]
    assert old_copies(fc, flags, other, ack, length, window, ack_line, tsval,
                      late).tolist() == [-1, -1, -1, 1]


def test_an_ack_number_gone_back_marks_an_old_segment_without_timestamps() -> None:
    """Evidence rule 6 by the ACK number (no TSval): a pure ACK acknowledging less than
    its sender already did, seen seconds later, left after the latest segment of its
    sender acknowledging no more; seen within a second it is reordering."""
    from core.replay.evidence import old_copies
    fc = np.array([False, False, False, False])
    flags = np.full(4, 0x10)
    seq = np.array([1, 3, 8, 3])
    ack = np.array([6, 6, 7, 6])
    zero = np.zeros(4, np.int64)
    window = np.array([100, 100, 100, 90])      # not an identical copy of segment 1
    tsval = np.full(4, -1)
    late = np.array([0.0, 0.001, 0.2, 5.0])
    assert old_copies(fc, flags, seq, ack, zero, window, ack, tsval,
                      late).tolist() == [-1, -1, -1, 1]
    soon = np.array([0.0, 0.001, 0.2, 0.3])
    assert old_copies(fc, flags, seq, ack, zero, window, ack, tsval,
                      soon).tolist() == [-1, -1, -1, -1]


def test_a_simultaneous_open_mid_path_keeps_both_delays(tmp_path: Path) -> None:
    """A simultaneous open's SYN+ACK is no resend of its sender's SYN, so Karn's rule
    does not discard the SYN's round trip: captured mid-path, each side is 5 ms away and
    the SYNs cross (each leaves before the other's arrives)."""
    from core.capture.taps import TapPoint, write_capture
    from core.simulate.scenarios import get
    path = tmp_path / "so.pcap"
    write_capture(get("simultaneous_open").run({"delay": 0.005}), str(path), TapPoint.mid())
    replay = replay_stream(read_capture(str(path)), 0)
    assert replay.point.delta_client == pytest.approx(0.0025, abs=1e-4)
    assert replay.point.delta_server == pytest.approx(0.0025, abs=1e-4)
    client_syn, server_syn = (next(r for r in replay.timeline.segments
                                   if r.sender is side and r.segment.flags == Flag.SYN)
                              for side in (Side.CLIENT, Side.SERVER))
    assert server_syn.arrived is not None and client_syn.arrived is not None
    assert client_syn.sent < server_syn.arrived and server_syn.sent < client_syn.arrived
