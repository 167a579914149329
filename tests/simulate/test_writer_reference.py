"""The fast capture writer (struct) against the reference one (scapy): same bytes.

Every scenario, clean and with 20% loss, is written by both; the records (headers,
checksums, options, payload, times) must be identical. Only the file header's snap
length differs: scapy writes 65535, ours 262144 as tcpdump does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture.writer import write_pcap
from core.capture.writer_scapy import write_pcap_scapy
from core.simulate.scenarios import SCENARIOS
from core.states import Side


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_both_writers_write_the_same_records(tmp_path: Path, name: str) -> None:
    scenario = next(s for s in SCENARIOS if s.name == name)
    for overrides, at in (({}, Side.CLIENT), ({"loss": 0.2, "seed": 3}, Side.SERVER)):
        timeline = scenario.run(overrides)
        fast, slow = tmp_path / "fast.pcap", tmp_path / "slow.pcap"
        count = write_pcap(timeline, fast, at=at)
        assert write_pcap_scapy(timeline, slow, at=at) == count > 0
        a, b = fast.read_bytes(), slow.read_bytes()
        assert a[:16] == b[:16] and a[20:24] == b[20:24]
        assert a[24:] == b[24:], f"{name} {overrides}: records differ"
