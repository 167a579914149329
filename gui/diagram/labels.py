"""Text shown on the diagram: segment labels, payload previews, time captions.

Rules:
- Pure Python (no Qt), so the CLI and tests can use it without a display.
- Sequence numbers are shown relative to each side's initial sequence number, as
  tcpdump and Wireshark do. A side's ISS is the seq of the first SYN it sent, or of
  its first segment when the trace never shows its SYN (a capture that starts late).
- Labels are short and one line: ``[P.] seq 1:6 ack 1 win 502 len 5 "hello"``. TCP
  timestamps are left out (on every Linux segment, they would crowd every arrow); the
  other options (MSS, window scale, SACK-permitted, SACK blocks) stay; SACK blocks are
  relative to the receiver's ISS, like the ack number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from core.report import initial_numbers
from core.tcp.segment import SEQ_MOD, Segment, flags_text
from core.tcp.states import Side
from core.trace import SegmentRecord, Timeline

PREVIEW_BYTES = 16
"""How many payload bytes a label shows before it elides the rest."""

_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}


def initial_sequence_numbers(timeline: Timeline) -> dict[Side, int | None]:
    """Each side's ISS (None if that side sent nothing): core decides, as for JSON."""
    found = initial_numbers(timeline)
    return {side: found.get(side) for side in Side}


def payload_preview(segment: Segment, limit: int = PREVIEW_BYTES) -> str:
    """The first payload bytes in double quotes, non-printables escaped ("" if none).

    An ellipsis marks bytes left out, whether elided here or not captured at all.
    """
    if not segment.length:
        return ""
    shown = segment.payload[:limit]
    text = "".join(_ESCAPES.get(b, chr(b) if 0x20 <= b < 0x7F else ".") for b in shown)
    more = segment.length > len(shown)
    return f'"{text}{"…" if more else ""}"'


def segment_label(segment: Segment, *, iss: int | None, irs: int | None) -> str:
    """One-line tcpdump-style label; ``iss``/``irs`` are the sender's and receiver's ISS.

    >>> segment_label(Segment.with_payload(seq=1001, ack=5001, flags=Flag.PSH | Flag.ACK,
    ...               window=502, payload=b"hello"), iss=1000, irs=5000)
    '[P.] seq 1:6 ack 1 win 502 len 5 "hello"'
    """
    parts = [flags_text(segment.flags),
             *segment.number_parts(iss=iss or 0, irs=irs or 0)]
    base = irs or 0
    blocks = tuple(((a - base) % SEQ_MOD, (b - base) % SEQ_MOD)
                   for a, b in segment.options.sack_blocks)
    options = replace(segment.options, timestamp=None, sack_blocks=blocks).text()
    if options:
        parts.append(options)
    if segment.length:
        parts.append(f"len {segment.length}")
        parts.append(payload_preview(segment))
    return " ".join(parts)


def record_label(record: SegmentRecord, iss: Mapping[Side, int | None]) -> str:
    """The label of one arrow; a ghost (inferred, never captured) says so."""
    text = segment_label(record.segment, iss=iss[record.sender], irs=iss[record.receiver])
    if record.ghost:
        text += " (not captured)"
    return text


def time_text(seconds: float) -> str:
    """A time-axis caption in milliseconds: ``0``, ``10``, ``12.5``, ``60 110``.

    Two decimals below 100 ms, one from there on, and never a trailing zero or point, so
    two captions of one instant read the same (``1 518``, not ``1 518.0`` beside it)."""
    ms = seconds * 1000.0
    text = f"{ms:,.{1 if abs(ms) >= 100 else 2}f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace(",", "\u2009")  # thin space groups thousands
