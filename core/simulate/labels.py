"""Labels for simulated segments: SynAck's verdict on a capture at the client.

The segments a tap next to the client would record (``core.capture.writer``) are written
to a temporary capture (headers only, as ``tcpdump -s 128`` would), read back with
:func:`core.capture.read_capture`, analysed with :func:`core.analysis.analyze_capture`
(tshark's labels) and judged with :func:`core.analysis.verdict.judge_stream` (SynAck's),
the same code that labels a replayed capture. The verdict's fates are the simulation's
true send and arrival times, and its sentences number segments as the simulation does.

Invariants:
- A segment's labels are its verdict labels (tshark's vocabulary and SynAck's own, in
  ``VERDICT_LABELS`` order), then the labels it was recorded with (``duplicated by the
  link``, ...), then the simulation's own notes for it.
- tshark's labels and the reasons they differ stay with the Timeline
  (:class:`core.simulate.judged.JudgedTimeline`).
- Segments the tap never sees (the server's, lost before reaching the client) get no
  analysis labels.
- Only labels change: the events, states and rows of the Timeline are the same objects.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from core.analysis import analyze_capture
from core.analysis.verdict import Fates, judge, packets_of
from core.capture import read_capture
from core.capture.writer import captured_view, write_pcap
from core.simulate.judged import JudgedTimeline, Judgement
from core.tcp.states import Side
from core.trace import SegmentArrived, SegmentLost, SegmentSent, Timeline

#: long enough for Ethernet, IPv6 and a TCP header with 40 bytes of options
SNAPLEN = 128
CAPTURE_POINT = Side.CLIENT


def judge_timeline(timeline: Timeline, at: Side = CAPTURE_POINT) -> Judgement:
    """tshark's labels and SynAck's verdict on each segment of a capture at ``at``."""
    view = captured_view(timeline, at)
    if not view:
        return Judgement()
    with tempfile.TemporaryDirectory(prefix="synack-") as folder:
        path = os.path.join(folder, "simulation.pcap")
        write_pcap(timeline, path, at=at, snaplen=SNAPLEN, view=view)
        index = read_capture(path)
        streams = analyze_capture(index)
        frames = index.packets["frame"]
        tshark: dict[int, tuple[str, ...]] = {}
        synack: dict[int, tuple[str, ...]] = {}
        changes = {}
        for stream in streams:
            recs = [view[int(frames[row]) - 1][1] for row in stream.rows.tolist()]
            fates = Fates.of([r.sent for r in recs], [r.arrived for r in recs])
            # sentences name segments as the simulation numbers them (index + 1)
            packets = replace(packets_of(index, stream),
                              frame=np.array([r.index + 1 for r in recs], np.int64))
            verdict = judge(packets, stream.labels, fates)
            for k, rec in enumerate(recs):
                if verdict.tshark[k]:
                    tshark[rec.index] = verdict.tshark[k]
                if verdict.labels[k]:
                    synack[rec.index] = verdict.labels[k]
                if k in verdict.changes:
                    changes[rec.index] = verdict.changes[k]
    return Judgement(tshark=tshark, synack=synack, changes=changes)


def analysis_labels(timeline: Timeline, at: Side = CAPTURE_POINT) -> dict[int, tuple[str, ...]]:
    """Segment index -> tshark's analysis labels of the frame that segment is in a capture
    at ``at`` (only segments with labels are listed)."""
    return dict(judge_timeline(timeline, at).tshark)


def relabel(timeline: Timeline, notes: Mapping[int, tuple[str, ...]],
            timeline_notes: tuple[str, ...] = ()) -> Timeline:
    """The Timeline with each segment's verdict labels, its own labels and ``notes``
    (and ``timeline_notes`` added to the Timeline's notes)."""
    judged = judge_timeline(timeline)
    found = judged.synack
    segments = [rec if rec.index not in found and rec.index not in notes else
                replace(rec, labels=(*found.get(rec.index, ()), *rec.labels,
                                     *notes.get(rec.index, ())))
                for rec in timeline.segments]
    sparse = [e for e in timeline.events
              if not isinstance(e, SegmentSent | SegmentArrived | SegmentLost)]
    return JudgedTimeline(judgement=judged, title=timeline.title, client=timeline.client,
                          server=timeline.server, segments=segments, events=timeline.events,
                          initial=timeline.initial, msl=timeline.msl, rows=timeline.rows,
                          sparse=sparse, notes=(*timeline.notes, *timeline_notes))
