"""Two SYN+ACKs at once after a resent SYN: the first SYN arrived (evidence rule 7).

Next to the client: its SYN gets no answer, it resends it after 1 s, and the server
then sends two SYN+ACKs a few milliseconds apart. One answers the second SYN; the other
is the server's own retransmission timer, so the server was already in SYN_RECEIVED:
the first SYN arrived and its SYN+ACK was lost. A network duplicate of the second SYN
would do the same, so the doubt is said. SYN+ACKs a timeout apart prove nothing.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from core.capture import read_capture
from core.replay import replay_stream
from core.replay.evidence import TIMER_SYN_ACK

C, S = ("10.0.0.1", 40000), ("10.0.0.2", 80)


def _packet(t: float, client: bool, flags: str, seq: int, ack: int = 0) -> Ether:
    (src, sport), (dst, dport) = (C, S) if client else (S, C)
    p = Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags,
                                              seq=seq, ack=ack, window=65535)
    p.time = t
    return p


def _replay(tmp_path: Path, second_syn_ack: float):  # type: ignore[no-untyped-def]
    packets = [
        _packet(0.0, True, "S", 100),
        _packet(1.0, True, "S", 100),
        _packet(1.02, False, "SA", 300, 101),
        _packet(second_syn_ack, False, "SA", 300, 101),
        _packet(second_syn_ack, True, "A", 101, 301),
        _packet(second_syn_ack + 0.001, True, "A", 101, 301),
    ]
    path = tmp_path / "syn.pcap"
    wrpcap(str(path), sorted(packets, key=lambda p: float(p.time)))
    return replay_stream(read_capture(str(path)), 0).timeline


def test_two_syn_acks_at_once_prove_the_first_syn(tmp_path: Path) -> None:
    tl = _replay(tmp_path, 1.023)
    assert not tl.segments[0].lost
    assert [g for g in tl.ghosts if g.segment.flags.value & 0x12 == 0x12 and g.lost]
    (doubt,) = [u for u in tl.uncertain if "duplicated the next SYN" in u.text]
    assert doubt.segments[0] == 0 and doubt.alternative_lost == (0,)


def test_syn_acks_a_timeout_apart_prove_nothing(tmp_path: Path) -> None:
    tl = _replay(tmp_path, 2.02)
    assert tl.segments[0].lost
    assert not [u for u in tl.uncertain if "duplicated the next SYN" in u.text]
    assert TIMER_SYN_ACK == "SYN+ACK timer"
