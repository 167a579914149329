"""Timestamps and SACK in the simulated scenarios, their parameters, and the captures.

A capture written from a simulation must show tshark the same TSval, TSecr and SACK
blocks the endpoints sent, with a D-SACK where one was sent, in Linux's option layout.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.capture.writer import _options, captured_view, write_pcap
from core.errors import ParameterError
from core.simulate.params import SCHEMA, build_configs, parse_assignment
from core.simulate.scenarios import get
from core.tcp.segment import Flag, Options, seq_lt
from core.tcp.states import Side
from core.tcp.tcpopts import ts_clock
from core.trace import SegmentRecord, Timeline
from tests.simulate.tshark import TSHARK


def run(name: str, *assignments: str) -> Timeline:
    return get(name).run(dict(parse_assignment(a) for a in assignments))


def is_dsack(rec: SegmentRecord) -> bool:
    """RFC 2883: the first block lies below the ACK number or inside the second block."""
    blocks = rec.segment.options.sack_blocks
    if not blocks:
        return False
    (left, right), ack = blocks[0], rec.segment.ack
    inside = len(blocks) > 1 and not seq_lt(left, blocks[1][0]) and not seq_lt(blocks[1][1],
                                                                              right)
    return seq_lt(left, ack) or inside


# ----- parameters ----------------------------------------------------------------------------
def test_parameters() -> None:
    assert parse_assignment("timestamps=off") == ("timestamps", False)
    assert parse_assignment("client.sack=off") == ("client.sack", False)
    assert parse_assignment("server.ts_offset=7") == ("server.ts_offset", 7)
    assert parse_assignment("ts_offset=random") == ("ts_offset", "random")
    for key in ("timestamps", "sack", "ts_offset"):
        assert SCHEMA[key].per_side and SCHEMA[key].text
    with pytest.raises(ParameterError):
        parse_assignment("sack=maybe")
    client, server, _ = build_configs({})
    assert client.timestamps and client.sack and server.timestamps and server.sack
    client, server, _ = build_configs({"preset": "rfc"})
    assert not (client.timestamps or client.sack or server.timestamps or server.sack)
    client, server, _ = build_configs({"client.timestamps": False, "sack": False})
    assert not client.timestamps and server.timestamps and not client.sack
    assert not server.sack


def test_ts_offsets_come_from_the_seed() -> None:
    one = build_configs({"seed": 4})
    again = build_configs({"seed": 4, "loss": 0.1})
    other = build_configs({"seed": 5})
    assert (one[0].ts_offset, one[1].ts_offset) == (again[0].ts_offset, again[1].ts_offset)
    assert one[0].ts_offset != one[1].ts_offset != other[1].ts_offset
    pinned = build_configs({"ts_offset": 0, "server.ts_offset": 9})
    assert (pinned[0].ts_offset, pinned[1].ts_offset) == (0, 9)


# ----- the scenarios ------------------------------------------------------------------------
def test_every_segment_of_a_lossy_run_carries_its_clock() -> None:
    timeline = run("fast_retransmit", "loss=0.2", "seed=3", "ts_offset=1000")
    received: dict[Side, set[int]] = {Side.CLIENT: set(), Side.SERVER: set()}
    events = sorted([(r.sent, 1, r) for r in timeline.segments]
                    + [(r.arrived, 0, r) for r in timeline.segments if r.arrived is not None],
                    key=lambda e: (e[0], e[1]))
    for _, sending, rec in events:
        stamp = rec.segment.options.timestamp
        assert stamp is not None, rec.segment.describe()
        if not sending:
            received[rec.receiver].add(stamp[0])
            continue
        assert stamp[0] == ts_clock(rec.sent, 1000)
        if rec.segment.flags == Flag.SYN:
            assert stamp[1] == 0
        else:  # TSecr echoes a TSval that arrived before
            assert stamp[1] in received[rec.sender], rec.segment.describe()


@pytest.mark.parametrize("off", ["timestamps", "sack"])
@pytest.mark.parametrize("side", ["client.", "server.", ""])
def test_one_side_off_turns_the_option_off(off: str, side: str) -> None:
    timeline = run("fast_retransmit", f"{side}{off}=off")
    segs = [r.segment for r in timeline.segments]
    if off == "timestamps":
        assert all(s.options.timestamp is None for s in segs if s.flags != Flag.SYN)
        assert any(s.options.sack_blocks for s in segs)
    else:
        assert not any(s.options.sack_blocks for s in segs)
        assert all(s.options.timestamp is not None for s in segs)


def test_out_of_order_data_is_sacked() -> None:
    timeline = run("out_of_order")
    acks = [r.segment for r in timeline.segments if r.sender is Side.SERVER
            and r.segment.options.sack_blocks]
    assert len(acks) == 3
    for ack in acks:  # the blocks lie above the ACK: the data held beyond the hole
        assert all(seq_lt(ack.ack, left) for left, _ in ack.options.sack_blocks)
    lengths = [(b - a) % (1 << 32) for a, b in (ack.options.sack_blocks[0] for ack in acks)]
    assert lengths == sorted(lengths) and lengths[0] > 0  # one block, growing


def test_holes_show_as_several_blocks_most_recent_first() -> None:
    timeline = run("fast_retransmit", "drop=client:4,client:6,client:8")
    blocks = [r.segment.options.sack_blocks for r in timeline.segments
              if r.sender is Side.SERVER and r.segment.options.sack_blocks]
    assert [len(b) for b in blocks[:3]] == [1, 2, 3]
    assert blocks[2][1:] == blocks[1] and blocks[1][1:] == blocks[0]
    assert not any(is_dsack(rec) for rec in timeline.segments)


def test_duplicates_are_reported_with_dsack() -> None:
    timeline = run("hello_ok", "duplicate=1")
    dsacks = [r for r in timeline.segments if is_dsack(r)]
    assert {r.sender for r in dsacks} == {Side.CLIENT, Side.SERVER}
    for rec in dsacks:  # data below the ACK number: "hello" (1:6) and "OK" (1:3)
        (left, right), = rec.segment.options.sack_blocks
        assert (right - left) % (1 << 32) == (5 if rec.sender is Side.SERVER else 2)
        assert right == rec.segment.ack


# ----- captures --------------------------------------------------------------------------------
def test_options_in_linux_layout() -> None:
    syn = _options(Options(mss=1460, sack_permitted=True, timestamp=(1, 0), wscale=7))
    assert syn.hex() == "020405b4" "0402080a" "00000001" "00000000" "01030307"
    assert _options(Options(mss=1460, sack_permitted=True, wscale=7)).hex() == \
        "020405b4" "01010402" "01030307"
    assert _options(Options(mss=1460, timestamp=(1, 2), wscale=7)).hex() == \
        "020405b4" "0101080a" "00000001" "00000002" "01030307"
    ack = _options(Options(timestamp=(3, 4), sack_blocks=((10, 20), (30, 40))))
    assert ack.hex() == ("0101080a" "00000003" "00000004" "01010512"
                         "0000000a" "00000014" "0000001e" "00000028")


def tshark_options(path: Path) -> list[list[str]]:
    assert TSHARK is not None
    fields = ["tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
              "tcp.options.sack_le", "tcp.options.sack_re", "tcp.options.sack.dsack"]
    out = subprocess.run(
        [TSHARK, "-n", "-r", str(path), "-o", "tcp.relative_sequence_numbers:FALSE",
         "-d", "tcp.port==5000,data", "-T", "fields",
         *sum((["-e", f] for f in fields), [])],
        capture_output=True, text=True, timeout=120, check=True)
    return [line.split("\t") for line in out.stdout.splitlines()]


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (make test installs it)")
@pytest.mark.parametrize("args", [("hello_ok", "duplicate=1"),
                                  ("fast_retransmit", "drop=client:4,client:6,client:8"),
                                  ("fast_retransmit", "duplicate=0.3", "seed=3"),
                                  ("out_of_order", "client.timestamps=off")],
                         ids=lambda a: " ".join(a))
@pytest.mark.parametrize("at", [Side.CLIENT, Side.SERVER], ids=lambda s: s.value)
def test_tshark_reads_our_timestamps_and_sack_blocks(tmp_path: Path, args: tuple[str, ...],
                                                     at: Side) -> None:
    timeline = run(*args)
    path = tmp_path / "sack.pcap"
    write_pcap(timeline, path, at=at)
    view = captured_view(timeline, at)
    rows = tshark_options(path)
    assert len(rows) == len(view)
    dsacks = 0
    for (tsval, tsecr, les, res, dsack), (_, rec) in zip(rows, view, strict=True):
        opts = rec.segment.options
        want = opts.timestamp
        assert (tsval, tsecr) == ((str(want[0]), str(want[1])) if want else ("", ""))
        lefts = [str(a) for a, _ in opts.sack_blocks]
        rights = [str(b) for _, b in opts.sack_blocks]
        assert (les.split(",") if les else [], res.split(",") if res else []) == (lefts, rights)
        assert bool(dsack) == is_dsack(rec), rec.segment.describe()
        dsacks += bool(dsack)
    if "duplicate" in args[1]:
        assert dsacks > 0


def test_time_wait_re_ack_echoes_the_fin_it_took() -> None:
    """Linux answers a FIN sent again from its time-wait socket, which keeps the TSval
    of the first FIN (tcp_timewait_state_process moves it only for a segment at
    RCV.NXT), as the kernel lab's lost_last_ack captures show. So the last ACK echoes the
    first FIN: the evidence that it arrived."""
    tl = run("time_wait_lost_ack")
    fins = [r for r in tl.segments if r.sender is Side.SERVER and r.segment.has(Flag.FIN)]
    assert len(fins) >= 2, "the scenario resends the server's FIN"
    first = fins[0].segment.options.timestamp
    assert first is not None
    after = [r for r in tl.segments if r.sender is Side.CLIENT and r.sent > fins[1].sent]
    assert after, "the client re-ACKs the resent FIN"
    echo = after[0].segment.options.timestamp
    assert echo is not None and echo[1] == first[0]
    assert fins[1].segment.options.timestamp != first


def test_a_resent_syn_leaves_the_listeners_echo_alone() -> None:
    """Linux answers a SYN sent again to SYN_RECEIVED, and resends its SYN+ACK on its
    timer, echoing the first SYN's TSval (tcp_check_req), as the kernel lab's
    lost_synack captures show: the simulator does the same."""
    tl = run("handshake", "drop=server:1")
    syns = [r for r in tl.segments if r.sender is Side.CLIENT
            and r.segment.has(Flag.SYN) and not r.segment.has(Flag.ACK)]
    answers = [r for r in tl.segments if r.sender is Side.SERVER and r.segment.has(Flag.SYN)]
    assert len(syns) >= 2 and len(answers) >= 2
    first = syns[0].segment.options.timestamp
    assert first is not None
    assert syns[1].segment.options.timestamp != first
    for rec in answers:
        stamp = rec.segment.options.timestamp
        assert stamp is not None and stamp[1] == first[0]
