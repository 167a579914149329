"""Analysis labels for simulated segments: what tshark would say of a capture at the client.

The segments a tap next to the client would record (``core.capture.writer``) are written
to a temporary capture (headers only, as ``tcpdump -s 128`` would), read back with
:func:`core.capture.read_capture` and analysed with :func:`core.analysis.analyze_capture`,
the same code that labels a replayed capture.

Invariants:
- A segment's labels are its analysis labels (tshark's vocabulary, in tshark's order),
  then the labels it was recorded with (``duplicated by the link``, ...), then the
  simulation's own notes for it.
- Segments the tap never sees (the server's, lost before reaching the client) get no
  analysis labels.
- Only labels change: the events, states and rows of the Timeline are the same objects.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import replace

from core.analysis import analyze_capture
from core.capture import read_capture
from core.capture.writer import captured_view, write_pcap
from core.states import Side
from core.trace import SegmentArrived, SegmentLost, SegmentSent, Timeline

#: long enough for Ethernet, IPv6 and a TCP header with 40 bytes of options
SNAPLEN = 128
CAPTURE_POINT = Side.CLIENT


def analysis_labels(timeline: Timeline, at: Side = CAPTURE_POINT) -> dict[int, tuple[str, ...]]:
    """Segment index -> the analysis labels of the frame that segment is in a capture at
    ``at`` (only segments with labels are listed)."""
    view = captured_view(timeline, at)
    if not view:
        return {}
    with tempfile.TemporaryDirectory(prefix="synack-") as folder:
        path = os.path.join(folder, "simulation.pcap")
        write_pcap(timeline, path, at=at, snaplen=SNAPLEN, view=view)
        index = read_capture(path)
        streams = analyze_capture(index)
    frames = index.packets["frame"]
    out: dict[int, tuple[str, ...]] = {}
    for stream in streams:
        for row, labels in zip(stream.rows.tolist(), stream.labels, strict=True):
            if labels:
                out[view[int(frames[row]) - 1][1].index] = labels
    return out


def relabel(timeline: Timeline, notes: Mapping[int, tuple[str, ...]],
            timeline_notes: tuple[str, ...] = ()) -> Timeline:
    """The Timeline with each segment's analysis labels, its own labels and ``notes``
    (and ``timeline_notes`` added to the Timeline's notes)."""
    found = analysis_labels(timeline)
    if not found and not notes and not timeline_notes:
        return timeline
    segments = [rec if rec.index not in found and rec.index not in notes else
                replace(rec, labels=(*found.get(rec.index, ()), *rec.labels,
                                     *notes.get(rec.index, ())))
                for rec in timeline.segments]
    sparse = [e for e in timeline.events
              if not isinstance(e, SegmentSent | SegmentArrived | SegmentLost)]
    return Timeline(title=timeline.title, client=timeline.client, server=timeline.server,
                    segments=segments, events=timeline.events, initial=timeline.initial,
                    msl=timeline.msl, rows=timeline.rows, sparse=sparse,
                    notes=(*timeline.notes, *timeline_notes))
