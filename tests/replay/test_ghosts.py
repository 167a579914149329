"""Ghosts: segments a replay proves were sent though the capture misses them
(core.replay.ghosts). On the corpus: tshark's lost_segment frames, a handshake whose
SYN+ACK was cut out, a capture holding one side only, clean captures; then the rules on
hand-made columns (wrap-around, RST, one ghost per gap)."""

from __future__ import annotations

import json
import re
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.capture import read_capture
from core.replay import replay_stream
from core.replay.ghosts import Columns, find_ghosts
from core.tcp.segment import Flag, Segment
from core.tcp.states import Side, TcpState
from core.trace import Peer, SegmentRecord, Timeline, Uncertainty

M = 0xFFFFFFFF


def proving_frame(rec: SegmentRecord) -> int:
    m = re.search(r"frame (\d+)", rec.labels[0])
    assert m is not None, rec.labels
    return int(m.group(1))


def check_records(tl: Timeline) -> None:
    """What every ghost list holds: indices, no frame, times in order, sorted by send."""
    for i, g in enumerate(tl.ghosts):
        assert g.index == i and g.ghost and g.frame is None
        assert g.labels and g.labels[0].startswith("not captured: frame ")
        assert g.arrived is None or g.arrived >= g.sent
    sent = [g.sent for g in tl.ghosts]
    assert sent == sorted(sent)
    assert all(s.frame is not None and not s.ghost for s in tl.segments)


def test_server_side_loss_matches_tsharks_lost_segments(corpus: Path) -> None:
    """loss5's server-side capture misses the data the wire dropped before it: one ghost
    per frame tshark labels lost_segment, covering exactly the skipped bytes, lost (the
    capture shows it sent again) and sent between the client's neighbouring packets."""
    name = "kernel/loss5_delay20_bulk_server"
    truth = json.loads((corpus / f"{name}.truth.json").read_text())
    lost = [p["frame"] for p in truth["packets"] if "lost_segment" in p.get("analysis", [])]
    tl = replay_stream(read_capture(str(corpus / f"{name}.pcap")), 0).timeline
    check_records(tl)
    assert sorted(proving_frame(g) for g in tl.ghosts) == lost
    by_frame = {s.frame: s for s in tl.segments}
    client_sends = [(s.sent, s.frame) for s in tl.segments if s.sender is Side.CLIENT]
    frames = [f for _, f in client_sends]
    for g in tl.ghosts:
        proof = by_frame[proving_frame(g)]
        assert g.sender is Side.CLIENT and g.segment.has(Flag.ACK)
        assert g.segment.end == proof.segment.seq
        assert g.segment.length % 1448 == 0 and g.segment.length > 0
        assert g.lost and "sent again in frame" in g.labels[0]
        before = client_sends[frames.index(proof.frame) - 1][0]
        assert before <= g.sent <= proof.sent
    assert len(tl) == sum(1 for p in truth["packets"] if p.get("tcp"))


def test_client_side_capture_has_no_ghosts(corpus: Path) -> None:
    """The same connection seen next to the client: the losses happened after the capture
    point, every segment is in the file."""
    tl = replay_stream(read_capture(str(corpus / "kernel/loss5_delay20_bulk_client.pcap")),
                       0).timeline
    assert tl.ghosts == ()


@pytest.mark.parametrize("name", [
    "kernel/close_client_first_delayed.pcap", "kernel/ipv6_basic.pcap",
    "kernel/zero_window.pcap", "kernel/keepalive.pcap", "kernel/abort_linger0.pcap",
    "kernel/simultaneous_close_both_sides.pcapng", "public/dns_tcp.pcap",
    "public/ssh.pcap", "public/pptp.pcap"])
def test_clean_captures_have_no_ghosts(corpus: Path, name: str) -> None:
    """Complete captures (zero-window probes, keep-alives, retransmissions, RST, a merged
    two-point capture included) prove nothing missing."""
    index = read_capture(str(corpus / name))
    for stream in sorted(set(index.packets["stream"].tolist())):
        assert replay_stream(index, stream).timeline.ghosts == ()


def without_packet(source: Path, drop: int, out: Path) -> Path:
    """The classic pcap ``source`` minus its packet number ``drop`` (1-based)."""
    data = source.read_bytes()
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    kept, pos, number = [data[:24]], 24, 0
    while pos < len(data):
        (incl,) = struct.unpack_from(order + "I", data, pos + 8)
        number += 1
        if number != drop:
            kept.append(data[pos:pos + 16 + incl])
        pos += 16 + incl
    out.write_bytes(b"".join(kept))
    return out


def test_cut_syn_ack_becomes_a_ghost(corpus: Path, tmp_path: Path) -> None:
    """close_client_first_immediate without frame 2 (the SYN+ACK): the client's ACK from
    SYN_SENT proves it; the ghost carries its numbers and lands before that ACK left."""
    path = without_packet(corpus / "kernel/close_client_first_immediate.pcap", 2,
                          tmp_path / "no_syn_ack.pcap")
    tl = replay_stream(read_capture(str(path)), 0).timeline
    check_records(tl)
    assert len(tl) == 9 and len(tl.ghosts) == 1
    g = tl.ghosts[0]
    syn, ack = tl.segments[0], tl.segments[1]
    assert g.sender is Side.SERVER and g.segment.flags == Flag.SYN | Flag.ACK
    assert g.segment.seq == (ack.segment.ack - 1) & M
    assert g.segment.ack == (syn.segment.seq + 1) & M
    assert syn.sent <= g.sent and g.arrived is not None and g.arrived <= ack.sent
    assert proving_frame(g) == ack.frame == 2
    assert tl.states_after(1) == (TcpState.ESTABLISHED, TcpState.ESTABLISHED)


def test_one_sided_capture_ghosts_the_other_side(corpus: Path) -> None:
    """ldp-common-session stream 1 holds only the client's packets: the server's SYN+ACK
    and every byte the client acknowledges are ghosts, back to back, each arriving before
    the ACK that proves it."""
    tl = replay_stream(read_capture(str(corpus / "public/ldp-common-session.pcap")),
                       1).timeline
    check_records(tl)
    assert all(s.sender is Side.CLIENT for s in tl.segments)
    assert all(g.sender is Side.SERVER and not g.lost for g in tl.ghosts)
    syn_acks = [g for g in tl.ghosts if g.segment.has(Flag.SYN)]
    assert len(syn_acks) == 1
    data = sorted((g for g in tl.ghosts if not g.segment.has(Flag.SYN)),
                  key=lambda g: g.segment.seq)
    assert data[0].segment.seq == syn_acks[0].segment.end
    for a, b in zip(data, data[1:], strict=False):
        assert a.segment.end == b.segment.seq
    acks = [s.segment.ack for s in tl.segments if s.segment.has(Flag.ACK)]
    assert data[-1].segment.end == max(acks)
    sends = {s.frame: s.sent for s in tl.segments}
    for g in tl.ghosts:
        assert g.arrived is not None and g.arrived <= sends[proving_frame(g)]


def test_mid_stream_capture_has_both_kinds(corpus: Path) -> None:
    """bgp-role starts mid-connection. Frame 2 skips server bytes 108:146 (tshark's
    lost_segment) and acknowledges client bytes 1:39 never captured; frame 3's
    ack_lost_segment is the same gap as frame 2's, so it makes no second ghost."""
    tl = replay_stream(read_capture(str(corpus / "public/bgp-role.pcapng")), 0).timeline
    check_records(tl)
    assert sorted((g.sender.value, g.labels[0]) for g in tl.ghosts) == [
        ("client", "not captured: frame 2 acknowledges bytes 1:39"),
        ("server", "not captured: frame 2 skips bytes 108:146")]


def test_timeline_checks_its_ghosts() -> None:
    """Ghosts sit beside the segments: index = position, ghost=True, no frame."""
    peers = dict(client=Peer(side=Side.CLIENT, address="10.0.0.1", port=1),
                 server=Peer(side=Side.SERVER, address="10.0.0.2", port=2))
    g = SegmentRecord(index=0, sender=Side.CLIENT, segment=Segment(seq=1), sent=0.0,
                      arrived=None, ghost=True)
    tl = Timeline(title="t", segments=[], events=[], ghosts=[g], **peers)
    assert tl.ghosts == (g,) and len(tl) == 0
    assert Timeline(title="t", segments=[], events=[], **peers).ghosts == ()
    for bad in (SegmentRecord(index=1, sender=Side.CLIENT, segment=Segment(seq=1), sent=0.0,
                              arrived=None, ghost=True),
                SegmentRecord(index=0, sender=Side.CLIENT, segment=Segment(seq=1), sent=0.0,
                              arrived=None),
                SegmentRecord(index=0, sender=Side.CLIENT, segment=Segment(seq=1), sent=0.0,
                              arrived=None, frame=3, ghost=True)):
        with pytest.raises(ValueError, match="ghost 0"):
            Timeline(title="t", segments=[], events=[], ghosts=[bad], **peers)


# ---------------------------------------------------------------- hand-made columns
def columns(rows: list[tuple[bool, int, int, int, int]], **extra: Any) -> Columns:
    """One row per captured segment: (from client, flags, seq, ack, payload length);
    sent 1 s apart, seen 0.1 s later by the peer; labels give absolute numbers."""
    fc, fl, seq, ack, length = (np.array(col, np.int64) for col in zip(*rows, strict=True))
    seg_len = length + ((fl & 0x02) != 0) + ((fl & 0x01) != 0)
    n = len(rows)
    send = np.arange(n, dtype=np.float64)
    return Columns(from_client=fc.astype(bool), flags=fl, seq=seq, ack=ack, seg_len=seg_len,
                   window=np.full(n, 500, np.int64), frame=np.arange(1, n + 1),
                   send=send, arrive=extra.get("arrive", send + 0.1),
                   rel_seq=seq, rel_ack=np.full(n, -1, np.int64))


A = int(Flag.ACK)
RST = int(Flag.RST | Flag.ACK)


def test_gap_across_the_wrap() -> None:
    """A skipped segment whose bytes cross 2**32, acknowledged later: arrived, before the
    ACK that covers it, half-way between its sender's neighbours."""
    top = M - 99
    c = columns([(True, A, top, 7, 100), (False, A, 7, (top + 100) & M, 0),
                 (True, A, (top + 300) & M, 7, 100), (False, A, 7, (top + 400) & M, 0)])
    [g] = find_ghosts(c, one_way=0.1)
    assert g.sender is Side.CLIENT and g.segment.seq == 0 and g.segment.length == 200
    assert g.sent == 1.0 and g.arrived == pytest.approx(1.1)
    assert g.labels == ("not captured: frame 3 skips bytes 0:200",)


def test_lost_when_sent_again_before_any_ack() -> None:
    c = columns([(True, A, 1000, 7, 100), (True, A, 1200, 7, 100),
                 (True, A, 1100, 7, 100), (False, A, 7, 1300, 0)])
    [g] = find_ghosts(c, one_way=0.1)
    assert g.lost and g.labels[0].endswith("lost: sent again in frame 3")


def test_acknowledged_bytes_make_one_ghost_per_gap() -> None:
    """An ACK above everything seen makes one ghost; the data that follows it, starting
    there, makes none; the ghost arrives before the ACK was sent."""
    c = columns([(True, A, 1000, 7, 100), (False, A, 7, 1100, 0), (False, A, 7, 1500, 0),
                 (True, A, 1500, 7, 100), (False, A, 7, 1600, 0)])
    [g] = find_ghosts(c, one_way=0.5)
    assert (g.segment.seq, g.segment.length) == (1100, 400)
    assert g.sent == pytest.approx(1.5) and g.arrived == pytest.approx(2.0)
    assert g.labels == ("not captured: frame 3 acknowledges bytes 1100:1500",)


def test_rst_numbers_are_not_evidence() -> None:
    c = columns([(True, A, 1000, 7, 100), (False, RST, 7, 99_999, 0),
                 (True, RST, 50_000, 7, 0)])
    assert find_ghosts(c, one_way=0.1) == []


def test_unstamped_first_copy_overtaken_before_any_feedback_is_no_ghost() -> None:
    """Rule 3a: the skipped octets come 10 ms later, before any ACK could have reached the
    sender and well within the shortest RTO: the first copy, reordered, not a resend."""
    send = np.array([0.0, 0.001, 0.011, 0.05])
    c = replace(columns([(True, A, 1000, 7, 100), (True, A, 1200, 7, 100),
                         (True, A, 1100, 7, 100), (False, A, 7, 1300, 0)]),
                send=send, arrive=send + 0.02)
    doubts: list[Uncertainty] = []
    assert find_ghosts(c, one_way=0.02, doubts=doubts) == [] and doubts == []


def test_unstamped_resend_after_feedback_keeps_the_ghost_and_doubts_it() -> None:
    """Rule 3a: a dup ACK reached the sender before the octets came: a resend (shown, the
    ghost lost) or the first copy reordered (the doubt, without that ghost)."""
    send = np.array([0.0, 0.001, 0.021, 0.045, 0.06])
    c = replace(columns([(True, A, 1000, 7, 100), (True, A, 1200, 7, 100),
                         (False, A, 7, 1000, 0), (True, A, 1100, 7, 100),
                         (False, A, 7, 1300, 0)]),
                send=send, arrive=send + 0.02)
    doubts: list[Uncertainty] = []
    [g] = find_ghosts(c, one_way=0.02, doubts=doubts)
    assert g.lost
    [u] = doubts
    assert u.segments == (3,) and u.alternative_unsent == (0,) and "reordered" in u.text
    stamped = replace(c, tsval=np.array([10, 11, 30, 40, 50]))
    doubts.clear()
    assert len(find_ghosts(stamped, one_way=0.02, doubts=doubts)) == 1 and doubts == []
