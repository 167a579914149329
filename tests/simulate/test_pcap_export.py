"""Every scenario exported as a capture decodes cleanly in tshark, with our numbers.

tshark runs with ``-d tcp.port==5000,data``: the scenarios use port 5000 like the
kernel captures, and tshark's IPA heuristic otherwise reads our zero-filled payloads
as a broken RSL message ("Malformed Packet").
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core.capture.writer import write_pcap
from core.report import timeline_to_dict
from core.simulate.scenarios import SCENARIOS, Scenario
from core.states import Side

TSHARK = shutil.which("tshark")
FIELDS = ["frame.number", "tcp.srcport", "tcp.seq", "tcp.ack", "tcp.len",
          "tcp.checksum.status", "ip.checksum.status", "_ws.malformed", "_ws.expert.message"]

pytestmark = pytest.mark.skipif(TSHARK is None,
                                reason="tshark is not installed (make test installs it)")


def tshark_rows(path: Path) -> list[list[str]]:
    assert TSHARK is not None
    out = subprocess.run(
        [TSHARK, "-r", str(path), "-n", "-d", "tcp.port==5000,data",
         "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
         "-T", "fields", "-E", "separator=|", *sum((["-e", f] for f in FIELDS), [])],
        capture_output=True, text=True, timeout=60, check=True)
    return [line.split("|") for line in out.stdout.splitlines()]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_export_decodes_cleanly(scenario: Scenario, tmp_path: Path) -> None:
    timeline = scenario.run()
    path = tmp_path / f"{scenario.name}.pcap"
    count = write_pcap(timeline, path)
    rows = tshark_rows(path)
    assert len(rows) == count > 0
    for row in rows:
        info = dict(zip(FIELDS, row, strict=True))
        assert info["tcp.checksum.status"] == "1", f"frame {info['frame.number']}: TCP checksum"
        assert info["ip.checksum.status"] in ("1", ""), f"frame {info['frame.number']}: IP"
        assert not info["_ws.malformed"] and "Malformed" not in info["_ws.expert.message"]
    # what tshark reads is what we sent (relative numbers, client-side view)
    ours = timeline_to_dict(timeline)["segments"]
    seen = [s for s in ours if s["from"] == Side.CLIENT.value or s["arrived"] is not None]
    by_len = [int(r[FIELDS.index("tcp.len")]) for r in rows]
    assert sorted(by_len) == sorted(s["len"] for s in seen)


def test_cli_writes_a_capture(tmp_path: Path) -> None:
    from gui.cli import main
    out = tmp_path / "h.pcap"
    assert main(["simulate", "hello_ok", "--pcap", str(out)]) == 0
    assert out.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")
