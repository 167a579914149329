"""Timestamps (RFC 7323), SACK (RFC 2018) and D-SACK (RFC 2883) between two endpoints.

Endpoints joined by the fake link (:class:`core.simulate.pair.Pair`), driven segment by segment,
so every TSval, TSecr and SACK block can be named.
"""

from __future__ import annotations

import pytest

from core.simulate.pair import Pair
from core.tcp.config import EndpointConfig
from core.tcp.segment import SEQ_MOD, Flag, Options, Segment
from core.tcp.states import Side, TcpState
from core.tcp.tcpopts import ReceivedBlocks, Scoreboard, duplicate_range, sack_room, ts_clock

C, S = Side.CLIENT, Side.SERVER
C_ISS, S_ISS = 1000, 5000
C_OFF, S_OFF = 700_000, SEQ_MOD - 5  # the server's clock wraps past 2**32


def config(iss: int, offset: int, **more: object) -> EndpointConfig:
    values: dict[str, object] = {"iss": iss, "ts_offset": offset, "mss": 100,
                                 "timestamps": True, "sack": True, **more}
    return EndpointConfig(**values)  # type: ignore[arg-type]


def pair(client: dict[str, object] | None = None,
         server: dict[str, object] | None = None) -> Pair:
    """Two endpoints, both offering timestamps and SACK unless told otherwise."""
    p = Pair(config(C_ISS, C_OFF, **(client or {})), config(S_ISS, S_OFF, **(server or {})))
    p.app(S, "passive_open")
    return p


def connected(client: dict[str, object] | None = None,
              server: dict[str, object] | None = None) -> Pair:
    p = pair(client, server)
    p.app(C, "active_open")
    p.run(until=1.0)
    assert p.states == (TcpState.ESTABLISHED, TcpState.ESTABLISHED)
    return p


def sent(p: Pair, side: Side | None = None) -> list[Segment]:
    return [r.segment for r in p.timeline().segments if side is None or r.sender is side]


def stamp(seg: Segment) -> tuple[int, int]:
    assert seg.options.timestamp is not None, seg.describe()
    return seg.options.timestamp


def rel(blocks: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """SACK blocks relative to the client's ISS (the client sends the data)."""
    return [((a - C_ISS) % SEQ_MOD, (b - C_ISS) % SEQ_MOD) for a, b in blocks]


def deliver_data(p: Pair) -> None:
    """Deliver what the client has in flight, oldest first; the server's ACKs wait."""
    while p.pending(C):
        p.deliver(C)


def send_segments(p: Pair, *chunks: bytes) -> None:
    """The client sends each chunk as its own segment (no Nagle, one send each)."""
    for chunk in chunks:
        p.app(C, "send", chunk)


# ----- negotiation -------------------------------------------------------------------------
def test_both_offer_both_options_are_used() -> None:
    p = pair()
    p.at(1.0).app(C, "active_open")
    syn = sent(p, C)[0]
    assert syn.options.sack_permitted and stamp(syn) == (ts_clock(1.0, C_OFF), 0)
    p.at(1.25).deliver(C)
    syn_ack = sent(p, S)[0]
    assert syn_ack.options.sack_permitted
    assert stamp(syn_ack) == (ts_clock(1.25, S_OFF), ts_clock(1.0, C_OFF))
    p.run()
    p.app(C, "send", b"hello")
    p.run()
    after_syns = [s for s in sent(p) if not s.has(Flag.SYN)]
    assert len(after_syns) == 3 and all(s.options.timestamp for s in after_syns)
    assert not any(s.options.sack_permitted for s in after_syns)


@pytest.mark.parametrize("side", ["client", "server"])
def test_timestamps_need_both_syns(side: str) -> None:
    off = {"timestamps": False}
    p = connected(off if side == "client" else None, off if side == "server" else None)
    p.app(C, "send", b"hello")
    p.app(S, "send", b"OK")
    p.run()
    syn, syn_ack = sent(p)[:2]
    assert (syn.options.timestamp is None) == (side == "client")
    assert syn_ack.options.timestamp is None  # never offered to a SYN without it
    assert all(s.options.timestamp is None for s in sent(p)[2:])
    assert all(s.options.sack_permitted for s in (syn, syn_ack))  # SACK is negotiated alone


@pytest.mark.parametrize("side", ["client", "server"])
def test_sack_needs_both_syns(side: str) -> None:
    off = {"sack": False}
    p = connected(off if side == "client" else None, off if side == "server" else None)
    send_segments(p, b"a" * 10, b"b" * 10, b"c" * 10)
    p.drop(C)
    deliver_data(p)
    acks = [s for s in sent(p, S) if not s.has(Flag.SYN)]
    assert acks and not any(s.options.sack_blocks for s in acks)
    assert all(s.options.timestamp for s in acks)


def test_presets() -> None:
    assert EndpointConfig.linux().timestamps and EndpointConfig.linux().sack
    assert not EndpointConfig.rfc().timestamps and not EndpointConfig.rfc().sack
    p = Pair(EndpointConfig.rfc(), EndpointConfig.rfc())
    p.app(S, "passive_open")
    p.app(C, "active_open")
    p.run()
    assert sent(p)[0].options == Options(mss=1460)
    assert all(s.options == Options() for s in sent(p)[2:])


def test_the_mss_leaves_room_for_the_timestamps() -> None:
    """As Linux: with a 1460-octet MSS and timestamps, segments carry 1448 octets."""
    for timestamps, size in ((True, 1448), (False, 1460)):
        p = connected({"mss": 1460, "timestamps": timestamps}, {"mss": 1460})
        p.app(C, "send", bytes(3000))
        assert [s.length for s in sent(p, C) if s.length][0] == size


# ----- TS.Recent (RFC 7323 4.3) ---------------------------------------------------------------
def test_the_ack_of_a_retransmission_echoes_the_retransmission() -> None:
    p = connected()
    p.at(2.0).app(C, "send", b"hello")
    p.drop(C)
    p.fire_timers()  # the RTO: sent again, with a later TSval
    again = sent(p, C)[-1]
    assert again.seq == sent(p, C)[-2].seq and p.now > 2.0
    assert stamp(again)[0] == ts_clock(p.now, C_OFF) != ts_clock(2.0, C_OFF)
    p.deliver(C)
    assert stamp(sent(p, S)[-1])[1] == stamp(again)[0]


def test_out_of_order_data_does_not_move_ts_recent() -> None:
    """RFC 7323 4.2 case C: while a hole is open, ACKs echo the last in-order segment;
    the segment that fills the hole is echoed then."""
    p = connected()
    p.at(1.0).app(C, "send", b"a" * 10)
    p.run()
    first = sent(p, C)[-1]
    p.at(2.0)
    send_segments(p, b"b" * 10)
    p.at(2.1)
    send_segments(p, b"c" * 10)
    p.drop(C)  # "b" is lost, "c" arrives out of order
    p.deliver(C)
    dup_ack = sent(p, S)[-1]
    assert dup_ack.ack == (C_ISS + 11) % SEQ_MOD
    assert stamp(dup_ack)[1] == stamp(first)[0] == ts_clock(1.0, C_OFF)
    p.fire_timers()  # the RTO resends "b"
    resent = sent(p, C)[-1]
    p.deliver(C)
    ack = sent(p, S)[-1]
    assert ack.ack == (C_ISS + 31) % SEQ_MOD
    assert stamp(ack)[1] == stamp(resent)[0]


def test_a_delayed_ack_echoes_the_earliest_unacknowledged_segment() -> None:
    p = connected(server={"delayed_ack": 0.2, "quickack": 0})
    p.at(1.0)
    send_segments(p, b"a" * 10)
    p.deliver(C)
    p.at(1.05)
    send_segments(p, b"b" * 10)
    p.deliver(C)  # the second segment: ACK both now
    ack = sent(p, S)[-1]
    assert ack.ack == (C_ISS + 21) % SEQ_MOD
    assert stamp(ack)[1] == ts_clock(1.0, C_OFF)


def test_an_unacceptable_segment_leaves_ts_recent_alone() -> None:
    p = connected(client={"keepalive_idle": 5.0})
    last = sent(p, C)[-1]  # the ACK of the SYN+ACK
    p.fire_timers()  # the keep-alive probe: SND.UNA - 1, outside the window
    probe = sent(p, C)[-1]
    assert probe.seq == C_ISS and stamp(probe)[0] == ts_clock(5.02, C_OFF)
    p.deliver(C)
    assert stamp(sent(p, S)[-1])[1] == stamp(last)[0]  # as Linux answers keep-alives


def test_no_timestamps_on_a_reset_to_a_stray_segment_but_on_an_abort() -> None:
    p = Pair(config(C_ISS, C_OFF), config(S_ISS, S_OFF))
    p.app(C, "active_open")
    p.run()  # the server is closed: RST
    rst = sent(p, S)[0]
    assert rst.has(Flag.RST) and rst.options == Options()
    p = connected()
    p.at(3.0).app(C, "abort")
    rst = sent(p, C)[-1]
    assert rst.has(Flag.RST) and stamp(rst)[0] == ts_clock(3.0, C_OFF)


# ----- SACK blocks (RFC 2018) -----------------------------------------------------------------
def test_sack_blocks_most_recent_first_three_with_timestamps() -> None:
    p = connected()
    send_segments(p, *(bytes([65 + n]) * 10 for n in range(8)))  # 1:11, 11:21, ... 71:81
    for n in (0, 2, 4, 6):
        p.drop(C, n - (n // 2))  # lose 1:11, 21:31, 41:51, 61:71
    deliver_data(p)
    acks = sent(p, S)[-4:]
    assert [a.ack for a in acks] == [(C_ISS + 1) % SEQ_MOD] * 4
    assert [rel(a.options.sack_blocks) for a in acks] == [
        [(11, 21)],
        [(31, 41), (11, 21)],
        [(51, 61), (31, 41), (11, 21)],
        [(71, 81), (51, 61), (31, 41)],  # at most 3 next to the timestamps
    ]


def test_four_sack_blocks_without_timestamps() -> None:
    p = connected({"timestamps": False}, {"timestamps": False})
    send_segments(p, *(bytes([65 + n]) * 10 for n in range(8)))
    for n in (0, 2, 4, 6):
        p.drop(C, n - (n // 2))
    deliver_data(p)
    assert rel(sent(p, S)[-1].options.sack_blocks) == [(71, 81), (51, 61), (31, 41), (11, 21)]


def test_blocks_merge_and_go_when_the_hole_fills() -> None:
    p = connected()
    send_segments(p, b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10)
    p.drop(C)  # 1:11 lost
    p.deliver(C, 1)  # 21:31 first
    p.deliver(C)  # then 11:21: one block 11:31, first
    assert rel(sent(p, S)[-1].options.sack_blocks) == [(11, 31)]
    p.deliver(C)  # 31:41 extends it
    assert rel(sent(p, S)[-1].options.sack_blocks) == [(11, 41)]
    p.deliver_all()  # three duplicate ACKs: fast retransmit of the hole only
    resent = [s for s in sent(p, C) if s.length][-1]
    assert (resent.seq - C_ISS) % SEQ_MOD == 1 and resent.length == 10
    last = sent(p, S)[-1]
    assert last.ack == (C_ISS + 41) % SEQ_MOD and last.options.sack_blocks == ()


def test_a_resend_over_held_data_is_one_dsack() -> None:
    """The ACKs with SACK blocks are lost: the RTO resends 1:41, whose 11:41 the
    receiver holds already; the D-SACK covers all of it (as Linux extends it)."""
    p = connected()
    send_segments(p, b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10)
    p.drop(C)
    for _ in range(3):
        p.deliver(C)
        p.drop(S)
    p.fire_timers()
    assert sent(p, C)[-1].length == 40
    p.deliver(C)
    last = sent(p, S)[-1]
    assert last.ack == (C_ISS + 41) % SEQ_MOD and rel(last.options.sack_blocks) == [(11, 41)]


def test_a_retransmission_stops_at_sacked_data() -> None:
    """Small segments: without SACK the RTO would resend 1:31 in one segment; the
    peer SACKed 11:31, so only the hole 1:11 goes again."""
    p = connected()
    send_segments(p, b"a" * 10, b"b" * 10, b"c" * 10)
    p.drop(C)
    p.deliver_all()
    p.fire_timers()
    resent = sent(p, C)[-1]
    assert (resent.seq - C_ISS) % SEQ_MOD == 1 and resent.length == 10
    p = connected(server={"sack": False})
    send_segments(p, b"a" * 10, b"b" * 10, b"c" * 10)
    p.drop(C)
    p.deliver_all()
    p.fire_timers()
    assert sent(p, C)[-1].length == 30


# ----- D-SACK (RFC 2883) ---------------------------------------------------------------------
def test_dsack_below_the_ack_for_a_duplicate() -> None:
    p = connected()
    send_segments(p, b"a" * 10)
    p.duplicate(C)
    p.deliver(C)
    assert sent(p, S)[-1].options.sack_blocks == ()
    p.deliver(C)  # the link's copy
    ack = sent(p, S)[-1]
    assert ack.ack == (C_ISS + 11) % SEQ_MOD
    assert rel(ack.options.sack_blocks) == [(1, 11)]  # left edge below the ACK number
    p.app(C, "send", b"b")
    p.run()
    assert sent(p, S)[-1].options.sack_blocks == ()  # reported once


def test_dsack_for_a_spurious_retransmission() -> None:
    p = connected()
    send_segments(p, b"a" * 10)
    p.deliver(C)
    p.drop(S)  # the ACK is lost: the RTO resends data that did arrive
    p.fire_timers()
    p.deliver(C)
    assert rel(sent(p, S)[-1].options.sack_blocks) == [(1, 11)]


def test_dsack_inside_the_second_block_for_held_data() -> None:
    p = connected()
    send_segments(p, b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10)
    p.drop(C)  # 1:11 lost
    p.duplicate(C, 1)  # a copy of 21:31 travels last
    deliver_data(p)
    blocks = rel(sent(p, S)[-1].options.sack_blocks)
    assert blocks == [(21, 31), (11, 41)]
    assert p.server.rcv_nxt == (C_ISS + 1) % SEQ_MOD


def test_dsack_and_two_blocks_fit_with_timestamps() -> None:
    p = connected()
    send_segments(p, *(bytes([65 + n]) * 10 for n in range(6)))  # 1:11 ... 51:61
    p.drop(C)  # 1:11
    p.drop(C, 1)  # 21:31
    p.drop(C, 2)  # 41:51
    p.duplicate(C, 0)  # a copy of 11:21
    deliver_data(p)
    assert rel(sent(p, S)[-1].options.sack_blocks) == [(11, 21), (11, 21), (51, 61)]


# ----- the pieces ----------------------------------------------------------------------------
def test_received_blocks() -> None:
    blocks = ReceivedBlocks()
    for start in (10, 30, 50, 70, 90):
        blocks.add(start, start + 10)
    assert blocks.blocks == [(90, 100), (70, 80), (50, 60), (30, 40)]  # Linux keeps 4
    blocks.add(60, 70)  # joins 50:60 and 70:80
    assert blocks.blocks == [(50, 80), (90, 100), (30, 40)]
    blocks.duplicate(55, 60)
    assert blocks.pending(sack_room(True)) == 3 and sack_room(False) == 4
    assert blocks.take(3) == ((55, 60), (50, 80), (90, 100))
    assert blocks.take(3) == ((50, 80), (90, 100), (30, 40))
    blocks.advance(80)
    assert blocks.blocks == [(90, 100)]


def test_duplicate_range() -> None:
    seg = Segment(seq=100, length=20)
    assert duplicate_range(seg, 200, {}) == (100, 120)
    assert duplicate_range(seg, 110, {}) == (100, 110)
    assert duplicate_range(seg, 90, {}) is None
    assert duplicate_range(seg, 90, {115: bytes(10), 105: bytes(5)}) == (105, 110)
    assert duplicate_range(seg, 90, {110: bytes(10), 102: bytes(8)}) == (102, 120)
    assert duplicate_range(Segment(seq=SEQ_MOD - 5, length=10), 3, {}) == (SEQ_MOD - 5, 3)


def test_scoreboard() -> None:
    board = Scoreboard()
    board.update(((30, 40), (10, 20), (0, 5)), snd_una=5, snd_nxt=50)  # (0, 5): D-SACK
    assert board.ranges == [(10, 20), (30, 40)]
    board.update(((20, 30),), snd_una=5, snd_nxt=50)
    assert board.ranges == [(10, 40)]
    assert board.next_sacked(5) == 10 and board.next_sacked(15) == 15
    board.acked(40)
    assert board.next_sacked(40) is None
