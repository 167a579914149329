"""Every scenario's export opens cleanly in plain tshark: no decode-as, no malformed
frame, no expert info of severity error, on port 5000 too (the payloads are readable
text, ``core.tcp.payload``, not zeros that tshark's IPA dissector reads as broken RSL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture.taps import TapPoint, write_capture
from core.capture.writer import write_pcap
from core.simulate.pair import Pair
from core.simulate.scenarios import SCENARIOS, Scenario
from core.tcp.config import EndpointConfig
from core.tcp.payload import LINE, fill, text
from core.tcp.states import Side
from tests.simulate.tshark import TSHARK, tshark_problems

needs_tshark = pytest.mark.skipif(TSHARK is None,
                                  reason="tshark is not installed (make test installs it)")


@needs_tshark
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_decodes_in_plain_tshark(scenario: Scenario, tmp_path: Path) -> None:
    path = tmp_path / f"{scenario.name}.pcap"
    write_pcap(scenario.run(), path)
    assert tshark_problems(path) == []


@needs_tshark
@pytest.mark.parametrize("tap", ["server", "mid:0.3", "both"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_scenario_decodes_at_every_tap(scenario: Scenario, tap: str,
                                             tmp_path: Path) -> None:
    path = tmp_path / f"{scenario.name}.pcapng"
    write_capture(scenario.run(), path, TapPoint.parse(tap))
    assert tshark_problems(path) == []


@needs_tshark
def test_the_check_sees_zero_payloads_as_malformed(tmp_path: Path) -> None:
    """What the product no longer does: zeros to port 5000 are a malformed RSL message
    for tshark. The check above would catch them."""
    pair = Pair(EndpointConfig(iss=100), EndpointConfig(iss=900))
    pair.app(Side.SERVER, "passive_open")
    pair.app(Side.CLIENT, "active_open")
    pair.run()
    pair.app(Side.CLIENT, "send", bytes(200))
    pair.run()
    path = tmp_path / "zeros.pcap"
    write_pcap(pair.timeline(), path)
    assert any("malformed" in line for line in tshark_problems(path))


def test_the_text_pattern() -> None:
    data = text(3 * LINE)
    assert data.startswith(b"SynAck data 000001 abc") and data.count(b"\n") == 3
    assert data[LINE:].startswith(b"SynAck data 000002 ")
    assert all(32 <= byte < 127 or byte == 10 for byte in data)
    assert text(100) + text(50, 100) == text(150)
    assert text(10, 1000) == text(1010)[1000:]
    assert text(0) == b""
    assert fill(b"hi", 5, 0) == b"hi" + text(3, 2)
    assert fill(b"hello", 3) == b"hel"
    with pytest.raises(ValueError):
        text(-1)


def test_bulk_scenarios_send_the_pattern() -> None:
    timeline = next(s for s in SCENARIOS if s.name == "fast_retransmit").run()
    data = [rec for rec in timeline.segments if rec.segment.length and
            rec.sender is Side.CLIENT]
    first = data[0].segment.length          # MSS 100 less the timestamps option: 88
    assert data[0].segment.payload == text(first)
    total = sum(r.segment.length for r in data[:6])
    assert b"".join(r.segment.payload for r in data[:6]) == text(total)


def test_a_segment_that_only_counts_its_bytes_is_filled_with_the_pattern() -> None:
    """A hand-made segment with a length and no payload: the receiver's application
    reads, and the writer writes, the pattern's bytes at the segment's place."""
    from core.capture.writer import frame_of
    from core.tcp.segment import Flag, Segment, seq_add
    pair = Pair(EndpointConfig(iss=100), EndpointConfig(iss=900, auto_read=False))
    pair.app(Side.SERVER, "passive_open")
    pair.app(Side.CLIENT, "active_open")
    pair.run()
    pair.inject(Side.CLIENT, Segment(seq=seq_add(100, 1), ack=901, flags=Flag.ACK,
                                     window=1000, length=70))
    assert pair.read(Side.SERVER) == text(70)
    timeline = pair.timeline()
    injected = next(rec for rec in timeline.segments if "injected" in rec.labels)
    frame, _ = frame_of(timeline, injected)
    assert frame.endswith(text(70))
