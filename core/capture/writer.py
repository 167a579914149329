"""Write a Timeline as a real capture (Ethernet/IPv4 or IPv6/TCP pcap), made with scapy.

The capture is what a tap next to one side (``at``, the client by default) would record:
that side's segments when sent, the peer's when they arrive (never, if lost on the way).
Checksums and lengths are computed by scapy; options are written in the order Linux uses.

Invariant: no scapy object leaves this module; callers pass a Timeline and a path.
"""

from __future__ import annotations

import os

from core.errors import SynAckError
from core.report import as_captured
from core.segment import Options
from core.states import Side
from core.trace import Timeline

EPOCH = 1_795_000_000.0  # a fixed, recent-looking start time: captures are reproducible
_MAC = {Side.CLIENT: "02:00:00:00:00:01", Side.SERVER: "02:00:00:00:00:02"}


def _options(options: Options) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    if options.mss is not None:
        out.append(("MSS", options.mss))
    if options.sack_permitted:
        out.append(("SAckOK", b""))
    if options.timestamp is not None:
        out.append(("Timestamp", options.timestamp))
    if options.wscale is not None:
        out += [("NOP", None), ("WScale", options.wscale)]
    if options.sack_blocks:
        out += [("NOP", None), ("NOP", None), ("SAck", tuple(
            n for block in options.sack_blocks for n in block))]
    return out


def write_pcap(timeline: Timeline, path: str | os.PathLike[str], *,
               at: Side = Side.CLIENT) -> int:
    """Write the capture; returns the number of packets written."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import PcapWriter

    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise SynAckError(f"cannot write {target}: folder {folder} does not exist")
    packets = []
    for time, rec in as_captured(timeline, at):
        src, dst = timeline.peer(rec.sender), timeline.peer(rec.receiver)
        seg = rec.segment
        ip = (IPv6(src=src.address, dst=dst.address, hlim=64) if ":" in src.address
              else IP(src=src.address, dst=dst.address, ttl=64, flags="DF"))
        tcp = TCP(sport=src.port, dport=dst.port, seq=seg.seq, ack=seg.ack,
                  flags=int(seg.flags), window=seg.window, options=_options(seg.options))
        packet = Ether(src=_MAC[rec.sender], dst=_MAC[rec.receiver]) / ip / tcp
        if seg.length:
            packet = packet / Raw(seg.payload.ljust(seg.length, b"\0"))
        packet.time = EPOCH + time
        packets.append(packet)
    try:
        writer = PcapWriter(target, linktype=1, sync=False)
        for packet in packets:
            writer.write(packet)
        writer.close()
    except OSError as exc:
        raise SynAckError(f"cannot write {target}: {exc.strerror}") from exc
    return len(packets)
