"""The details of one segment: header fields, options, times, labels and the frame's bytes.

    segment_details(timeline, index, *, capture=None) -> SegmentDetails
    hex_dump(data, width=16) -> list[str]    # hex_cell: where a byte sits in it

Rules:
1. Only segment ``index`` is read. In a replay (``capture=ReplaySource(index, replay)``)
   that is ``timeline.segments[index]``, ``timeline.rows[index]``, one packet row of the
   capture index, its record bytes and the stream analysis at that packet, so a lazy
   100,000-segment replay costs one small read. Without ``capture`` the Timeline is a
   simulation (a short tuple): the ISS, window scale and exported frame number come
   from walking it, as ``core.report`` and ``core.capture.writer`` do.
2. Numbers are those SynAck shows elsewhere: in a replay tshark's (``core.analysis``:
   relative seq/ack, next seq, calculated window, scale); in a simulation relative to
   each side's ISS (``core.report``). The tcpdump line is ``Segment.describe``.
3. Bytes: in a replay the captured record; in a simulation the frame
   ``core.capture.writer`` writes for this segment (its own frame builder), "as written
   to the exported capture". Byte ``spans`` are [start, end) offsets into ``frame``.
4. Every label gets one sentence from :func:`core.analysis.explain.explain`. Labels are
   SynAck's verdict (:mod:`core.analysis.verdict`); where tshark's labels differ,
   ``SegmentDetails.verdict`` shows both and why.
5. A SACK option whose first block is a D-SACK (RFC 2883) says so: that block reports
   bytes that arrived twice, not bytes beyond the ACK number.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core.analysis.explain import DSACK, explain
from core.analysis.verdict import VERDICT_LABELS, Change, is_dsack
from core.capture.index import INFO_OPTIONS_CUT, CaptureIndex
from core.capture.writer import captured_view, frame_of
from core.errors import SynAckError
from core.replay import Replay
from core.replay.report import label_text
from core.report import initial_numbers, window_shifts
from core.simulate.judged import changes_of, tshark_labels
from core.tcp.segment import SEQ_MOD, Flag, Options, Segment, flags_text
from core.tcp.states import Side
from core.text import counted
from core.trace import SegmentLost, SegmentRecord, Timeline

HEX_WIDTH = 16
_LABEL_SET = frozenset(VERDICT_LABELS)
_FLAG_ROWS = (
    (Flag.AE, "Accurate ECN (AE)"), (Flag.CWR, "Congestion Window Reduced (CWR)"),
    (Flag.ECE, "ECN-Echo (ECE)"), (Flag.URG, "Urgent (URG)"),
    (Flag.ACK, "Acknowledgment (ACK)"), (Flag.PSH, "Push (PSH)"), (Flag.RST, "Reset (RST)"),
    (Flag.SYN, "Syn (SYN)"), (Flag.FIN, "Fin (FIN)"),
)
_OPTION_NAMES = {19: "TCP MD5 signature", 28: "User timeout", 29: "TCP authentication (AO)",
                 30: "Multipath TCP", 34: "TCP Fast Open cookie", 253: "Experimental",
                 254: "Experimental"}
#: how far past a segment's send time the event list is searched for its loss
_LOSS_SEARCH = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaySource:
    """What a replay adds to its Timeline: the capture index and the replayed stream."""

    index: CaptureIndex
    replay: Replay


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """One row: ``depth`` 1 is a part of the row above (a flag bit, a raw number)."""

    name: str
    value: str
    note: str = ""
    depth: int = 0
    span: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelNote:
    """A label as recorded (``name``), as shown (``text``) and what it means."""

    name: str
    text: str
    sentence: str
    analysis: bool          # an analysis label (tshark's or SynAck's), else a simulator note


@dataclass(frozen=True, slots=True, kw_only=True)
class Disagreement:
    """Where SynAck's verdict differs from tshark's labels: both, and why."""

    tshark: str             # "duplicate_ack #1 of frame 12", or "no label"
    synack: str             # "fin_reack", or "no label"
    why: tuple[str, ...]    # one sentence per correction


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentDetails:
    index: int
    title: str
    sections: tuple[Section, ...]   # TCP header, Options, Times, Analysis, Frame
    labels: tuple[LabelNote, ...]
    tcpdump: str
    frame: bytes                    # the bytes shown (b"" when there are none)
    frame_length: int               # the frame's length on the wire
    bytes_note: str                 # where ``frame`` comes from
    verdict: Disagreement | None = None   # tshark's labels, where SynAck's differ
    doubts: tuple[str, ...] = ()    # what the capture cannot decide here ("either ... or")

    def section(self, title: str) -> Section:
        return next(s for s in self.sections if s.title == title)

    def field(self, name: str) -> Field:
        """The first row called ``name`` (KeyError if none)."""
        for section in self.sections:
            for f in section.fields:
                if f.name == name:
                    return f
        raise KeyError(name)

    def hex_lines(self, width: int = HEX_WIDTH) -> list[str]:
        return hex_dump(self.frame, width)


def hex_dump(data: bytes, width: int = HEX_WIDTH) -> list[str]:
    """Classic dump: offset, ``width`` hex bytes in two halves, the same bytes as ASCII.

    ``0000  45 00 00 34 ...  E..4``
    """
    digits = _offset_digits(len(data))
    half = width // 2
    lines = []
    for start in range(0, len(data), width):
        chunk = data[start:start + width]
        cells = [f"{b:02x}" for b in chunk] + ["  "] * (width - len(chunk))
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{start:0{digits}x}  {' '.join(cells[:half])}  "
                     f"{' '.join(cells[half:])}  {text}".rstrip())
    return lines


def hex_cell(offset: int, total: int, width: int = HEX_WIDTH) -> tuple[int, int, int]:
    """Where byte ``offset`` of a ``total``-byte :func:`hex_dump` sits: (line, hex column,
    ASCII column)."""
    line, col = divmod(offset, width)
    base = _offset_digits(total) + 2
    hex_col = base + 3 * col + (1 if col >= width // 2 else 0)
    return line, hex_col, base + 3 * width + 2 + col


def hex_line_length(total: int, width: int = HEX_WIDTH) -> int:
    """Characters in a full line of the dump of ``total`` bytes."""
    return _offset_digits(total) + 2 + 3 * width + 2 + width


def _offset_digits(total: int) -> int:
    return max(4, len(f"{max(total - 1, 0):x}"))


@dataclass(slots=True, kw_only=True)
class _Facts:
    """What one source knows about the segment, before the shared layout."""

    head: str
    iss: int                        # sender's ISS (seq relative to it)
    irs: int                        # receiver's ISS (ack and SACK relative to it)
    rel_seq: int
    rel_ack: int | None
    next_seq: int | None
    shift: int | None               # None: unknown; -2: no scaling
    window: int
    frame: bytes
    wire: int
    tcp_offset: int | None          # where the TCP header starts in ``frame``
    hdr_len: int
    bytes_note: str
    options_cut: bool
    checksum_note: str
    line_time: float
    ip6: bool
    times: list[Field]
    analysis: list[Field]
    texts: dict[str, str]
    tshark: tuple[str, ...] = ()        # tshark's labels as shown (``texts`` applied)
    changes: tuple[Change, ...] = ()    # where SynAck's verdict differs, and why


def segment_details(timeline: Timeline, index: int, *,
                    capture: ReplaySource | None = None) -> SegmentDetails:
    """The details of segment ``index`` (see the module rules; ``capture`` for replays)."""
    rec = timeline.segments[index]
    facts = (_simulation(timeline, rec) if capture is None
             else _replay(timeline, rec, capture))
    seg = rec.segment
    row = timeline.rows[index]
    facts.analysis.append(Field(
        name="States after", value=f"client {row.client.value}, server {row.server.value}",
        note="both sides once this segment and every one before it took effect (sent; "
             "arrived, or lost)"))
    sections = (Section(title="TCP header", fields=tuple(_header(timeline, rec, facts))),
                Section(title="Options", fields=tuple(_options(rec, facts))),
                Section(title="Times", fields=tuple(facts.times)),
                Section(title="Analysis", fields=tuple(facts.analysis)),
                Section(title="Frame", fields=tuple(_layout(rec, facts))))
    labels = tuple(LabelNote(name=name, text=facts.texts.get(name, name),
                             sentence=explain(name), analysis=name in _LABEL_SET)
                   for name in rec.labels)
    src, dst = timeline.peer(rec.sender), timeline.peer(rec.receiver)
    line = (f"{facts.line_time:.6f} {'IP6' if facts.ip6 else 'IP'} {src.address}.{src.port} > "
            f"{dst.address}.{dst.port}: {seg.describe(iss=facts.iss, irs=facts.irs)}")
    numbers = seg.number_parts(iss=facts.iss, irs=facts.irs)
    title = (f"{facts.head} · {rec.sender.value} → {rec.receiver.value} · "
             f"{' '.join([flags_text(seg.flags), *numbers])}")
    verdict = None
    if facts.changes:
        ours = ", ".join(facts.texts.get(x, x) for x in rec.labels if x in _LABEL_SET)
        verdict = Disagreement(tshark=", ".join(facts.tshark) or "no label",
                               synack=ours or "no label",
                               why=tuple(c.why for c in facts.changes))
    return SegmentDetails(index=index, title=title, sections=sections, labels=labels,
                          tcpdump=line, frame=facts.frame, frame_length=facts.wire,
                          bytes_note=facts.bytes_note, verdict=verdict,
                          doubts=tuple(u.text for u in timeline.uncertain
                                       if index in u.segments))


# ----- the two sources ------------------------------------------------------------------
def _replay(timeline: Timeline, rec: SegmentRecord, src: ReplaySource) -> _Facts:
    index, replay, analysis = src.index, src.replay, src.replay.analysis
    seg = rec.segment
    if rec.frame is None or rec.ghost:
        raise ValueError(f"segment {rec.index} was never captured: no packet to show")
    frames = index.packets["frame"][replay.rows]
    k = int(np.searchsorted(frames, rec.frame))
    if k >= frames.size or int(frames[k]) != rec.frame:
        raise ValueError(f"frame {rec.frame} is not in stream {replay.stream}")
    row_id = int(replay.rows[k])
    p = index.packets[row_id]
    try:
        frame, note = index.record_bytes(row_id), f"captured frame {rec.frame} of " \
            f"{os.path.basename(index.path)}"
    except SynAckError as exc:
        frame, note = b"", f"the captured bytes cannot be read: {exc}"
    rel_seq = int(analysis.rel_seq[k])
    rel_ack = int(analysis.rel_ack[k])
    scale = analysis.win_scale[0 if bool(analysis.from_a[k]) else 1]
    start_ns = np.int64(index.start_ns)
    t = float((p["time_ns"] - start_ns) / 1e9)
    times = [Field(name="Frame number", value=str(rec.frame),
                   note=f"in {os.path.basename(index.path)}, stream {replay.stream}"),
             Field(name="Capture time", value=f"{t:.6f} s",
                   note="since the file's first frame (tshark's frame.time_relative)"),
             Field(name="Captured at", value=_utc(int(p["time_ns"])), note="UTC")]
    if len(index.interfaces) > 1:
        iface = int(p["interface"])
        times.append(Field(name="Interface", value=index.interfaces[iface].name or str(iface)))
    for c in np.flatnonzero(analysis.duplicate_of == row_id).tolist():
        q = index.packets[int(replay.rows[c])]
        times.append(Field(name="Seen again", value=f"frame {int(q['frame'])} at "
                           f"{float((q['time_ns'] - start_ns) / 1e9):.6f} s",
                           note="the same packet at the other capture point: its arrival"))
    times += _flight(timeline, rec, "estimated from the capture point" if not
                     replay.point.merged else "seen at the capture points")
    times.append(Field(name="Capture point", value=replay.point.describe()))
    extra: list[Field] = []
    if int(analysis.acks_frame[k]):
        rtt = float(analysis.ack_rtt[k])
        extra.append(Field(name="ACKs frame", value=str(int(analysis.acks_frame[k])),
                           note="" if rtt != rtt else f"RTT {rtt * 1e3:.3f} ms"))
    if int(analysis.bytes_in_flight[k]) >= 0:
        extra.append(Field(name="Bytes in flight", value=str(int(analysis.bytes_in_flight[k])),
                           note="sent but not yet acknowledged, this segment included"))
    if float(analysis.rto[k]) == float(analysis.rto[k]):
        extra.append(Field(name="Resent after", value=f"{float(analysis.rto[k]) * 1e3:.3f} ms",
                           note=f"since frame {int(analysis.rto_frame[k])}"))
    has_ack = seg.has(Flag.ACK) and rel_ack >= 0
    return _Facts(
        head=f"Frame {rec.frame}", iss=(seg.seq - rel_seq) % SEQ_MOD,
        irs=(seg.ack - rel_ack) % SEQ_MOD if has_ack else 0, rel_seq=rel_seq,
        rel_ack=rel_ack if has_ack else None,
        next_seq=int(analysis.next_seq[k]) if int(analysis.next_seq[k]) >= 0 else None,
        shift=None if scale == -1 else scale, window=int(analysis.win[k]), frame=frame,
        wire=max(len(frame), int(p["tcp_offset"]) + int(p["tcp_hdr_len"])
                 + int(p["payload_len"])),
        tcp_offset=int(p["tcp_offset"]) if frame else None,
        hdr_len=max(20, int(p["tcp_hdr_len"])), bytes_note=note,
        options_cut=bool(int(p["info"]) & INFO_OPTIONS_CUT),
        checksum_note="not verified (as tshark by default)", line_time=t,
        ip6=int(p["ip_version"]) == 6, times=times, analysis=extra,
        texts=dict(zip(analysis.labels[k], label_text(analysis, k), strict=True)),
        tshark=tuple(label_text(analysis, k)), changes=replay.verdict.changes.get(k, ()))


def _simulation(timeline: Timeline, rec: SegmentRecord) -> _Facts:
    seg = rec.segment
    iss = initial_numbers(timeline)
    own, peer = iss.get(rec.sender, 0), iss.get(rec.receiver, 0)
    view = captured_view(timeline, Side.CLIENT)
    position = next((n for n, (_, r) in enumerate(view) if r.index == rec.index), None)
    try:
        frame, offset = frame_of(timeline, rec)
        tcp_offset: int | None = offset
        wire = len(frame)
        hdr_len = wire - seg.length - offset
    except (SynAckError, ValueError) as exc:
        frame, wire, tcp_offset, hdr_len = b"", 0, None, 20
        note = f"no frame can be written for it: {exc}"
    else:
        note = ("as written to the exported capture (a tap next to the client), "
                f"frame {position + 1}" if position is not None else
                "as the sender put it on the wire (a tap next to the client does not "
                "record it, so it is not in the exported capture)")
    times = _flight(timeline, rec, "simulated time")
    if position is not None:
        times.append(Field(name="Exported frame", value=str(position + 1),
                           note="frame number in the capture a tap next to the client records"))
    shift = window_shifts(timeline)[rec.sender]
    window = seg.window << (0 if seg.has(Flag.SYN) else shift)
    has_ack = seg.has(Flag.ACK)
    return _Facts(
        head=f"Segment {rec.index + 1}", iss=own, irs=peer,
        rel_seq=(seg.seq - own) % SEQ_MOD,
        rel_ack=(seg.ack - peer) % SEQ_MOD if has_ack else None,
        next_seq=(seg.end - own) % SEQ_MOD, shift=shift, window=window, frame=frame,
        wire=wire, tcp_offset=tcp_offset, hdr_len=hdr_len,
        bytes_note=note, options_cut=False,
        checksum_note="correct: computed as the capture is written",
        line_time=view[position][0] if position is not None else rec.sent,
        ip6=":" in timeline.peer(rec.sender).address, times=times, analysis=[], texts={},
        tshark=tshark_labels(timeline, rec.index), changes=changes_of(timeline, rec.index))


def _flight(timeline: Timeline, rec: SegmentRecord, how: str) -> list[Field]:
    out = [Field(name="Sent", value=f"{rec.sent:.6f} s", note=f"by the {rec.sender.value}; {how}")]
    if rec.arrived is None:
        out.append(Field(name="Arrived", value="never", note=_loss_reason(timeline, rec)))
    else:
        out += [Field(name="Arrived", value=f"{rec.arrived:.6f} s",
                      note=f"at the {rec.receiver.value}; {how}"),
                Field(name="One-way delay", value=f"{(rec.arrived - rec.sent) * 1e3:.3f} ms")]
    return out


def _loss_reason(timeline: Timeline, rec: SegmentRecord) -> str:
    """Why the segment never arrived: its SegmentLost event, found near its send time."""
    events = timeline.events
    start = bisect.bisect_left(events, rec.sent, key=lambda e: e.time)
    for pos in range(start, min(len(events), start + _LOSS_SEARCH)):
        ev = events[pos]
        if isinstance(ev, SegmentLost) and ev.index == rec.index:
            return f"lost: {ev.reason}"
    return "lost"


# ----- the shared layout ----------------------------------------------------------------
def _header(timeline: Timeline, rec: SegmentRecord, f: _Facts) -> list[Field]:
    seg, tcp, data = rec.segment, f.tcp_offset, f.frame
    src, dst = timeline.peer(rec.sender), timeline.peer(rec.receiver)

    def span(start: int, end: int) -> tuple[int, int] | None:
        return None if tcp is None else (tcp + start, tcp + end)

    hdr_len = f.hdr_len
    rows = [
        Field(name="Source", value=src.label, note=rec.sender.value, span=span(0, 2)),
        Field(name="Destination", value=dst.label, note=rec.receiver.value, span=span(2, 4)),
        Field(name="Sequence number", value=str(f.rel_seq), span=span(4, 8),
              note="relative to the sender's initial sequence number (ISS)"),
        Field(name="raw", value=str(seg.seq), depth=1),
        Field(name="Next sequence number", value="unknown" if f.next_seq is None
              else str(f.next_seq), note="seq + payload length (+1 for SYN, +1 for FIN)"),
        Field(name="Acknowledgment number", span=span(8, 12),
              value="not set (no ACK flag)" if f.rel_ack is None else str(f.rel_ack),
              note="the next byte the sender expects, relative to the peer's ISS"),
        Field(name="raw", value=str(seg.ack), depth=1),
    ]
    words = counted(hdr_len // 4, "word")
    rows.append(Field(name="Header length", value=f"{counted(hdr_len, 'byte')} ({words})",
                      note="20 fixed bytes plus the options", span=span(12, 13)))
    flags = int(seg.flags)
    named = [name.split("(")[1][:-1] for bit, name in reversed(_FLAG_ROWS) if flags & bit]
    rows.append(Field(name="Flags", value=f"0x{flags:03x} ({', '.join(named) or 'none'})",
                      note=flags_text(seg.flags) + " as tcpdump prints them", span=span(12, 14)))
    if data and tcp is not None:
        rows.append(Field(name="Reserved", value=str(data[tcp + 12] >> 1 & 0x7), depth=1))
    rows += [Field(name=name, value="set" if flags & bit else "not set", depth=1)
             for bit, name in _FLAG_ROWS]
    rows += [Field(name="Window", value=str(seg.window), span=span(14, 16),
                   note="the 16-bit field as sent"),
             Field(name="Window scale", value=_scale_text(seg, f.shift), depth=1),
             Field(name="Calculated window", value=counted(f.window, "byte"), depth=1,
                   note="field × scale: room the sender offers in its receive buffer")]
    if data and tcp is not None:
        rows += [Field(name="Checksum", value=f"0x{int.from_bytes(data[tcp + 16:tcp + 18]):04x}",
                       note=f.checksum_note, span=span(16, 18)),
                 Field(name="Urgent pointer", value=str(int.from_bytes(data[tcp + 18:tcp + 20])),
                       note="meaningful only with URG", span=span(18, 20))]
    captured = max(0, min(seg.length, len(data) - (tcp or 0) - hdr_len)) if data else 0
    rows.append(Field(name="Payload length", value=counted(seg.length, "byte"),
                      note=f"{captured} captured" if captured < seg.length else "",
                      span=span(hdr_len, hdr_len + captured) if captured else None))
    return rows


def _scale_text(seg: Segment, shift: int | None) -> str:
    if seg.has(Flag.SYN):
        return "not applied (never to a SYN)"
    if shift is None:
        return "unknown (the SYNs were not captured): window shown unscaled"
    if shift == -2:
        return "none (a SYN did not offer it)"
    return f"×{1 << shift} (shift {shift})"


def _options(rec: SegmentRecord, f: _Facts) -> list[Field]:
    """One row per option in wire order (NOP and EOL included), values from
    ``Segment.options``; without the bytes, the parsed options on one row."""
    opts = rec.segment.options
    if f.tcp_offset is None:
        text = opts.text()[1:-1]
        return [Field(name="Options", value=text, note="order on the wire unknown")] if text else []
    base = f.tcp_offset + 20
    raw = f.frame[base:f.tcp_offset + f.hdr_len]
    rows: list[Field] = []
    pos = 0
    while pos < len(raw):
        kind, at = raw[pos], base + pos
        if kind in (0, 1):
            rows.append(Field(name="No-operation (NOP)", value="", span=(at, at + 1),
                              note="padding") if kind else
                        Field(name="End of option list (EOL)", value="", span=(at, at + 1),
                              note=f"{counted(len(raw) - pos - 1, 'more byte')} of padding"))
            if kind == 0:
                break
            pos += 1
            continue
        size = raw[pos + 1] if pos + 1 < len(raw) else 0
        if size < 2 or pos + size > len(raw):
            rows.append(Field(name=f"Option kind {kind}", value="malformed or cut",
                              note="the parse stops here, as in tcpdump"))
            break
        rows += _option_rows(kind, raw[pos + 2:pos + size], opts, f, (at, at + size))
        pos += size
    if f.options_cut:
        rows.append(Field(name="(cut)", value="options cut by the snap length"))
    return rows


def _option_rows(kind: int, body: bytes, opts: Options, f: _Facts,
                 span: tuple[int, int]) -> list[Field]:
    if kind == 2 and opts.mss is not None:
        return [Field(name="Maximum segment size", value=counted(opts.mss, "byte"), span=span)]
    if kind == 3 and opts.wscale is not None:
        return [Field(name="Window scale", value=f"{opts.wscale} (multiply by "
                      f"{1 << min(opts.wscale, 14)})", span=span)]
    if kind == 4 and opts.sack_permitted:
        return [Field(name="SACK permitted", value="yes", span=span)]
    if kind == 5 and opts.sack_blocks:
        return _sack_rows(opts.sack_blocks, f, span)
    if kind == 8 and opts.timestamp is not None:
        val, ecr = opts.timestamp
        return [Field(name="Timestamps", value=f"TSval {val}, TSecr {ecr}", span=span,
                      note="the sender's clock, and the latest TSval it received")]
    return [Field(name=_OPTION_NAMES.get(kind, f"Option kind {kind}"), value=body.hex(" "),
                  span=span)]


def _sack_rows(blocks: tuple[tuple[int, int], ...], f: _Facts,
               span: tuple[int, int]) -> list[Field]:
    """The SACK option: a first block that is a D-SACK is named one (RFC 2883)."""
    dsack = f.rel_ack is not None and is_dsack((f.irs + f.rel_ack) % SEQ_MOD, blocks)
    note = "bytes received beyond the ACK number, relative to the peer's ISS"
    if dsack:
        note = ("block 1 is a D-SACK: bytes that arrived twice (RFC 2883); "
                + ("the others: " + note if len(blocks) > 1 else "relative to the peer's ISS"))
    rows = [Field(name="SACK", value=f"{len(blocks)} block(s)"
                  + (", the first a D-SACK" if dsack else ""), span=span, note=note)]
    for n, (a, b) in enumerate(blocks):
        rel = f"{(a - f.irs) % SEQ_MOD}–{(b - f.irs) % SEQ_MOD}"
        if n == 0 and dsack:
            rows.append(Field(name="block 1 (D-SACK)", depth=1, value=rel,
                              note=f"raw {a}–{b}: {explain(DSACK)}"))
        else:
            rows.append(Field(name=f"block {n + 1}", depth=1, value=rel, note=f"raw {a}–{b}"))
    return rows


def _layout(rec: SegmentRecord, f: _Facts) -> list[Field]:
    rows = [Field(name="Bytes", value=f.bytes_note)]
    if not f.frame:
        return rows
    rows.append(Field(name="Length",
                      value=f"{counted(f.wire, 'byte')} on the wire, {len(f.frame)} shown",
                      note="" if len(f.frame) >= f.wire else "cut by the capture's snap length"))
    tcp, hdr = f.tcp_offset, f.hdr_len
    if tcp is not None:
        end = min(len(f.frame), tcp + hdr + rec.segment.length)
        rows += [Field(name="Link and IP headers", value=f"bytes 0–{tcp - 1}", span=(0, tcp)),
                 Field(name="TCP header", value=f"bytes {tcp}–{tcp + hdr - 1}",
                       span=(tcp, tcp + hdr))]
        if end > tcp + hdr:
            rows.append(Field(name="Payload", value=f"bytes {tcp + hdr}–{end - 1}",
                              span=(tcp + hdr, end)))
    return rows


def _utc(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}.{rest:09d}"

