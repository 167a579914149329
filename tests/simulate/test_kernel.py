"""Simulated scenarios (Linux preset) against the kernel's own captures in the corpus.

For each pair the sequence of (direction, flags, relative seq, relative ack, length)
must be identical, as seen from the capture point (client side). Windows and times are
not compared: loopback's 65483-byte MSS and the timestamps option differ on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.report import as_captured, initial_numbers
from core.simulate.scenarios import get
from core.tcp.segment import SEQ_MOD, Flag, flags_text
from core.tcp.states import Side

Row = tuple[str, str, int, int | None, int]

PAIRS = [
    ("close_client_first_delayed.pcap", "close_client_first"),
    ("close_client_first_immediate.pcap", "close_three_segment"),
    ("close_server_first.pcap", "close_server_first"),
    ("closed_port.pcap", "closed_port"),
    ("simultaneous_close_client.pcap", "simultaneous_close"),
    ("abort_linger0.pcap", "abort"),
    ("timewait_bind.pcap", "bind_eaddrinuse"),
]


def kernel_rows(truth_path: Path) -> list[Row]:
    packets = [p for p in json.loads(truth_path.read_text())["packets"] if p.get("tcp")]
    client_port = next(p["sport"] for p in packets if p["flags"] == "[S]")
    return [("c" if p["sport"] == client_port else "s", p["flags"], p["seq"], p["ack"],
             p["len"]) for p in packets]


def simulated_rows(name: str) -> list[Row]:
    timeline = get(name).run()
    iss = initial_numbers(timeline)
    rows: list[Row] = []
    for _, rec in as_captured(timeline, Side.CLIENT):
        seg = rec.segment
        peer = iss.get(rec.receiver)
        ack = None
        if seg.has(Flag.ACK):
            ack = (seg.ack - peer) % SEQ_MOD if peer is not None else seg.ack
        rows.append((rec.sender.value[0], flags_text(seg.flags),
                     (seg.seq - iss[rec.sender]) % SEQ_MOD, ack, seg.length))
    return rows


@pytest.mark.parametrize(("capture", "scenario"), PAIRS, ids=[p[1] for p in PAIRS])
def test_scenario_matches_the_kernel(corpus: Path, capture: str, scenario: str) -> None:
    truth = corpus / "kernel" / capture.replace(".pcap", ".truth.json")
    expected = kernel_rows(truth)
    got = simulated_rows(scenario)
    assert got == expected, "\n".join(
        f"{'!!' if g != e else '  '} sim {g}   kernel {e}" for g, e in zip(got, expected,
                                                                      strict=False))
