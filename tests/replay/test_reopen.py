"""An RST in TIME_WAIT, and the same ports opened again (explain rule 1c).

The capture is made next to the client: its connection closes, it enters TIME_WAIT, an
old segment of the server's turns up, the client re-ACKs it and the server (which no
longer knows the connection) answers RST. Then the client opens the same ports again.
When that happens just as a TIME_WAIT that ignored the RST runs out, the client ignored
it (RFC 1337); at any other moment the capture cannot tell, and the doubt stays.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from core.capture import read_capture
from core.replay import replay_stream
from core.tcp.states import Side, TcpState

C, S = ("10.0.0.1", 40000), ("10.0.0.2", 80)
FIN_ARRIVES = 0.04          # the client enters TIME_WAIT (the capture is next to it)


def _packet(t: float, client: bool, flags: str, seq: int, ack: int = 0,
            load: bytes = b"") -> Ether:
    (src, sport), (dst, dport) = (C, S) if client else (S, C)
    p = (Ether() / IP(src=src, dst=dst)
         / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535))
    if load:
        p = p / load
    p.time = t
    return p


def _capture(tmp_path: Path, reopen_after: float) -> Path:
    packets = [
        _packet(0.0, True, "S", 100),
        _packet(0.01, False, "SA", 300, 101),
        _packet(0.01, True, "A", 101, 301),
        _packet(0.02, True, "FA", 101, 301),
        _packet(0.03, False, "A", 301, 102),
        _packet(FIN_ARRIVES, False, "FA", 301, 102),
        _packet(FIN_ARRIVES, True, "A", 102, 302),
        _packet(5.0, False, "PA", 296, 102, b"late!"),     # an old duplicate
        _packet(5.0, True, "A", 102, 302),
        _packet(5.01, False, "R", 302),
        _packet(FIN_ARRIVES + reopen_after, True, "S", 9000),
    ]
    path = tmp_path / "reopen.pcap"
    wrpcap(str(path), packets)
    return path


def _client_states(path: Path) -> tuple[list[TcpState], list[str], list[str]]:
    r = replay_stream(read_capture(str(path)), 0)
    tl = r.timeline
    states = [tl.initial[0]] + [c.new for c in tl.state_changes(Side.CLIENT)]
    return states, [u.text for u in tl.uncertain], list(r.anomalies)


@pytest.mark.parametrize("length", [60.0, 120.0, 240.0])
def test_reopening_when_2msl_runs_out_shows_the_rst_ignored(tmp_path: Path,
                                                            length: float) -> None:
    states, doubts, anomalies = _client_states(_capture(tmp_path, length + 0.001))
    assert states[-1] is TcpState.TIME_WAIT, states
    assert not [d for d in doubts if "RFC 1337" in d]
    (why,) = [a for a in anomalies if "ignored (RFC 1337)" in a]
    assert f"2MSL = {length:.0f} s" in why


@pytest.mark.parametrize("after", [6.0, 30.0, 62.5])
def test_reopening_at_another_time_keeps_the_doubt(tmp_path: Path, after: float) -> None:
    states, doubts, anomalies = _client_states(_capture(tmp_path, after))
    assert states[-2:] == [TcpState.TIME_WAIT, TcpState.CLOSED], states
    assert [d for d in doubts if "RFC 1337" in d]
    assert not [a for a in anomalies if "ignored (RFC 1337)" in a]
