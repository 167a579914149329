"""Running tshark on a capture of a simulation, and the two places it may disagree with us.

tshark runs as it comes, with no decode-as: the scenarios use port 5000 like the kernel
captures, where tshark's IPA dissector would read zero-filled payloads as a broken RSL
message ("Malformed Packet"), so the simulator sends readable text (``core.tcp.payload``),
which decodes as plain data. ``-2`` (two passes) as for the corpus truth.

Where our analysis labels (``core.analysis``) differ from tshark 4.0's, on purpose (cases
1 and 2 of the list in ``core.analysis``'s docstring), each difference is checked on the
segments here, not just tolerated:

1. A Linux zero-window probe (no data, sequence number SND.UNA - 1, sent while the peer
   advertises a zero window) is a ``zero_window_probe`` for us; tshark's keep-alive test
   (``seq == nextseq - 1``, at most one octet) runs first and calls it ``keep_alive``. Its
   answer is a ``zero_window_probe_ack`` for us and only a ``zero_window`` for tshark.
   The shared corpus notes the same of the kernel's zero-window capture.
2. A segment with octets already seen in the capture, in its direction, is a
   ``retransmission`` for us; tshark calls it ``out_of_order`` when it comes within the
   first RTT after the highest segment (its guess for a reordered original), though it
   has itself shown those octets before. In the simulations: a copy the link made of a
   segment, or a retransmission sent soon after a retransmitted SYN made tshark's first
   RTT long.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from core.analysis import LABELS
from core.analysis.verdict import VERDICT_LABELS
from core.capture.writer import captured_view
from core.simulate.judged import tshark_labels as tshark_labels_of
from core.tcp.segment import SEQ_MOD, Flag
from core.tcp.states import Side
from core.trace import SegmentRecord, Timeline

TSHARK = shutil.which("tshark")
CHECKS = ["tcp.checksum.status", "ip.checksum.status", "_ws.malformed", "_ws.expert.message",
          "tcp.len"]
PROBE = (("zero_window_probe",), ("keep_alive",))
SEEN = (("retransmission",), ("out_of_order",))


def tshark_packets(path: Path) -> list[dict[str, list[str]]]:
    """Every frame's fields (``tcp.analysis.*`` present or not, and ``CHECKS``)."""
    assert TSHARK is not None
    fields = ["frame.number", *CHECKS, *(f"tcp.analysis.{name}" for name in LABELS)]
    out = subprocess.run(
        [TSHARK, "-n", "-2", "-r", str(path),
         "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
         "-T", "json", *sum((["-e", f] for f in fields), [])],
        capture_output=True, text=True, timeout=120, check=True)
    return [p["_source"]["layers"] for p in json.loads(out.stdout)]


#: ``_ws.expert.severity`` of an error (Wireshark's PI_ERROR; warn, note, chat are lower)
SEVERITY_ERROR = 0x00800000


def tshark_problems(path: Path) -> list[str]:
    """What plain tshark (no decode-as, one pass, checksums checked) finds wrong in
    ``path``: a malformed frame, or expert info of severity error, one line per frame."""
    assert TSHARK is not None
    out = subprocess.run(
        [TSHARK, "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE",
         "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=a",
         "-E", "aggregator=,", "-e", "frame.number", "-e", "_ws.col.Protocol",
         "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.expert.message"],
        capture_output=True, text=True, timeout=120, check=True)
    problems = []
    lines = out.stdout.splitlines()
    for line in lines:
        number, protocol, malformed, severities, messages = (line.split("\t") + [""] * 5)[:5]
        errors = [s for s in severities.split(",") if s and int(s) >= SEVERITY_ERROR]
        if malformed or errors:
            problems.append(f"frame {number} ({protocol}): malformed {malformed!r}, "
                            f"expert {messages!r}")
    if not lines:
        problems.append("no frames")
    return problems


def tshark_labels(layers: dict[str, list[str]]) -> tuple[str, ...]:
    return tuple(name for name in LABELS if f"tcp.analysis.{name}" in layers)


def ours(timeline: Timeline, rec: SegmentRecord) -> tuple[str, ...]:
    """Our analysis's labels (tshark's vocabulary) for a segment of a simulation: kept
    with the Timeline, whose segments carry SynAck's verdict."""
    return tshark_labels_of(timeline, rec.index)


def verdict(rec: SegmentRecord) -> tuple[str, ...]:
    """SynAck's verdict among a record's labels (the rest are the simulation's notes)."""
    return tuple(label for label in rec.labels if label in VERDICT_LABELS)


def explain(timeline: Timeline, at: Side, frame: int, mine: tuple[str, ...],
            theirs: tuple[str, ...]) -> str | None:
    """Which documented difference (1 or 2 in the module docstring) frame ``frame``
    (1-based) of the capture at ``at`` is, checked on the segments; None: none of them."""
    view = [rec for _, rec in captured_view(timeline, at)]
    rec = view[frame - 1]
    earlier = view[:frame - 1]
    seg = rec.segment
    if (mine, theirs) == PROBE:
        peer = [r for r in earlier if r.sender is not rec.sender]
        return "1" if (seg.length == 0 and seg.flags == Flag.ACK and peer
                       and peer[-1].segment.window == 0
                       and (peer[-1].segment.ack - 1) % SEQ_MOD == seg.seq) else None
    if set(mine) - set(theirs) == {"zero_window_probe_ack"} and set(theirs) <= set(mine):
        probe = [r for r in earlier if r.sender is not rec.sender][-1:]
        return "1" if probe and seg.window == 0 and probe[0].segment.length == 0 else None
    if (mine, theirs) == SEEN:
        sent = [(r.segment.seq, r.segment.length) for r in earlier
                if r.sender is rec.sender and r.segment.length]
        seen = any(any((seg.seq + i - start) % SEQ_MOD < size for start, size in sent)
                   for i in range(seg.length))
        return "2" if seen else None
    return None
