"""A replayed stream as plain data and text: ``synack trace`` and ``synack streams``.

Rules:
1. ``trace_to_dict`` gives exactly the schema of ``synack trace --json``: ``file``,
   ``stream``, ``client``/``server`` ({address, port}), ``segments`` (one per packet of
   the stream, frame order), ``final`` (each side's state after the last packet),
   ``events`` (every state change in time order: time, side, from, to, the frame whose
   send or arrival caused it, null for a timer) and ``uncertain`` (what the capture
   cannot decide, see :class:`core.trace.Uncertainty`). Segment numbers are tshark's
   (relative seq/ack, calculated window) from :mod:`core.analysis`. ``client_state``
   and ``server_state`` (see ``ROW_STATES``) are each side's state once this packet
   and every packet before it took effect; read down the rows, each side's states
   follow its events in order. Labels: ``analysis`` is tshark's labels (tshark's
   vocabulary, as :mod:`core.analysis` computes them: the key's meaning since the first
   schema), ``tshark`` the same list named for what it is, ``verdict`` SynAck's labels
   (:mod:`core.analysis.verdict`: tshark's, corrected where its heuristics mislead; the
   diagram's marks follow them) and ``differences`` one ``{"rule", "tshark", "synack",
   "why"}`` per correction.
2. ``trace_lines`` prints each packet as tcpdump does (raw window, relative numbers),
   then its labels (tshark's; where SynAck's verdict differs, both) and both states.
3. ``stream_outcomes`` is what ``synack streams --states`` adds to the index-only list:
   each stream's :class:`core.replay.outcomes.Outcome` (analysed and replayed, the
   analysis shared by batches of streams). Its ``progress(done, total)`` counts replayed
   streams: at the start (0), after at most every ``total / PROGRESS_STEPS`` streams,
   and at the end (``total, total``); it may raise ``Cancelled``, which leaves
   ``stream_outcomes`` unchanged. ``stream_rows`` is the ``--states --json`` rows as a
   list (:func:`core.streams.stream_output.row_dicts` with the outcomes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from core.analysis import StreamAnalysis
from core.capture.index import CaptureIndex, take_rows
from core.replay import Replay
from core.replay.outcomes import Outcome, StreamOutcomes
from core.report import change_dict
from core.streams.stream_output import row_dicts
from core.streams.stream_table import stream_table
from core.tcp.segment import Flag, flags_text
from core.tcp.states import Trigger
from core.trace import Timeline, Uncertainty

_TIMERS = frozenset(t for t in Trigger if t.kind.value == "timer")

#: What the row states mean (README, ``synack trace --help``).
ROW_STATES = ("client_state/server_state: each side's state once this packet and every "
              "packet before it took effect (sent; arrived, or lost); read down the rows, "
              "a side's states follow its state changes in order")

#: ``stream_outcomes`` tells its progress at most this many times (plus start and end).
PROGRESS_STEPS = 200


def _endpoint(address: str, port: int) -> dict[str, Any]:
    return {"address": address, "port": port}


def _labels(analysis: StreamAnalysis, k: int) -> list[str]:
    return list(analysis.labels[k])


def label_text(analysis: StreamAnalysis, k: int) -> list[str]:
    """Labels for people: ``duplicate_ack #3 of frame 28``."""
    out = []
    for label in analysis.labels[k]:
        if label == "duplicate_ack" and int(analysis.dup_ack_num[k]):
            out.append(f"duplicate_ack #{int(analysis.dup_ack_num[k])} of frame "
                       f"{int(analysis.dup_ack_of[k])}")
        else:
            out.append(label)
    return out


def _label_tail(replay: Replay, k: int) -> str:
    """``  [duplicate_ack #1 of frame 12]``; where the verdict differs,
    ``  [tshark: duplicate_ack #1 of frame 12; SynAck: fin_reack]``."""
    labels = label_text(replay.analysis, k)
    if k not in replay.verdict.changes:
        return f"  [{', '.join(labels)}]" if labels else ""
    ours = ", ".join(replay.verdict.labels[k]) or "no label"
    return f"  [tshark: {', '.join(labels) or 'no label'}; SynAck: {ours}]"


def window_scale_text(analysis: StreamAnalysis, client_is_a: bool) -> str:
    """``window scale: client 7, server 10`` or why it is not known (tshark's meanings)."""
    a_to_b, b_to_a = analysis.win_scale
    client, server = (a_to_b, b_to_a) if client_is_a else (b_to_a, a_to_b)
    if -1 in (client, server):
        return "window scale unknown (the SYNs were not captured): windows shown unscaled"
    if -2 in (client, server):
        return "no window scaling (a SYN did not offer it)"
    return f"window scale: client {client} (x{1 << client}), server {server} (x{1 << server})"


def trace_to_dict(index: CaptureIndex, replay: Replay) -> dict[str, Any]:
    """The ``synack trace --json`` object (rule 1)."""
    analysis = replay.analysis
    p = take_rows(index.packets, replay.rows)
    times = ((p["time_ns"] - np.int64(index.start_ns)) / 1e9).tolist()
    from_client = replay.from_client.tolist()
    tl = replay.timeline
    segments = []
    rel_seq, rel_ack = analysis.rel_seq.tolist(), analysis.rel_ack.tolist()
    win, frames = analysis.win.tolist(), p["frame"].tolist()
    flags, lengths = p["flags"].tolist(), p["payload_len"].tolist()
    doubtful = _doubtful_packets(replay)
    for k in range(len(frames)):
        client, server = replay.states_after_packet(k, times[k])
        has_ack = bool(flags[k] & Flag.ACK)
        segments.append({
            "frame": frames[k], "time": round(times[k], 9),
            "from": "client" if from_client[k] else "server",
            "flags": flags_text(Flag(flags[k])), "seq": rel_seq[k],
            "ack": rel_ack[k] if has_ack else None, "len": lengths[k], "win": win[k],
            "analysis": _labels(analysis, k), "tshark": _labels(analysis, k),
            "verdict": list(replay.verdict.labels[k]),
            "differences": [change_dict(c) for c in replay.verdict.changes.get(k, ())],
            "client_state": client.value, "server_state": server.value,
        })
        rec = tl.segments[int(replay.timeline_index[k])]
        segments[-1]["arrived"] = (None if rec.arrived is None
                                   else round(rec.arrived, 9))
        segments[-1]["uncertain"] = k in doubtful
    last_client, last_server = tl.states_after(len(tl) - 1)
    return {"file": index.path, "stream": replay.stream,
            "client": _endpoint(tl.client.address, tl.client.port),
            "server": _endpoint(tl.server.address, tl.server.port),
            "segments": segments,
            "final": {"client": last_client.value, "server": last_server.value},
            "events": events_of(tl),
            "uncertain": [_doubt(tl, u) for u in tl.uncertain]}


def events_of(tl: Timeline) -> list[dict[str, Any]]:
    """Every state change of both sides, in time order (rule 1's ``events``)."""
    out = []
    for change in tl.state_changes():
        frame = None
        if change.segment is not None and change.trigger not in _TIMERS:
            frame = tl.segments[change.segment].frame
        out.append({"time": round(change.time, 9), "side": change.side.value,
                    "from": change.old.value, "to": change.new.value, "frame": frame,
                    "cause": change.trigger.value if change.trigger else None})
    return out


def _doubt(tl: Timeline, u: Uncertainty) -> dict[str, Any]:
    return {"time": round(u.time, 9), "side": u.side.value if u.side else None,
            "frames": [tl.segments[i].frame for i in u.segments], "text": u.text,
            "alternative": {side.value: [s.value for s in states]
                            for side, states in u.alternative},
            "alternative_lost": [tl.segments[i].frame for i in u.alternative_lost]}


def _doubtful_packets(replay: Replay) -> set[int]:
    """Packets (stream positions) an uncertainty names."""
    named = {i for u in replay.timeline.uncertain for i in u.segments}
    if not named:
        return set()
    return {k for k, i in enumerate(replay.timeline_index.tolist()) if i in named}


def trace_header(replay: Replay) -> Iterator[str]:
    """The lines before the packets: the stream, its notes, window scales, ROW_STATES."""
    tl = replay.timeline
    yield f"{tl.title}: client {tl.client.label}, server {tl.server.label}"
    for note in tl.notes:
        yield f"# {note}"
    yield f"# {window_scale_text(replay.analysis, replay.client_is_a)}"
    yield f"# {ROW_STATES}"


def doubts_by_frame(tl: Timeline) -> dict[int, list[str]]:
    """Each uncertainty's text under the frame of its first segment (0: none)."""
    doubts: dict[int, list[str]] = {}
    for u in tl.uncertain:
        first = min(u.segments) if u.segments else None
        frame = tl.segments[first].frame if first is not None else None
        doubts.setdefault(frame or 0, []).append(u.text)
    return doubts


def trace_lines(index: CaptureIndex, replay: Replay) -> Iterator[str]:
    """tcpdump-style text, one line per packet (rule 2)."""
    analysis = replay.analysis
    tl = replay.timeline
    p = take_rows(index.packets, replay.rows)
    times = ((p["time_ns"] - np.int64(index.start_ns)) / 1e9).tolist()
    addresses = index.addresses
    yield from trace_header(replay)
    doubts = doubts_by_frame(tl)
    doubtful = _doubtful_packets(replay)
    for k, row in enumerate(p):
        flags = Flag(int(row["flags"]))
        ip = "IP6" if int(row["ip_version"]) == 6 else "IP"
        parts = [f"Flags {flags_text(flags)}"]
        length = int(row["payload_len"])
        seq = int(analysis.rel_seq[k])
        if length or flags & (Flag.SYN | Flag.FIN | Flag.RST):
            parts.append(f"seq {seq}:{seq + length}" if length else f"seq {seq}")
        if flags & Flag.ACK:
            parts.append(f"ack {int(analysis.rel_ack[k])}")
        parts += [f"win {int(row['window'])}", f"length {length}"]
        client, server = replay.states_after_packet(k, times[k])
        tail = _label_tail(replay, k)
        mark = "?" if k in doubtful else ""
        yield (f"{int(row['frame']):>6} {times[k]:.6f} {ip} "
               f"{addresses[int(row['src'])]}.{int(row['sport'])} > "
               f"{addresses[int(row['dst'])]}.{int(row['dport'])}: {', '.join(parts)}{tail}"
               f"  | client {client.value}, server {server.value}{mark}")
        for text in doubts.pop(int(row["frame"]), []):
            yield f"       ? uncertain: {text}"


def stream_outcomes(index: CaptureIndex, *,
                    progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Every stream's final states and label counts, in stream order (rule 3)."""
    outcomes = StreamOutcomes(index)
    total = len(outcomes)
    if progress is not None:
        progress(0, total)
    step = max(1, -(-total // PROGRESS_STEPS))
    out = []
    for done, outcome in enumerate(outcomes.each(range(total)), start=1):
        out.append(outcome)
        if progress is not None and done < total and done % step == 0:
            progress(done, total)
    if progress is not None:
        progress(total, total)
    return out


def stream_rows(index: CaptureIndex, *,
                progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """The ``synack streams --states --json`` rows (rule 3)."""
    outcomes = stream_outcomes(index, progress=progress)
    return list(row_dicts(stream_table(index), outcomes))
