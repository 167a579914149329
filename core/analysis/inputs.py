"""Per-stream columns in, per-packet results out: the arrays both analyses share.

Invariants:
- A ``StreamInput`` holds one stream's analysed packets in frame order (copies seen at a
  second capture point are left out before it is built); every column has one entry
  per packet and plain numpy dtypes (int64 or bool).
- ``flow1`` is Wireshark's direction test: (source address id, port) greater than
  (destination address id, port); address ids sort as Wireshark compares addresses.
- ``StreamOutput`` columns use ``-1`` for no ACK / no next sequence number / no bytes in
  flight and ``0`` for no frame, no RTT, no RTO (tshark never shows a zero delta);
  times are nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.analysis.options import OptionColumns
from core.capture.index import INFO_BAD_DOFF, INFO_NO_SEGLEN, INFO_OPTIONS_CUT, take_rows

Arr = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamInput:
    """What the analysis reads for each packet of one stream."""

    frame: Arr
    time_ns: Arr
    flow1: Arr        # bool
    seq: Arr
    ack: Arr
    flags: Arr
    window: Arr       # raw 16-bit field
    seglen: Arr       # TCP payload length (0 when unknown)
    has_seg: Arr      # bool: tshark knows the segment length
    bad_doff: Arr     # bool: header length under 20
    options_cut: Arr  # bool: options not all captured (tshark stops inside them)
    wscale: Arr       # -1 absent
    sack_count: Arr
    sack_sum: Arr
    tfo_cookie: Arr   # bool
    reused_first: bool = False

    def __len__(self) -> int:
        return int(self.frame.shape[0])


def stream_input(packets: Arr, opts: OptionColumns, rows: Arr, *,
                 reused_first: bool) -> StreamInput:
    """The input of the packets ``rows`` (indices into ``packets`` and ``opts``)."""
    p = take_rows(packets, rows)
    src, dst = p["src"].astype(np.int64), p["dst"].astype(np.int64)
    flow1 = (src > dst) | ((src == dst) & (p["sport"] > p["dport"]))
    info = p["info"]
    return StreamInput(
        frame=p["frame"].astype(np.int64), time_ns=p["time_ns"].astype(np.int64),
        flow1=flow1, seq=p["seq"].astype(np.int64), ack=p["ack"].astype(np.int64),
        flags=p["flags"].astype(np.int64), window=p["window"].astype(np.int64),
        seglen=p["payload_len"].astype(np.int64),
        has_seg=(info & INFO_NO_SEGLEN) == 0, bad_doff=(info & INFO_BAD_DOFF) != 0,
        options_cut=(info & INFO_OPTIONS_CUT) != 0,
        wscale=opts.wscale[rows].astype(np.int64),
        sack_count=opts.sack_count[rows].astype(np.int64),
        sack_sum=opts.sack_sum[rows].astype(np.int64),
        tfo_cookie=opts.tfo_cookie[rows], reused_first=reused_first)


@dataclass(slots=True)
class StreamOutput:
    """Per-packet results of one stream's analysis (mutable while it runs)."""

    bits: Arr
    rel_seq: Arr
    rel_ack: Arr
    next_seq: Arr
    win: Arr
    dup_num: Arr
    dup_frame: Arr
    acks_frame: Arr
    ack_rtt: Arr      # ns, 0 none (tshark shows no zero RTT)
    bif: Arr
    rto: Arr          # ns, 0 none
    rto_frame: Arr
    win_scale: tuple[int, int] = field(default=(-1, -1))   # flow1, flow2

    @classmethod
    def empty(cls, n: int) -> StreamOutput:
        def z() -> Arr:
            return np.zeros(n, np.int64)

        def m() -> Arr:
            return np.full(n, -1, np.int64)
        return cls(bits=z(), rel_seq=z(), rel_ack=m(), next_seq=m(), win=z(),
                   dup_num=z(), dup_frame=z(), acks_frame=z(), ack_rtt=z(), bif=m(),
                   rto=z(), rto_frame=z())

    def clear(self, i: int) -> None:
        """Packet ``i`` shows no analysis (its numbers stay)."""
        self.bits[i] = self.dup_num[i] = self.dup_frame[i] = self.acks_frame[i] = 0
        self.ack_rtt[i] = self.rto[i] = self.rto_frame[i] = 0
        self.bif[i] = -1
