"""``StreamAnalysis``: one stream's per-packet analysis, as the rest of SynAck reads it.

Invariants:
- Every array has one entry per packet of the stream, in frame order; ``rows`` are the
  packets' indices into ``CaptureIndex.packets``.
- "Absent" is ``-1`` for ``rel_ack`` (ACK flag clear), ``next_seq`` (segment length
  unknown) and ``bytes_in_flight``; ``0`` for frame numbers; ``nan`` for times.
- A copy (``duplicate_of >= 0``) repeats its original's numbers and has no labels, no
  duplicate-ACK number, no ACKed frame, no RTT, no bytes in flight.
- ``labels[i]`` lists ``LABELS`` names in ``LABELS`` order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analysis.labels import LABELS
from core.analysis.options import OptionColumns

Arr = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamAnalysis:
    """The analysis of one TCP stream (see the module docstring for the conventions)."""

    stream: int
    rows: Arr               # int64 indices into index.packets
    from_a: Arr             # bool: sent by endpoint "a" (the first packet's source)
    rel_seq: Arr            # int64: tcp.seq (relative)
    rel_ack: Arr            # int64: tcp.ack (relative), -1 without the ACK flag
    next_seq: Arr           # int64: tcp.nxtseq (relative), -1 when unknown
    win: Arr                # int64: tcp.window_size (calculated window)
    win_scale: tuple[int, int]   # (a->b, b->a): shift, -1 unknown, -2 no scaling
    labels: list[tuple[str, ...]]
    dup_ack_num: Arr        # int32, 0 when not a duplicate ACK
    dup_ack_of: Arr         # int64 frame number, 0 when none
    acks_frame: Arr         # int64 frame number this packet ACKs, 0 when none
    ack_rtt: Arr            # float64 seconds, nan when none
    bytes_in_flight: Arr    # int64, -1 when none
    duplicate_of: Arr       # int64 row of the first sighting of this packet, else -1
    rto: Arr                # float64 seconds since the segment retransmitted, nan if none
    rto_frame: Arr          # int64 frame that RTO is measured from, 0 when none
    #: the stream's TCP option columns, when the analysis read them for this stream
    #: alone (``analyze_stream``); the replay reuses them instead of reading again
    options: OptionColumns | None = None

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def counts(self) -> dict[str, int]:
        """How many packets carry each label (every label of ``LABELS``, zeros included)."""
        out = dict.fromkeys(LABELS, 0)
        for labels in self.labels:
            for name in labels:
                out[name] += 1
        return out
