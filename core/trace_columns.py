"""A Timeline's segments as numpy columns, for views that place 100,000 arrows at once.

Rules:
- ``segment_columns(timeline)`` never builds a :class:`~core.trace.SegmentRecord` when the
  Timeline's segments can give their columns directly (a replay's lazy segments have a
  ``columns()`` method); otherwise it reads the records once.
- ``arrived`` is NaN for a segment that never arrived (lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.tcp.states import Side
from core.trace import SegmentRecord

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


@dataclass(frozen=True, slots=True)
class SegmentColumns:
    """Per segment: sent by the client?, send time, arrival time (NaN when lost)."""

    from_client: BoolArray
    sent: FloatArray
    arrived: FloatArray

    def __len__(self) -> int:
        return len(self.sent)

    @property
    def lost(self) -> BoolArray:
        return np.isnan(self.arrived)


def records_columns(records: Any) -> SegmentColumns:
    """Columns of any sequence of SegmentRecords (reads each record once)."""
    recs: list[SegmentRecord] = list(records)
    return SegmentColumns(
        from_client=np.array([r.sender is Side.CLIENT for r in recs], dtype=bool),
        sent=np.array([r.sent for r in recs], dtype=np.float64),
        arrived=np.array([np.nan if r.arrived is None else r.arrived for r in recs],
                         dtype=np.float64))


def segment_columns(timeline: Any) -> SegmentColumns:
    """Columns of ``timeline.segments`` (fast path for lazy replay segments)."""
    fast = getattr(timeline.segments, "columns", None)
    if callable(fast):
        cols = fast()
        assert isinstance(cols, SegmentColumns)
        return cols
    return records_columns(timeline.segments)
