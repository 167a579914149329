"""The label vocabulary: tshark's ``tcp.analysis.*`` names and the bits they come from.

Invariants:
- ``LABELS`` is the order in which labels are listed for a packet everywhere in SynAck
  (and in the corpus truth): retransmissions first, then duplicate ACK, out-of-order,
  lost/ACKed-unseen segments, zero window, window update/full, keep-alive, reused ports,
  TCP Fast Open.
- The ``A_*`` bits are Wireshark 4.0's ``TCP_A_*`` values (packet-tcp.c); ``A_TFO_SYN``
  and ``A_TFO_ACK`` are SynAck's own bits above them for the two TFO expert items.
- ``labels_of(bits)`` is a pure function of the bits, cached: fast and shared tuples.
  Fast and spurious retransmissions also carry ``retransmission``, as tshark's expert
  items do.
"""

from __future__ import annotations

from functools import cache

LABELS: tuple[str, ...] = (
    "retransmission", "fast_retransmission", "spurious_retransmission", "duplicate_ack",
    "out_of_order", "lost_segment", "ack_lost_segment", "zero_window", "zero_window_probe",
    "zero_window_probe_ack", "window_update", "window_full", "keep_alive", "keep_alive_ack",
    "reused_ports", "tfo_syn", "tfo_ack",
)

A_RETRANSMISSION = 0x0001
A_LOST_PACKET = 0x0002
A_ACK_LOST_PACKET = 0x0004
A_KEEP_ALIVE = 0x0008
A_DUPLICATE_ACK = 0x0010
A_ZERO_WINDOW = 0x0020
A_ZERO_WINDOW_PROBE = 0x0040
A_ZERO_WINDOW_PROBE_ACK = 0x0080
A_KEEP_ALIVE_ACK = 0x0100
A_OUT_OF_ORDER = 0x0200
A_FAST_RETRANSMISSION = 0x0400
A_WINDOW_UPDATE = 0x0800
A_WINDOW_FULL = 0x1000
A_REUSED_PORTS = 0x2000
A_SPURIOUS_RETRANSMISSION = 0x4000
A_TFO_SYN = 0x10000
A_TFO_ACK = 0x20000

_BIT_OF: dict[str, int] = {
    "fast_retransmission": A_FAST_RETRANSMISSION,
    "spurious_retransmission": A_SPURIOUS_RETRANSMISSION,
    "duplicate_ack": A_DUPLICATE_ACK,
    "out_of_order": A_OUT_OF_ORDER,
    "lost_segment": A_LOST_PACKET,
    "ack_lost_segment": A_ACK_LOST_PACKET,
    "zero_window": A_ZERO_WINDOW,
    "zero_window_probe": A_ZERO_WINDOW_PROBE,
    "zero_window_probe_ack": A_ZERO_WINDOW_PROBE_ACK,
    "window_update": A_WINDOW_UPDATE,
    "window_full": A_WINDOW_FULL,
    "keep_alive": A_KEEP_ALIVE,
    "keep_alive_ack": A_KEEP_ALIVE_ACK,
    "reused_ports": A_REUSED_PORTS,
    "tfo_syn": A_TFO_SYN,
    "tfo_ack": A_TFO_ACK,
}
_ANY_RETRANSMISSION = A_RETRANSMISSION | A_FAST_RETRANSMISSION | A_SPURIOUS_RETRANSMISSION


@cache
def labels_of(bits: int) -> tuple[str, ...]:
    """The labels tshark shows for a packet whose analysis flags are ``bits``."""
    out = []
    for name in LABELS:
        if name == "retransmission":
            if bits & _ANY_RETRANSMISSION:
                out.append(name)
        elif bits & _BIT_OF[name]:
            out.append(name)
    return tuple(out)


def bits_of(labels: tuple[str, ...] | list[str]) -> int:
    """The inverse of ``labels_of`` (a plain ``retransmission`` label gives its own bit)."""
    bits = 0
    for name in labels:
        bits |= A_RETRANSMISSION if name == "retransmission" else _BIT_OF[name]
    if bits & (A_FAST_RETRANSMISSION | A_SPURIOUS_RETRANSMISSION):
        bits &= ~A_RETRANSMISSION
    return bits
