"""Every scenario exported as a capture decodes cleanly in tshark, with our numbers, and
tshark's analysis labels are the ones the Timeline keeps, frame by frame; the Timeline's
segments carry SynAck's verdict, which differs only where a verdict rule says why.

The two kinds of frame where our analysis and tshark's may differ are described, and
checked frame by frame, in ``tests/simulate/tshark.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture.writer import captured_view, write_pcap
from core.report import timeline_to_dict
from core.simulate.judged import changes_of
from core.simulate.scenarios import SCENARIOS, Scenario
from core.tcp.states import Side
from tests.simulate.tshark import TSHARK, explain, ours, tshark_labels, tshark_packets, verdict

pytestmark = pytest.mark.skipif(TSHARK is None,
                                reason="tshark is not installed (make test installs it)")

#: where tshark says something else than we do, by scenario: frame -> documented case
EXPECTED_DIFFERENCES = {"flow_control": {17: "1", 18: "1", 19: "1"}}
#: where SynAck's verdict corrects tshark's labels, by scenario: frame -> rule
EXPECTED_VERDICTS = {"simultaneous_open": {3: "simultaneous_open", 4: "simultaneous_open"},
                     "time_wait_lost_ack": {13: "fin_reack"}}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_export_decodes_cleanly_with_our_labels(scenario: Scenario, tmp_path: Path) -> None:
    timeline = scenario.run()
    path = tmp_path / f"{scenario.name}.pcap"
    count = write_pcap(timeline, path)
    packets = tshark_packets(path)
    assert len(packets) == count > 0
    for n, info in enumerate(packets, 1):
        assert info["tcp.checksum.status"] == ["1"], f"frame {n}: TCP checksum"
        assert info.get("ip.checksum.status", ["1"]) == ["1"], f"frame {n}: IP checksum"
        assert "_ws.malformed" not in info
        assert not any("Malformed" in m for m in info.get("_ws.expert.message", []))
    # what tshark reads is what we sent (client-side view)
    ours_segments = timeline_to_dict(timeline)["segments"]
    seen = [s for s in ours_segments if s["from"] == Side.CLIENT.value or s["arrived"] is not None]
    assert sorted(int(p["tcp.len"][0]) for p in packets) == sorted(s["len"] for s in seen)
    # tshark's analysis labels are ours, except the documented, checked cases
    view = captured_view(timeline)
    differences = {}
    corrected = {}
    for n, (info, (_, rec)) in enumerate(zip(packets, view, strict=True), 1):
        mine, theirs = ours(timeline, rec), tshark_labels(info)
        if mine != theirs:
            differences[n] = explain(timeline, Side.CLIENT, n, mine, theirs) or \
                f"unexplained: ours {mine}, tshark {theirs}"
        changes = changes_of(timeline, rec.index)
        assert (verdict(rec) != mine) == bool(changes), n
        if changes:
            corrected[n] = ",".join(c.rule for c in changes)
    assert differences == EXPECTED_DIFFERENCES.get(scenario.name, {})
    assert corrected == EXPECTED_VERDICTS.get(scenario.name, {})


def test_cut_capture_keeps_lengths(tmp_path: Path) -> None:
    """``snaplen`` cuts frames as tcpdump -s does; tshark still reads the full lengths."""
    timeline = next(s for s in SCENARIOS if s.name == "flow_control").run()
    path = tmp_path / "cut.pcap"
    count = write_pcap(timeline, path, snaplen=80)
    packets = tshark_packets(path)
    assert len(packets) == count
    assert [int(p["tcp.len"][0]) for p in packets] == \
        [rec.segment.length for _, rec in captured_view(timeline)]


def test_cli_writes_a_capture(tmp_path: Path) -> None:
    from gui.app.cli import main
    out = tmp_path / "h.pcap"
    assert main(["simulate", "hello_ok", "--pcap", str(out)]) == 0
    assert out.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")


def test_ipv6_capture(tmp_path: Path) -> None:
    from core.simulate.pair import Pair
    from core.tcp.config import EndpointConfig
    pair = Pair(EndpointConfig(iss=100), EndpointConfig(iss=900),
                client_address="2001:db8::1", server_address="2001:db8::2")
    pair.app(Side.SERVER, "passive_open")
    pair.app(Side.CLIENT, "active_open")
    pair.run()
    pair.app(Side.CLIENT, "send", b"hello over IPv6")
    pair.run()
    path = tmp_path / "v6.pcap"
    assert write_pcap(pair.timeline(), path) == 5  # handshake, data, its ACK
    packets = tshark_packets(path)
    assert [p["tcp.checksum.status"] for p in packets] == [["1"]] * 5
    assert [int(p["tcp.len"][0]) for p in packets] == [0, 0, 0, 15, 0]
