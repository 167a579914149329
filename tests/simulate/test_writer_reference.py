"""The fast capture writers (struct) against the reference ones (scapy): same bytes.

Every scenario, clean and with 20% loss, is written by both; the records (headers,
checksums, options, payload, times) must be identical. Only the file header's snap
length differs: scapy writes 65535, ours 262144 as tcpdump does. The both-ends pcapng
files are compared packet by packet, as scapy reads them back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.capture.taps import TapPoint, write_capture
from core.capture.writer import write_pcap
from core.capture.writer_scapy import write_pcap_scapy, write_pcapng_scapy
from core.simulate.scenarios import SCENARIOS
from core.tcp.states import Side


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


def _pcapng_packets(path: Path) -> list[tuple[bytes, int, str | None, int | None]]:
    """(bytes, time in microseconds, interface name, wire length) of every packet, as
    scapy's pcapng reader sees them."""
    from scapy.utils import PcapNgReader
    with PcapNgReader(str(path)) as reader:
        return [(bytes(p), round(p.time * 1_000_000),
                 None if p.sniffed_on is None else str(p.sniffed_on), p.wirelen)
                for p in reader]


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_both_pcapng_writers_write_the_same_packets(tmp_path: Path, name: str) -> None:
    """Both ends, clean and impaired: the same packets on the same interfaces with the
    same lengths; times equal to the microsecond, or 1 us early in scapy's (it goes
    through a float and truncates); scapy leaves interface 0 unnamed."""
    scenario = next(s for s in SCENARIOS if s.name == name)
    for overrides in ({}, {"loss": 0.2, "reorder": 0.2, "duplicate": 0.1, "jitter": 0.005,
                           "seed": 3}):
        timeline = scenario.run(overrides)
        fast, slow = tmp_path / "fast.pcapng", tmp_path / "slow.pcapng"
        truth = write_capture(timeline, fast, TapPoint.both())
        frames = [(fr.time, fr.interface, timeline.segments[fr.index]) for fr in truth.frames]
        assert write_pcapng_scapy(timeline, slow, frames, interfaces=truth.interfaces) == \
            len(frames) > 0
        ours, theirs = _pcapng_packets(fast), _pcapng_packets(slow)
        assert len(ours) == len(theirs) == len(frames)
        for n, (a, b, fr) in enumerate(zip(ours, theirs, truth.frames, strict=True), 1):
            assert a[0] == b[0] and a[3] == b[3], f"{name} {overrides}: frame {n} differs"
            assert 0 <= a[1] - b[1] <= 1, f"{name} {overrides}: frame {n} time"
            assert a[2] == truth.interfaces[fr.interface]
            assert b[2] == (truth.interfaces[fr.interface] if fr.interface else None)
