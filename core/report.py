"""A Timeline as plain data: the JSON schema shared by ``synack trace`` and ``simulate``.

Segment fields: ``frame`` (1-based), ``time`` (seconds since the first event), ``from``
(client|server), ``flags`` (tcpdump letters), ``seq`` and ``ack`` (relative to each
side's ISS; ``ack`` is null without the ACK flag), ``len``, ``win`` (scaled when both
SYNs carried a window scale), ``analysis`` (tshark's labels, in tshark's vocabulary: the
key's meaning since the first schema), ``tshark`` (the same list, named for what it is),
``verdict`` (SynAck's labels: tshark's where they hold, corrected where its heuristics
mislead, :mod:`core.analysis.verdict`; the diagram's marks follow these),
``differences`` (one ``{"rule", "tshark", "synack", "why"}`` per correction),
``client_state``, ``server_state``. A simulation adds ``arrived`` (null: lost),
``notes`` (what the simulator says of a segment beyond the labels, e.g. "duplicated by
the link") and the events only it knows (calls and their results, notices, drops, state
changes, timers); a drop says where on the path the segment was lost when the simulator
knows it (``lost_at``, a fraction of the way from its sender).
"""

from __future__ import annotations

from typing import Any

from core.analysis.verdict import VERDICT_LABELS, Change
from core.simulate.judged import changes_of, tshark_labels
from core.tcp.segment import SEQ_MOD, Flag, flags_text
from core.tcp.states import Side
from core.trace import (
    AppCalled,
    AppNotified,
    Event,
    SegmentLost,
    SegmentRecord,
    StateChanged,
    Timeline,
    TimerStarted,
    TimerStopped,
)

LABEL_SET = frozenset(VERDICT_LABELS)


def change_dict(change: Change) -> dict[str, Any]:
    """One correction of tshark's labels as JSON (``differences`` in both schemas)."""
    return {"rule": change.rule, "tshark": list(change.tshark),
            "synack": list(change.synack), "why": change.why}


#: segments read for SYNs before the sides' first segments decide their ISS
SYN_SCAN = 64


def initial_numbers(timeline: Timeline) -> dict[Side, int]:
    """Each side's ISS: its SYN's sequence number; without a SYN, one before its first
    segment's (tshark's rule: the first byte seen counts as relative 1).

    A side's SYN, when captured, is among its first segments, so the scan stops when
    both SYNs are found, or when both sides have sent and ``SYN_SCAN`` segments are read
    (a long replay is never read to its end)."""
    found: dict[Side, int] = {}
    first: dict[Side, int] = {}
    for count, rec in enumerate(timeline.segments):
        if rec.segment.has(Flag.SYN) and rec.sender not in found:
            found[rec.sender] = rec.segment.seq
        first.setdefault(rec.sender, (rec.segment.seq - 1) % SEQ_MOD)
        if len(found) == 2 or (len(first) == 2 and count >= SYN_SCAN):
            break
    for side, iss in first.items():
        found.setdefault(side, iss)
    return found


def window_shifts(timeline: Timeline) -> dict[Side, int]:
    """The shift applied to each side's window field (0 unless both SYNs offered one)."""
    offers: dict[Side, int | None] = {}
    for rec in timeline.segments:
        if rec.segment.has(Flag.SYN) and rec.sender not in offers:
            offers[rec.sender] = rec.segment.options.wscale
    client, server = offers.get(Side.CLIENT), offers.get(Side.SERVER)
    if client is None or server is None:
        return {Side.CLIENT: 0, Side.SERVER: 0}
    return {Side.CLIENT: client, Side.SERVER: server}


def as_captured(timeline: Timeline, at: Side = Side.CLIENT) -> list[tuple[float, SegmentRecord]]:
    """The segments a capture next to ``at`` would hold, in capture order, with times.

    ``at``'s own segments are seen when sent; the peer's when they arrive, and not at all
    when lost on the way.
    """
    seen: list[tuple[float, SegmentRecord]] = []
    for rec in timeline.segments:
        if rec.sender is at:
            seen.append((rec.sent, rec))
        elif rec.arrived is not None:
            seen.append((rec.arrived, rec))
    seen.sort(key=lambda item: (item[0], item[1].index))
    return seen


def timeline_to_dict(timeline: Timeline, *, events: bool = False) -> dict[str, Any]:
    iss = initial_numbers(timeline)
    shifts = window_shifts(timeline)
    start = timeline.start
    segments = []
    for rec in timeline.segments:
        seg = rec.segment
        own = iss.get(rec.sender, 0)
        peer = iss.get(rec.receiver)
        client_state, server_state = timeline.states_after(rec.index)
        has_ack = seg.has(Flag.ACK)
        if has_ack and peer is not None:
            ack: int | None = (seg.ack - peer) % SEQ_MOD
        else:
            ack = seg.ack if has_ack else None
        tshark = list(tshark_labels(timeline, rec.index))
        segments.append({
            "frame": rec.frame if rec.frame is not None else rec.index + 1,
            "time": round(rec.sent - start, 9),
            "from": rec.sender.value,
            "flags": flags_text(seg.flags),
            "seq": (seg.seq - own) % SEQ_MOD,
            "ack": ack,
            "len": seg.length,
            "win": seg.window << (0 if seg.has(Flag.SYN) else shifts[rec.sender]),
            "analysis": tshark,
            "tshark": tshark,
            "verdict": [label for label in rec.labels if label in LABEL_SET],
            "differences": [change_dict(c) for c in changes_of(timeline, rec.index)],
            "notes": [label for label in rec.labels if label not in LABEL_SET],
            "client_state": client_state.value,
            "server_state": server_state.value,
            "arrived": None if rec.arrived is None else round(rec.arrived - start, 9),
        })
    out: dict[str, Any] = {
        "title": timeline.title,
        "client": {"address": timeline.client.address, "port": timeline.client.port},
        "server": {"address": timeline.server.address, "port": timeline.server.port},
        "segments": segments,
        "final": {"client": timeline.state_at(Side.CLIENT, timeline.end).value,
                  "server": timeline.state_at(Side.SERVER, timeline.end).value},
    }
    if events:
        out["events"] = [body for e in timeline.events if (body := _event(e, start))]
    return out


def _event(event: Event, start: float) -> dict[str, Any] | None:
    if isinstance(event, AppCalled):
        body: dict[str, Any] = {"type": "call", "call": event.call, "result": event.result}
    elif isinstance(event, AppNotified):
        body = {"type": "notice", "message": event.message}
    elif isinstance(event, SegmentLost):
        body = {"type": "drop", "frame": event.index + 1, "reason": event.reason}
        if event.lost_at is not None:  # where on the path, from the sender (0) to 1
            body["lost_at"] = round(event.lost_at, 6)
    elif isinstance(event, StateChanged):
        body = {"type": "state", "from": event.old.value, "to": event.new.value,
                "trigger": event.trigger.value if event.trigger else None}
    elif isinstance(event, TimerStarted):
        body = {"type": "timer", "timer": event.timer.value, "action": "start",
                "deadline": round(event.deadline - start, 9)}
    elif isinstance(event, TimerStopped):
        body = {"type": "timer", "timer": event.timer.value,
                "action": "expired" if event.expired else "stopped"}
    else:
        return None
    return {"time": round(event.time - start, 9), "side": event.side.value, **body}
