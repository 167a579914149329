"""The reference capture writers (pcap, pcapng), built with scapy: slow, kept to check
the fast ones.

:mod:`core.capture.writer` builds frames with ``struct`` because scapy needs seconds for
the captures the simulator labels on every run (``bench/simulate.py`` prints both). The
test suite writes every scenario with both writers and compares the pcap files byte for
byte, the pcapng files packet by packet (interface, time, bytes, lengths).

Invariant: no scapy object leaves this module; callers pass a Timeline and a path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from core.capture.writer import EPOCH, captured_view, payload_bytes
from core.errors import SynAckError
from core.report import initial_numbers
from core.tcp.segment import Options
from core.tcp.states import Side
from core.trace import SegmentRecord, Timeline

_MAC = {Side.CLIENT: "02:00:00:00:00:01", Side.SERVER: "02:00:00:00:00:02"}


def _options(options: Options) -> list[tuple[str, object]]:
    """The options in the fast writer's (Linux's) layout."""
    out: list[tuple[str, object]] = []
    if options.mss is not None:
        out.append(("MSS", options.mss))
    if options.timestamp is not None:
        out += [("SAckOK", b"")] if options.sack_permitted else [("NOP", None), ("NOP", None)]
        out.append(("Timestamp", options.timestamp))
    elif options.sack_permitted:
        out += [("NOP", None), ("NOP", None), ("SAckOK", b"")]
    if options.wscale is not None:
        out += [("NOP", None), ("WScale", options.wscale)]
    if options.sack_blocks:
        out += [("NOP", None), ("NOP", None), ("SAck", tuple(
            n for block in options.sack_blocks for n in block))]
    return out


def _packets(timeline: Timeline, view: Sequence[tuple[float, SegmentRecord]]) -> list[Any]:
    """The scapy packets of ``view``'s records, each with its capture time."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    iss = initial_numbers(timeline)
    packets = []
    for time, rec in view:
        src, dst = timeline.peer(rec.sender), timeline.peer(rec.receiver)
        seg = rec.segment
        ip = (IPv6(src=src.address, dst=dst.address, hlim=64) if ":" in src.address
              else IP(src=src.address, dst=dst.address, ttl=64, flags="DF", id=0))
        tcp = TCP(sport=src.port, dport=dst.port, seq=seg.seq, ack=seg.ack,
                  flags=int(seg.flags), window=seg.window, options=_options(seg.options))
        packet = Ether(src=_MAC[rec.sender], dst=_MAC[rec.receiver]) / ip / tcp
        if seg.length:
            packet = packet / Raw(payload_bytes(seg, iss.get(rec.sender, 0)))
        micros = EPOCH * 1_000_000 + round(time * 1_000_000)
        packet.time = micros / 1_000_000
        packets.append(packet)
    return packets


def write_pcap_scapy(timeline: Timeline, path: str | os.PathLike[str], *,
                     at: Side = Side.CLIENT,
                     view: Sequence[tuple[float, SegmentRecord]] | None = None) -> int:
    """What :func:`core.capture.writer.write_pcap` writes, made by scapy."""
    from scapy.utils import PcapWriter

    target = os.fspath(path)
    packets = _packets(timeline, captured_view(timeline, at) if view is None else view)
    try:
        writer = PcapWriter(target, linktype=1, sync=False)
        for packet in packets:
            writer.write(packet)
        writer.close()
    except OSError as exc:
        raise SynAckError(f"cannot write {target}: {exc.strerror}") from exc
    return len(packets)


def write_pcapng_scapy(timeline: Timeline, path: str | os.PathLike[str],
                       frames: Sequence[tuple[float, int, SegmentRecord]], *,
                       interfaces: Sequence[str]) -> int:
    """What :func:`core.capture.writer.write_pcapng` writes, made by scapy's
    ``PcapNgWriter``. Its interface 0 has no name (scapy gives the first interface
    none), and it turns times into microseconds through a float, truncating: a time
    may come out 1 us early. The packets, interfaces and lengths are the same."""
    from scapy.utils import PcapNgWriter

    target = os.fspath(path)
    packets = _packets(timeline, [(time, rec) for time, _, rec in frames])
    try:
        writer = PcapNgWriter(target)
        writer.linktype = 1
        for packet, (_, interface, _) in zip(packets, frames, strict=True):
            if interface:
                packet.sniffed_on = interfaces[interface]
            writer.write(packet)
        writer.close()
    except OSError as exc:
        raise SynAckError(f"cannot write {target}: {exc.strerror}") from exc
    return len(packets)
