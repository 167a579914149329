"""``synack trace`` written as it is made: the text and the JSON of a long stream, fast.

    write_trace(out, index, replay)         # tcpdump-style text
    write_trace_json(out, index, replay)    # the ``--json`` document

Rules:
1. The output is byte for byte that of :mod:`core.replay.report` (``trace_lines``, one
   line each; ``json.dumps(trace_to_dict(...), indent=1)`` and a newline), which stays
   the readable definition; tests compare the two on every corpus capture.
2. Nothing per packet is kept: each packet's line (or JSON object) is made from column
   lists read once, and written to ``out`` a ``CHUNK`` of packets at a time, so memory
   does not grow with the stream beyond the replay itself and those columns.
3. Per packet there is no enum, dataclass or dict: flags come from
   :data:`core.tcp.segment.FLAGS_TEXT`, states from ``Replay.packet_states`` as text, the
   endpoints of the stream's two directions are formatted once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np

from core.capture.index import CaptureIndex, take_rows
from core.replay import Replay
from core.replay.report import (
    _doubt,
    _doubtful_packets,
    _endpoint,
    _label_tail,
    doubts_by_frame,
    events_of,
    trace_header,
)
from core.report import change_dict
from core.tcp.segment import FLAGS_TEXT
from core.tcp.states import TcpState
from core.trace_columns import segment_columns

#: Packets formatted between two writes.
CHUNK = 4096
_SYN_FIN_RST, _ACK = 0x07, 0x10


class _Packets:
    """The stream's packets as plain lists (rule 2)."""

    def __init__(self, index: CaptureIndex, replay: Replay) -> None:
        p = take_rows(index.packets, replay.rows)
        self.n = int(p.shape[0])
        self.times = ((p["time_ns"] - np.int64(index.start_ns)) / 1e9).tolist()
        self.frames = p["frame"].tolist()
        self.flags = p["flags"].tolist()
        self.length = p["payload_len"].tolist()
        self.window = p["window"].tolist()
        self.rel_seq = replay.analysis.rel_seq.tolist()
        self.rel_ack = replay.analysis.rel_ack.tolist()
        self.client, self.server = replay.packet_states(self.times)
        self.doubtful = _doubtful_packets(replay)
        self._p = p
        self._index = index

    def heads(self) -> list[str]:
        """Per packet: ``IP 10.0.0.1.40000 > 10.0.0.2.80: `` (made once per direction)."""
        p = self._p
        if not self.n:
            return []
        src, dst = p["src"].astype(np.int64), p["dst"].astype(np.int64)
        if int(max(src.max(), dst.max())) >= 1 << 15:      # one int64 would not hold it
            return [self._head(*key) for key in zip(
                p["ip_version"].tolist(), src.tolist(), p["sport"].tolist(), dst.tolist(),
                p["dport"].tolist(), strict=True)]
        key = ((((src << 15 | dst) << 16 | p["sport"]) << 16 | p["dport"]) << 1
               | (p["ip_version"] == 6))
        ways, which = np.unique(key, return_inverse=True)
        texts = [self._head(6 if way & 1 else 4, way >> 48, (way >> 17) & 0xFFFF,
                            (way >> 33) & 0x7FFF, (way >> 1) & 0xFFFF)
                 for way in ways.tolist()]
        return [texts[i] for i in which.tolist()]

    def _head(self, version: int, src: int, sport: int, dst: int, dport: int) -> str:
        names = self._index.addresses
        return (f"{'IP6' if version == 6 else 'IP'} {names[src]}.{sport} > "
                f"{names[dst]}.{dport}: ")

    def states(self, before: str, between: str) -> list[str]:
        """Per packet: ``before`` client state ``between`` server state (each pair made
        once)."""
        made: dict[tuple[TcpState, TcpState], str] = {}
        out = []
        for pair in zip(self.client, self.server, strict=True):
            text = made.get(pair)
            if text is None:
                text = made[pair] = f"{before}{pair[0].value}{between}{pair[1].value}"
            out.append(text)
        return out


def write_trace(out: TextIO, index: CaptureIndex, replay: Replay) -> None:
    """``trace_lines`` written to ``out`` (rules 1-3)."""
    _write(out, _trace_lines(index, replay))


def write_trace_json(out: TextIO, index: CaptureIndex, replay: Replay) -> None:
    """``json.dumps(trace_to_dict(index, replay), indent=1)`` and a newline, written to
    ``out`` as it is made (rules 1-3)."""
    _write(out, _json_pieces(index, replay))


def _write(out: TextIO, lines: Iterator[str]) -> None:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= CHUNK:
            out.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        out.write("\n".join(batch) + "\n")


# ----- text --------------------------------------------------------------------------------
def _trace_lines(index: CaptureIndex, replay: Replay) -> Iterator[str]:
    tl = replay.timeline
    analysis = replay.analysis
    yield from trace_header(replay)
    doubts = doubts_by_frame(tl)
    pk = _Packets(index, replay)
    labels, changes = analysis.labels, replay.verdict.changes
    states = pk.states("  | client ", ", server ")
    for k in pk.doubtful:
        states[k] += "?"
    tails = [""] * pk.n                  # the labels, on the few packets that have some
    for k in sorted({k for k, items in enumerate(labels) if items} | set(changes)):
        tails[k] = _label_tail(replay, k)
    flag_words = [f"Flags {text}" for text in FLAGS_TEXT]
    for frame, time, head, f, size, seq, ack, win, tail, state in zip(
            pk.frames, pk.times, pk.heads(), pk.flags, pk.length, pk.rel_seq, pk.rel_ack,
            pk.window, tails, states, strict=True):
        if size:
            numbers = f", seq {seq}:{seq + size}"
        elif f & _SYN_FIN_RST:
            numbers = f", seq {seq}"
        else:
            numbers = ""
        if f & _ACK:
            numbers += f", ack {ack}"
        yield (f"{frame:>6} {time:.6f} {head}{flag_words[f & 0x1FF]}{numbers}, win {win}, "
               f"length {size}{tail}{state}")
        if doubts:
            for note in doubts.pop(frame, []):
                yield f"       ? uncertain: {note}"


# ----- JSON --------------------------------------------------------------------------------
def _nested(value: Any, depth: int) -> str:
    """``value`` as ``json.dumps(indent=1)`` writes it ``depth`` levels down."""
    return json.dumps(value, indent=1).replace("\n", "\n" + " " * depth)


def _json_pieces(index: CaptureIndex, replay: Replay) -> Iterator[str]:
    """The document, a piece (ending where a line ends) at a time."""
    tl = replay.timeline
    yield "{"
    yield f' "file": {json.dumps(index.path)},'
    yield f' "stream": {json.dumps(replay.stream)},'
    yield f' "client": {_nested(_endpoint(tl.client.address, tl.client.port), 1)},'
    yield f' "server": {_nested(_endpoint(tl.server.address, tl.server.port), 1)},'
    pk = _Packets(index, replay)
    if pk.n:
        yield ' "segments": ['
        yield from _segments(replay, pk)
        yield " ],"
    else:
        yield ' "segments": [],'
    last_client, last_server = tl.states_after(len(tl) - 1)
    final = {"client": last_client.value, "server": last_server.value}
    yield f' "final": {_nested(final, 1)},'
    yield f' "events": {_nested(events_of(tl), 1)},'
    yield f' "uncertain": {_nested([_doubt(tl, u) for u in tl.uncertain], 1)}'
    yield "}"


def _segments(replay: Replay, pk: _Packets) -> Iterator[str]:
    analysis, verdict = replay.analysis, replay.verdict
    lists: dict[tuple[str, ...], str] = {(): "[]"}

    def listed(items: tuple[str, ...] | list[str]) -> str:
        key = tuple(items)
        text = lists.get(key)
        if text is None:
            text = lists[key] = _nested(list(key), 3)
        return text
    cols = segment_columns(replay.timeline)
    arrived = ["null" if a != a else repr(round(a, 9))
               for a in cols.arrived[replay.timeline_index].tolist()]
    senders = ['"client"' if c else '"server"' for c in replay.from_client.tolist()]
    flags = [f'"{FLAGS_TEXT[f & 0x1FF]}"' for f in pk.flags]
    acks = [ack if f & _ACK else "null" for f, ack in zip(pk.flags, pk.rel_ack, strict=True)]
    tshark = [listed(items) for items in analysis.labels]
    ours = [listed(items) for items in verdict.labels]
    diffs = ["[]"] * pk.n
    for k, items in verdict.changes.items():
        diffs[k] = _nested([change_dict(c) for c in items], 3)
    states = pk.states('   "client_state": "', '",\n   "server_state": "')
    uncertain = ["false"] * pk.n
    for k in pk.doubtful:
        uncertain[k] = "true"
    commas = [","] * pk.n
    commas[-1] = ""
    for (frame, time, sender, flag, seq, ack, size, win, theirs, mine, diff, state, arrival,
         doubt, comma) in zip(pk.frames, pk.times, senders, flags, pk.rel_seq, acks, pk.length,
                              analysis.win.tolist(), tshark, ours, diffs, states, arrived,
                              uncertain, commas, strict=True):
        yield (f'  {{\n   "frame": {frame},\n   "time": {round(time, 9)!r},\n'
               f'   "from": {sender},\n   "flags": {flag},\n   "seq": {seq},\n'
               f'   "ack": {ack},\n   "len": {size},\n   "win": {win},\n'
               f'   "analysis": {theirs},\n   "tshark": {theirs},\n   "verdict": {mine},\n'
               f'   "differences": {diff},\n{state}",\n   "arrived": {arrival},\n'
               f'   "uncertain": {doubt}\n  }}{comma}')
