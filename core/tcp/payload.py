"""Payload bytes the simulator makes up: a readable text pattern, never zeros.

A scenario that sends "3000 bytes" sends :func:`text` bytes, and wherever a segment's
bytes are unknown (a hand-made segment with a length but no payload) they are filled
from the same pattern (:func:`fill`). Readable bytes show in the diagram's previews and
in Wireshark's hex pane, and no dissector mistakes them for its protocol: zeros on port
5000 decode as a malformed IPA/RSL message, these decode as plain data.

Invariants:
- The pattern is an endless byte stream of :data:`LINE` -byte lines, line ``n``
  (1-based) being ``b"SynAck data 00000n "`` followed by filler letters and ``b"\\n"``;
  ``text(size, offset)`` is bytes ``[offset, offset + size)`` of it, so a slice of the
  stream at any offset equals ``text`` at that offset (``text(a + b) ==
  text(a) + text(b, a)``). Line numbers wrap after 999999 lines to keep the width.
- Every byte is printable ASCII or ``\\n``.
"""

from __future__ import annotations

#: the length of one line of the pattern, its newline included
LINE = 64
_FILLER = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_HEAD = len(b"SynAck data 000001 ")


def _line(number: int) -> bytes:
    head = b"SynAck data %06d " % (number % 1_000_000)
    return head + _FILLER[:LINE - _HEAD - 1] + b"\n"


def text(size: int, offset: int = 0) -> bytes:
    """Bytes ``[offset, offset + size)`` of the pattern (``size`` may be 0)."""
    if size < 0 or offset < 0:
        raise ValueError(f"size and offset must be >= 0, got {size}, {offset}")
    first, last = offset // LINE, (offset + size + LINE - 1) // LINE
    lines = b"".join(_line(n + 1) for n in range(first, last))
    start = offset - first * LINE
    return lines[start:start + size]


def fill(payload: bytes, length: int, offset: int = 0) -> bytes:
    """``payload`` made ``length`` bytes long: cut, or continued with the pattern's bytes
    at their own place (``offset`` is where ``payload`` starts in the stream)."""
    if len(payload) >= length:
        return payload[:length]
    return payload + text(length - len(payload), offset + len(payload))
