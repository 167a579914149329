"""Captures at every tap (``core.capture.taps``): what each tap records agrees with the
simulator's truth, under loss, reordering, duplication and jitter, and the files read
back (our reader, the replay, plain tshark) as what the truth says they hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture import read_capture
from core.capture.taps import (
    CaptureTruth,
    LossPlace,
    Outcome,
    TapPoint,
    capture_truth,
    write_capture,
)
from core.capture.writer import EPOCH, write_pcap
from core.errors import ParameterError
from core.simulate.link import Link, LinkConfig, place
from core.simulate.pair import LINK_COPY, Pair
from core.simulate.scenarios import get
from core.tcp.config import EndpointConfig
from core.tcp.states import Side
from core.trace import SegmentLost, Timeline
from tests.simulate.tshark import TSHARK, tshark_problems

C, S = Side.CLIENT, Side.SERVER
IMPAIRED = {"loss": 0.2, "reorder": 0.2, "duplicate": 0.1, "jitter": 0.005}
NAMES = ("hello_ok", "fast_retransmit", "flow_control", "close_client_first",
         "time_wait_lost_ack")
CASES = [(name, seed) for name in NAMES for seed in (1, 2, 4, 5)]
MIDS = (0.0, 0.25, 0.5, 0.8, 1.0)


def impaired(name: str, seed: int) -> Timeline:
    return get(name).run({**IMPAIRED, "seed": seed})


def check_frames(truth: CaptureTruth) -> None:
    """Frames numbered from 1 in (time, index, interface) order; each segment's frame
    numbers are the frames that name it."""
    keys = [(fr.time, fr.index, fr.interface) for fr in truth.frames]
    assert keys == sorted(keys)
    assert [fr.number for fr in truth.frames] == list(range(1, len(truth.frames) + 1))
    named = {(fr.index, fr.interface): fr.number for fr in truth.frames}
    assert len(named) == len(truth.frames)  # a segment at most once per tap
    for seg in truth.segments:
        for interface, number in enumerate(seg.frames):
            assert named.get((seg.index, interface)) == number


def times(truth: CaptureTruth, interface: int = 0) -> dict[int, float]:
    return {fr.index: fr.time for fr in truth.frames if fr.interface == interface}


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_end_taps_see_what_each_end_sent_and_received(name: str, seed: int,
                                                      tmp_path: Path) -> None:
    timeline = impaired(name, seed)
    for at in (C, S):
        tap = TapPoint.client() if at is C else TapPoint.server()
        truth = write_capture(timeline, tmp_path / "tap.pcap", tap)
        check_frames(truth)
        seen = times(truth)
        for rec, seg in zip(timeline.segments, truth.segments, strict=True):
            copy = LINK_COPY in rec.labels
            assert seg.copy == copy and seg.arrived == (rec.arrived is not None)
            if rec.sender is at:  # every segment it sent, when sent; not the link's copies
                assert (rec.index in seen) != copy
                assert copy or seen[rec.index] == rec.sent
            else:  # the peer's: exactly those that arrived, when they arrived
                assert (rec.index in seen) == (rec.arrived is not None)
                assert rec.arrived is None or seen[rec.index] == rec.arrived
            if seg.outcome is Outcome.LOST:
                assert seg.loss(0) is (LossPlace.AFTER_TAP if rec.sender is at
                                       else LossPlace.BEFORE_TAP)
        # the same file write_pcap writes, byte for byte
        write_pcap(timeline, tmp_path / "old.pcap", at=at)
        assert (tmp_path / "tap.pcap").read_bytes() == (tmp_path / "old.pcap").read_bytes()


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_a_mid_path_tap_sees_what_passed_it(name: str, seed: int) -> None:
    timeline = impaired(name, seed)
    ends = capture_truth(timeline, TapPoint.both())
    at_client, at_server = times(ends, 0), times(ends, 1)
    for f in MIDS:
        truth = capture_truth(timeline, TapPoint.mid(f))
        check_frames(truth)
        seen = times(truth)
        for rec, seg in zip(timeline.segments, truth.segments, strict=True):
            d = f if rec.sender is C else 1 - f
            end = rec.arrived
            if seg.outcome is Outcome.LOST:
                assert seg.lost_at is not None and 0 <= seg.lost_at < 1
                assert (rec.index in seen) == (seg.lost_at >= d)
                assert seg.loss(0) is (LossPlace.AFTER_TAP if seg.lost_at >= d
                                       else LossPlace.BEFORE_TAP)
                lost = next(e for e in timeline.events
                            if isinstance(e, SegmentLost) and e.index == rec.index)
                end = lost.due
            elif seg.copy:
                assert seg.copied_at is not None and 0 <= seg.copied_at < 1
                assert (rec.index in seen) == (seg.copied_at < d)
            else:
                assert seg.outcome is Outcome.ARRIVED and rec.index in seen
            if rec.index in seen:  # on its way, in proportion, between the two ends
                assert end is not None
                assert seen[rec.index] == pytest.approx(rec.sent + d * (end - rec.sent))
                assert rec.sent <= seen[rec.index] <= end
                if rec.index in at_client and rec.index in at_server:
                    lo, hi = sorted((at_client[rec.index], at_server[rec.index]))
                    assert lo <= seen[rec.index] <= hi
        if f == 0.0:
            assert truth.frames == capture_truth(timeline, TapPoint.client()).frames
        if f == 1.0:
            assert truth.frames == capture_truth(timeline, TapPoint.server()).frames


def test_the_cases_have_losses_on_both_sides_of_a_tap_and_copies() -> None:
    """Not vacuous: among the cases, a mid tap misses some lost segments and sees
    others, and sees some of the link's copies and misses others."""
    places: set[LossPlace | None] = set()
    copies: set[bool] = set()
    for name, seed in CASES:
        truth = capture_truth(impaired(name, seed), TapPoint.mid(0.5))
        places |= {seg.loss(0) for seg in truth.segments if seg.outcome is Outcome.LOST}
        copies |= {seg.frames[0] is not None for seg in truth.segments if seg.copy}
    assert places == {LossPlace.BEFORE_TAP, LossPlace.AFTER_TAP}
    assert copies == {True, False}


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_both_ends_is_the_union_of_the_two_end_taps(name: str, seed: int,
                                                    tmp_path: Path) -> None:
    timeline = impaired(name, seed)
    path = tmp_path / "both.pcapng"
    truth = write_capture(timeline, path, TapPoint.both())
    check_frames(truth)
    assert truth.pcapng and truth.interfaces == ("client", "server")
    union = {(0, fr.index, fr.time) for fr in capture_truth(timeline, TapPoint.client()).frames}
    union |= {(1, fr.index, fr.time) for fr in capture_truth(timeline, TapPoint.server()).frames}
    assert {(fr.interface, fr.index, fr.time) for fr in truth.frames} == union
    assert len(truth.frames) == len(union)
    for seg in truth.segments:  # a segment both ends saw: its own sender's tap first
        if len(seg.seen_by) == 2:
            first, second = seg.frames
            assert first is not None and second is not None
            assert (first < second) == (seg.sender is C)
    assert path.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"


@pytest.mark.parametrize("tap", ["client", "server", "mid:0.3", "mid", "both"])
@pytest.mark.parametrize(("name", "seed"), CASES[::3])
def test_files_read_back_as_the_truth_says(name: str, seed: int, tap: str,
                                           tmp_path: Path) -> None:
    """Our reader sees every frame, on its interface, with its segment's numbers and its
    time; the replay reads the file as one stream; plain tshark finds nothing wrong."""
    from core.replay import replay_stream
    timeline = impaired(name, seed)
    path = tmp_path / f"{name}.cap"
    truth = write_capture(timeline, path, TapPoint.parse(tap))
    index = read_capture(str(path))
    p = index.packets
    assert index.format == ("pcapng" if tap == "both" else "pcap")
    assert len(p) == len(truth.frames)
    assert p["interface"].tolist() == [fr.interface for fr in truth.frames]
    assert p["frame"].tolist() == [fr.number for fr in truth.frames]
    for row, fr in zip(p, truth.frames, strict=True):
        seg = timeline.segments[fr.index].segment
        assert (int(row["seq"]), int(row["ack"]), int(row["payload_len"])) == \
            (seg.seq, seg.ack, seg.length)
        micros = EPOCH * 1_000_000 + round(fr.time * 1_000_000)
        assert int(row["time_ns"]) == micros * 1000
    assert set(p["stream"].tolist()) == {0}
    replay = replay_stream(index, 0)
    assert len(replay.timeline) > 0
    if TSHARK is not None:
        assert tshark_problems(path) == []


def test_where_a_segment_was_lost_is_hashed_from_the_seed_and_its_number() -> None:
    """lost_at and copied_at come from their own source: the fates the seeded stream
    decides are those ``transmit`` gives, and a rerun gives the same places."""
    config = LinkConfig(loss=0.3, jitter=0.002, duplicate=0.2, seed=9)
    a, b = Link(config), Link(config)
    for i in range(300):
        sender = C if i % 3 else S
        fate = a.decide(i * 0.01, sender)
        assert (list(fate.arrivals), fate.reason) == b.transmit(i * 0.01, sender)
        assert fate.due >= i * 0.01
        nth = a._count[sender]
        if fate.reason is not None:
            assert fate.lost_at == place(9, sender, nth, "lost") and not fate.arrivals
            assert fate.copied_at is None
        elif len(fate.arrivals) == 2:
            assert fate.copied_at == place(9, sender, nth, "copied")
            assert fate.due == fate.arrivals[0]
        else:
            assert fate.lost_at is None and fate.copied_at is None
    spread = [place(1, C, n, "lost") for n in range(1, 1001)]
    assert all(0 <= x < 1 for x in spread)
    assert 0.4 < sum(spread) / len(spread) < 0.6


def test_a_simulation_records_where_each_loss_happened() -> None:
    timeline = impaired("fast_retransmit", 1)
    lost = [e for e in timeline.events if isinstance(e, SegmentLost)]
    assert lost
    counts = {C: 0, S: 0}
    nth: dict[int, int] = {}
    for rec in timeline.segments:
        if LINK_COPY not in rec.labels:
            counts[rec.sender] += 1
            nth[rec.index] = counts[rec.sender]
    for event in lost:
        rec = timeline.segments[event.index]
        assert event.lost_at == place(1, rec.sender, nth[rec.index], "lost")
        assert event.due is not None and event.due > rec.sent
    from core.report import timeline_to_dict
    drops = [e for e in timeline_to_dict(timeline, events=True)["events"]
             if e["type"] == "drop"]
    assert [d["lost_at"] for d in drops] == [round(e.lost_at or -1, 6) for e in lost]


def test_hand_driven_drops_and_copies() -> None:
    """``Pair.drop`` loses a segment halfway; ``Pair.duplicate`` copies it at the
    sender's end, so only the sender's tap misses the copy."""
    pair = Pair(EndpointConfig(iss=100), EndpointConfig(iss=900))
    pair.app(S, "passive_open")
    pair.app(C, "active_open")
    pair.duplicate(C)  # a copy of the SYN
    pair.drop(C)  # the SYN itself is lost
    pair.deliver_all()
    timeline = pair.timeline()
    for f, syn_seen in ((0.4, True), (0.5, True), (0.6, False)):
        truth = capture_truth(timeline, TapPoint.mid(f))
        syn, copy = truth.segments[0], truth.segments[1]
        assert syn.outcome is Outcome.LOST and syn.lost_at == 0.5
        assert (syn.frames[0] is not None) == syn_seen
        assert copy.copied_at == 0.0 and copy.frames[0] is not None
    assert capture_truth(timeline, TapPoint.client()).segments[1].frames == (None,)


def test_a_segment_in_flight_at_the_end_passed_only_its_senders_tap() -> None:
    timeline = get("hello_ok").run({"until": 0.005})
    truth = capture_truth(timeline, TapPoint.parse("both"))
    syn = truth.segments[0]
    assert syn.outcome is Outcome.IN_FLIGHT and not syn.arrived
    assert syn.seen_by == (0,) and syn.loss(0) is None
    assert capture_truth(timeline, TapPoint.mid(0.1)).frames == ()


def test_tap_points() -> None:
    assert TapPoint.parse("client") == TapPoint.client() == TapPoint(fractions=(0.0,))
    assert TapPoint.parse(" Server ") == TapPoint.server()
    assert TapPoint.parse("mid") == TapPoint.mid(0.5) == TapPoint.parse("mid:0.5")
    assert TapPoint.parse("mid:0.25").fractions == (0.25,)
    assert TapPoint.parse("both").fractions == (0.0, 1.0)
    assert [TapPoint.parse(t).name for t in ("client", "server", "mid:0.25", "both")] == \
        ["client", "server", "mid:0.25", "both"]
    assert TapPoint(fractions=(0.0, 0.5)).name == "client+mid:0.5"
    assert TapPoint.both().distance(1, S) == 0.0 and TapPoint.mid(0.3).distance(0, S) == 0.7
    for bad in ("", "middle", "mid:x", "mid:1.5", "mid:-0.1", "mid:nan", "client:1"):
        with pytest.raises(ParameterError):
            TapPoint.parse(bad)
    for fractions in ((), (0.5, 0.5), (2.0,)):
        with pytest.raises(ParameterError):
            TapPoint(fractions=fractions)


def test_one_tap_in_pcapng_and_two_taps_not_in_pcap(tmp_path: Path) -> None:
    timeline = get("hello_ok").run()
    truth = write_capture(timeline, tmp_path / "mid.pcapng", TapPoint.mid(0.5), pcapng=True)
    assert truth.pcapng and read_capture(str(tmp_path / "mid.pcapng")).format == "pcapng"
    with pytest.raises(ParameterError):
        write_capture(timeline, tmp_path / "x.pcap", TapPoint.both(), pcapng=False)


@pytest.mark.parametrize(("at", "count", "kind"), [
    (None, 7, "client-side capture"), ("client", 7, "client-side capture"),
    ("server", 7, "server-side capture"), ("mid:0.25", 7, "0.25 of the way"),
    ("both", 14, "pcapng")])
def test_cli_writes_each_tap(at: str | None, count: int, kind: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    from gui.app.cli import main
    out = tmp_path / "h.pcap"
    assert main(["simulate", "hello_ok", "--pcap", str(out),
                 *(["--at", at] if at else [])]) == 0
    printed = capsys.readouterr().out
    assert f"({count} packets, " in printed and kind in printed
    index = read_capture(str(out))
    assert len(index.packets) == count
    assert index.format == ("pcapng" if at == "both" else "pcap")


def test_cli_refuses_a_bad_tap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gui.app.cli import main
    out = tmp_path / "h.pcap"
    assert main(["simulate", "hello_ok", "--pcap", str(out), "--at", "mid:2"]) == 1
    assert "bad tap 'mid:2'" in capsys.readouterr().err and not out.exists()
    assert main(["simulate", "hello_ok", "--at", "both"]) == 1
    assert "--at needs --pcap" in capsys.readouterr().err
