"""TCP segments and sequence-space arithmetic modulo 2**32.

Invariants:
- Sequence numbers are ints in [0, 2**32). Comparisons go through :func:`seq_lt` and
  friends, which compare across wrap-around (RFC 9293 3.4: "a < b" means b - a is in
  (0, 2**31) modulo 2**32).
- ``Segment`` is an immutable wire view: header fields, options and payload length.
  ``payload`` holds the captured bytes, which may be fewer than ``length`` when a
  capture cut the packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag

SEQ_MOD = 1 << 32
_HALF = 1 << 31


class Flag(IntFlag):
    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80
    AE = 0x100


# tcpdump's order and letters: F S R P . U E W e
_TCPDUMP_LETTERS = (
    (Flag.FIN, "F"), (Flag.SYN, "S"), (Flag.RST, "R"), (Flag.PSH, "P"), (Flag.ACK, "."),
    (Flag.URG, "U"), (Flag.ECE, "E"), (Flag.CWR, "W"), (Flag.AE, "e"),
)


def _letters(flags: int) -> str:
    letters = "".join(letter for bit, letter in _TCPDUMP_LETTERS if flags & bit)
    return f"[{letters or 'none'}]"


#: ``flags_text`` of every 9-bit flags value, made once (a trace prints 100,000 of them).
FLAGS_TEXT: tuple[str, ...] = tuple(_letters(value) for value in range(0x200))


def flags_text(flags: int) -> str:
    """Flags as tcpdump prints them: ``[S]``, ``[S.]``, ``[P.]``, ``[F.]``, ``[none]``."""
    return FLAGS_TEXT[flags & 0x1FF]


def seq_add(a: int, n: int) -> int:
    return (a + n) % SEQ_MOD


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b in sequence space, in [-2**31, 2**31)."""
    return (a - b + _HALF) % SEQ_MOD - _HALF


def seq_lt(a: int, b: int) -> bool:
    return seq_diff(a, b) < 0


def seq_le(a: int, b: int) -> bool:
    return seq_diff(a, b) <= 0


def seq_gt(a: int, b: int) -> bool:
    return seq_diff(a, b) > 0


def seq_ge(a: int, b: int) -> bool:
    return seq_diff(a, b) >= 0


def seq_in_window(x: int, start: int, size: int) -> bool:
    """start <= x < start + size, in sequence space."""
    return 0 <= seq_diff(x, start) < size


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """The TCP options SynAck understands; anything else is kept as raw kinds."""

    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    sack_blocks: tuple[tuple[int, int], ...] = ()
    timestamp: tuple[int, int] | None = None
    other_kinds: tuple[int, ...] = ()

    def text(self) -> str:
        """tcpdump-style option list, e.g. ``<mss 1460,sackOK,wscale 7>`` ("" if none)."""
        parts: list[str] = []
        if self.mss is not None:
            parts.append(f"mss {self.mss}")
        if self.sack_permitted:
            parts.append("sackOK")
        if self.timestamp is not None:
            parts.append(f"TS val {self.timestamp[0]} ecr {self.timestamp[1]}")
        if self.wscale is not None:
            parts.append(f"wscale {self.wscale}")
        if self.sack_blocks:
            parts.append("sack " + " ".join(f"{a}:{b}" for a, b in self.sack_blocks))
        parts.extend(f"opt-{kind}" for kind in self.other_kinds)
        return f"<{','.join(parts)}>" if parts else ""


NO_OPTIONS = Options()


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One TCP segment as it travels: header fields, options and payload length."""

    seq: int
    ack: int = 0
    flags: Flag = Flag(0)
    window: int = 0
    length: int = 0
    payload: bytes = b""
    options: Options = field(default=NO_OPTIONS)

    def __post_init__(self) -> None:
        if not 0 <= self.seq < SEQ_MOD or not 0 <= self.ack < SEQ_MOD:
            raise ValueError(f"sequence numbers must be in [0, 2**32): {self.seq}, {self.ack}")
        if self.length < len(self.payload):
            raise ValueError("length is smaller than the payload")
        if not 0 <= self.window < 1 << 16:
            raise ValueError(f"window field must fit 16 bits: {self.window}")

    @classmethod
    def with_payload(cls, *, seq: int, payload: bytes, **fields: object) -> Segment:
        return cls(seq=seq, payload=payload, length=len(payload), **fields)  # type: ignore[arg-type]

    def has(self, flag: Flag) -> bool:
        return bool(int.__and__(self.flags, flag))  # plain int: IntFlag's & is slow

    @property
    def seg_len(self) -> int:
        """SEG.LEN: payload octets plus one for SYN and one for FIN."""
        return self.length + (int.__and__(self.flags, 0x03) + 1) // 2  # SYN, FIN: one each

    @property
    def end(self) -> int:
        """The sequence number just past this segment (SEG.SEQ + SEG.LEN)."""
        return seq_add(self.seq, self.seg_len)

    def number_parts(self, *, iss: int = 0, irs: int = 0) -> list[str]:
        """``["seq 1:6", "ack 1", "win 64"]``: the numbers as tcpdump words, seq relative
        to ``iss`` and ack to ``irs`` (0: absolute); seq only when it means something."""
        parts = []
        if self.length or int.__and__(self.flags, Flag.SYN | Flag.FIN | Flag.RST):
            rel_seq = seq_diff(self.seq, iss) % SEQ_MOD
            parts.append(f"seq {rel_seq}:{(rel_seq + self.length) % SEQ_MOD}" if self.length
                         else f"seq {rel_seq}")
        if self.has(Flag.ACK):
            parts.append(f"ack {seq_diff(self.ack, irs) % SEQ_MOD}")
        parts.append(f"win {self.window}")
        return parts

    def describe(self, *, iss: int = 0, irs: int = 0) -> str:
        """tcpdump-style summary, numbers relative to ``iss`` (seq) and ``irs`` (ack).

        ``Flags [P.], seq 1:6, ack 1, win 64, length 5``
        """
        parts = [f"Flags {flags_text(self.flags)}", *self.number_parts(iss=iss, irs=irs)]
        opts = self.options.text()
        if opts:
            parts.append(f"options [{opts[1:-1]}]")
        parts.append(f"length {self.length}")
        return ", ".join(parts)
