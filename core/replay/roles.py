"""Who is the client of a captured stream, and where the capture point sits.

Rules:
1. The client is the sender of a SYN without ACK; failing that, the receiver of a SYN+ACK;
   failing that (the capture began mid-connection), the side whose port is not a
   well-known one when exactly one is (< 1024); failing that, the sender of the first
   packet, as Wireshark's Follow TCP Stream takes it.
2. The capture point sits somewhere on the path. ``delta_client`` is the one-way delay
   between it and the client, ``delta_server`` between it and the server. A segment
   seen at time t left its sender ``delta_sender`` earlier and reaches its receiver
   ``delta_receiver`` later.
3. Each side's delay is the smallest of the round trips the capture shows towards it,
   halved: the handshake's (SYN to SYN+ACK for the server, SYN+ACK to its ACK for the
   client; each answers the other at once) and the quickest ACK of data in each
   direction. Every such round trip is an upper bound (a lost, uncaptured SYN+ACK or a
   delayed ACK only lengthens it), so the smallest is the best. Without any, 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.replay.evidence import unwrap

SYN, ACK, RST = 0x02, 0x10, 0x04
WELL_KNOWN = 1024
#: First transmissions sampled for the quickest ACK: a sample is plenty.
_SAMPLE = 2000
#: The capture point is "next to" a side when its delay to it is below this share of
#: the one-way delay.
NEAR = 0.2

Arr = np.ndarray[Any, np.dtype[Any]]


def client_is_a(flags: Arr, from_a: Arr, port_a: int, port_b: int) -> tuple[bool, str]:
    """True when endpoint "a" (the first packet's source) is the client, and why."""
    syn_ack = flags & (SYN | ACK)
    syn = np.flatnonzero(syn_ack == SYN)
    if syn.size:
        return bool(from_a[syn[0]]), "sent the SYN"
    synack = np.flatnonzero(syn_ack == SYN | ACK)
    if synack.size:
        return not bool(from_a[synack[0]]), "received the SYN+ACK"
    if (port_a < WELL_KNOWN) != (port_b < WELL_KNOWN):
        return port_b < WELL_KNOWN, "no SYN captured; the server has the well-known port"
    return True, "no SYN captured; the client sent the first packet"


@dataclass(frozen=True, slots=True, kw_only=True)
class CapturePoint:
    """One-way delays between the capture point and each side (seconds)."""

    delta_client: float
    delta_server: float
    method: str
    #: seen at two capture points (a merged capture): sends and arrivals are measured
    merged: bool = False

    @property
    def one_way(self) -> float:
        return self.delta_client + self.delta_server

    @property
    def position(self) -> float:
        """0.0 at the client, 1.0 at the server (0.5 when nothing tells)."""
        total = self.one_way
        return 0.5 if total <= 0 else self.delta_client / total

    def next_to(self, client: bool) -> bool:
        """The capture point is next to the client (``client``) or the server: its delay
        to that side is under ``NEAR`` of a measurable one-way delay."""
        total = self.one_way
        mine = self.delta_client if client else self.delta_server
        return total > 0 and mine < NEAR * total

    def describe(self) -> str:
        if self.merged:
            return (f"captured at both ends: each segment's send and arrival were seen "
                    f"(one-way delay {self.one_way * 1e3:.3f} ms)")
        if self.one_way <= 0:
            return f"one-way delay not measurable ({self.method})"
        where = ("next to the client" if self.next_to(True) else
                 "next to the server" if self.next_to(False) else "mid-path")
        return (f"captured {where}: {self.delta_client * 1e3:.3f} ms from the client, "
                f"{self.delta_server * 1e3:.3f} ms from the server ({self.method})")


def estimate_capture_point(time: Arr, from_client: Arr, flags: Arr, seq: Arr, ack: Arr,
                           seg_len: Arr) -> CapturePoint:
    """See rule 3. Arrays are per captured segment, in capture order."""
    hs = _handshake(time, from_client, flags, seq, ack)
    end = (seq.astype(np.int64) + seg_len) & 0xFFFFFFFF
    rtt_server = _quickest_ack(time, from_client, seq, ack, end, seg_len, flags)
    rtt_client = _quickest_ack(time, ~from_client, seq, ack, end, seg_len, flags)
    if hs is not None:
        t_syn, t_synack, t_answered, t_ack = hs
        shake_server, shake_client = max(0.0, t_synack - t_syn), max(0.0, t_ack - t_answered)
        return CapturePoint(delta_client=_smallest(shake_client, rtt_client) / 2,
                            delta_server=_smallest(shake_server, rtt_server) / 2,
                            method="from the handshake")
    if rtt_server is None and rtt_client is None:
        return CapturePoint(delta_client=0.0, delta_server=0.0, method="no handshake or ACK")
    return CapturePoint(delta_client=(rtt_client or 0.0) / 2,
                        delta_server=(rtt_server or 0.0) / 2,
                        method="from the quickest ACKs")


def _smallest(first: float, other: float | None) -> float:
    return first if other is None else min(first, other)


def _handshake(time: Arr, from_client: Arr, flags: Arr, seq: Arr,
               ack: Arr) -> tuple[float, float, float, float] | None:
    syn_ack = flags & (SYN | ACK | RST)
    syn = np.flatnonzero((syn_ack == SYN) & from_client)
    synack = np.flatnonzero((syn_ack == SYN | ACK) & ~from_client)
    if not syn.size or not synack.size:
        return None
    # the last SYN before the first SYN+ACK: earlier copies were retransmitted
    s, sa = syn[syn < synack[0]], int(synack[0])
    if not s.size:
        return None
    want = (int(seq[sa]) + 1) & 0xFFFFFFFF
    later = np.flatnonzero(from_client & ((flags & ACK) != 0) & ((flags & SYN) == 0)
                           & (ack == want))
    later = later[later > sa]
    if not later.size:
        return None
    # the ACK answers the last SYN+ACK before it: earlier ones were lost (a SYN+ACK is
    # resent only after an RTO of a second or more, far above any answer's delay)
    answered = int(synack[synack < later[0]][-1])
    return (float(time[s[-1]]), float(time[sa]), float(time[answered]),
            float(time[later[0]]))


def _quickest_ack(time: Arr, data_from: Arr, seq: Arr, ack: Arr, end: Arr, seg_len: Arr,
                  flags: Arr) -> float | None:
    """The shortest time from a segment sent by one side to the first ACK covering it.
    Only a first transmission not resent before that ACK counts (Karn): an ACK may cover
    a resent segment at once, the original having arrived (a spurious resend, common
    under reordering), or answer a later copy. When no such sample exists (every SYN
    resent before a closed port's RST answered), the last copy before the ACK counts,
    as in the handshake: the quickest reading of the answer."""
    carries = np.flatnonzero(data_from & (seg_len > 0))
    acks = np.flatnonzero(~data_from & ((flags & ACK) != 0))
    if not carries.size or not acks.size:
        return None
    line = unwrap(seq[carries])
    ends = line + seg_len[carries]
    before = np.maximum.accumulate(ends)
    first = np.ones(carries.size, bool)
    first[1:] = line[1:] >= before[:-1]
    # per first transmission (their lines increase): the resends of its octets
    first_pos = np.flatnonzero(first)
    resends: dict[int, list[int]] = {}
    again = np.flatnonzero(~first)
    if again.size:
        los = np.searchsorted(ends[first_pos], line[again], side="right")
        his = np.searchsorted(line[first_pos], ends[again], side="left")
        near = los < _SAMPLE                # resends of the first transmissions sampled
        for r, lo, hi in zip(carries[again[near]].tolist(), los[near].tolist(),
                             his[near].tolist(), strict=True):
            for pos in range(lo, min(hi, lo + 64, _SAMPLE)):
                resends.setdefault(pos, []).append(r)
    clean: float | None = None
    karn: float | None = None
    sampled = carries[first_pos][:_SAMPLE]
    # per sampled segment, the first ACK after it; the 64 ACKs from there are searched
    after = np.searchsorted(acks, sampled, side="right")
    reach = min(acks.size, int(after[-1]) + 64)
    ack_at = acks[:reach].tolist()
    ack_values = ack[acks[:reach]].astype(np.int64).tolist()
    for pos, (i, j, target) in enumerate(zip(sampled.tolist(), after.tolist(),
                                             end[sampled].tolist(), strict=True)):
        k = j
        while k < reach and k < j + 64:
            if ((ack_values[k] - target) & 0xFFFFFFFF) < 1 << 31:
                answer = ack_at[k]
                # a resend repeats the segment's SYN and ACK flags: the SYN+ACK of a
                # simultaneous open is another segment, not a copy of the SYN, when the
                # peer's SYN+ACK answers (it answers our SYN); a plain ACK may answer
                # either (it answers our SYN+ACK), so that SYN+ACK counts as a copy
                shape = int(flags[i]) & (SYN | ACK)
                either = not int(flags[answer]) & SYN
                copies = [c for c in resends.get(pos, ()) if c < answer
                          and (either or int(flags[c]) & (SYN | ACK) == shape)]
                if not copies:
                    gap = float(time[answer] - time[i])
                    clean = gap if clean is None else min(clean, gap)
                elif clean is None:
                    gap = float(time[answer] - time[max(copies)])
                    karn = gap if karn is None else min(karn, gap)
                break
            k += 1
    return clean if clean is not None else karn
