"""One TCP stream of a capture -> a :class:`core.trace.Timeline` (the replay source).

    replay_stream(index, stream, analysis=None) -> Replay

Invariants:
- Every packet of the stream is one segment of the Timeline, in capture (frame) order,
  except the second sighting of a packet in a capture merged from several capture
  points: that copy is the arrival of the first (``Replay.timeline_index`` maps both).
- Times are seconds since the file's first packet (tshark's ``frame.time_relative``);
  sends and arrivals are placed by :mod:`core.replay.timing`, states by
  :mod:`core.replay.infer`, labels are :mod:`core.analysis.verdict`'s (tshark's labels
  from :mod:`core.analysis`, corrected where they mislead; ``Replay.verdict`` has both).
- Segments that must have existed but were never captured are ``Timeline.ghosts``
  (:mod:`core.replay.ghosts`), beside the segments: they change no index above.
- The Timeline is lazy (:mod:`core.replay.columns`): building it for a stream of 100,000
  segments creates no per-segment object.
- ``stages`` (:mod:`core.progress`) hears ``ANALYSING`` (packets; only when no analysis
  is given), each walk of the explanation as ``REPLAYING`` (events: a send and an
  arrival per segment; ``numbered`` from the second pass on, a repair walks again) and
  the walks of the other readings as ``DOUBTS``; the array passes between them call the
  current stage again, so ``Cancelled`` raised there stops the replay within a few tens
  of milliseconds of work on a 100,000-segment stream.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from core.analysis import StreamAnalysis, analyze_stream
from core.analysis.options import OptionColumns, read_options
from core.analysis.verdict import Verdict, judge_stream, replay_fates
from core.capture.index import CaptureIndex, take_rows
from core.errors import SynAckError
from core.gcpause import paused
from core.progress import ANALYSING, DOUBTS, REPLAYING, Progress, Stages, numbered, silent
from core.replay.columns import (
    LazyEvents,
    LazyRows,
    LazySegments,
    LazyWindowSeries,
    RowWindows,
    Series,
)
from core.replay.conflict import ELIMINATED, UNANSWERED, Conflict
from core.replay.doubt_facts import Stream
from core.replay.doubts import closed_early, find_doubts
from core.replay.evidence import TIMER_SYN_ACK, arrival_proofs, number_lines, old_copies
from core.replay.explain import Explanation, Repair, SegmentArrays, explain
from core.replay.ghosts import Columns, find_ghosts
from core.replay.infer import infer
from core.replay.reopen import REOPENED, Waited, reopened, waited_out
from core.replay.roles import CapturePoint, client_is_a, estimate_capture_point
from core.replay.sides import Inference
from core.replay.timing import schedule
from core.tcp.states import Side, TcpState, Trigger
from core.trace import Peer, SegmentRecord, StateChanged, Timeline, Uncertainty

SYN, ACK, RST, FIN = 0x02, 0x10, 0x04, 0x01
#: Linux keeps TIME_WAIT for 60 s (TCP_TIMEWAIT_LEN); a capture cannot tell the OS.
TIME_WAIT = 60.0

Arr = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    """A replayed stream: the Timeline plus what the capture adds to it."""

    timeline: Timeline
    stream: int
    rows: Arr                      # index rows of every packet of the stream (frame order)
    timeline_index: Arr            # per packet: its segment in the Timeline
    from_client: Arr               # per packet: sent by the client
    client_is_a: bool
    roles_reason: str
    point: CapturePoint
    analysis: StreamAnalysis
    anomalies: tuple[str, ...]
    verdict: Verdict               # SynAck's labels (the segments'), tshark's, and why

    def states_after_packet(self, k: int, time: float) -> tuple[TcpState, TcpState]:
        """Both states after packet ``k`` (seen at ``time``): after it took effect; in a
        merged capture, as they stood when this sighting was made (a send or an
        arrival), so a listing in frame order moves forward in time."""
        if self.point.merged:
            tl = self.timeline
            return tl.state_at(Side.CLIENT, time), tl.state_at(Side.SERVER, time)
        return self.timeline.states_after(int(self.timeline_index[k]))

    def packet_states(self, times: Sequence[float]) -> tuple[list[TcpState], list[TcpState]]:
        """``states_after_packet`` of every packet at once (``times``: each packet's),
        without making a row per packet: (client states, server states)."""
        tl = self.timeline
        if self.point.merged:
            return ([tl.state_at(Side.CLIENT, t) for t in times],
                    [tl.state_at(Side.SERVER, t) for t in times])
        rows = tl.rows
        if isinstance(rows, LazyRows):
            client, server = rows.states()
        else:
            client, server = [r.client for r in rows], [r.server for r in rows]
        at = self.timeline_index.tolist()
        return [client[i] for i in at], [server[i] for i in at]


def stream_rows(index: CaptureIndex, stream: int) -> Arr:
    rows = np.flatnonzero(index.packets["stream"] == stream)
    if not rows.size:
        count = int(index.packets["stream"].max()) + 1 if len(index) else 0
        raise SynAckError(f"{index.path}: no TCP stream {stream} "
                          f"(the file has {count} stream{'s' if count != 1 else ''})")
    return rows


def replay_stream(index: CaptureIndex, stream: int,
                  analysis: StreamAnalysis | None = None, *,
                  stages: Stages = silent) -> Replay:
    """The Timeline of TCP stream ``stream`` of ``index`` (see module invariants);
    ``analysis`` is that stream's :func:`core.analysis.analyze_stream` if already made.
    The cyclic garbage collector is paused meanwhile: the walk makes hundreds of
    thousands of small tuples and nothing cyclic, and each collection would scan them."""
    with paused():
        return _replay_stream(index, stream, analysis, stages)


class _Passes:
    """The replay's progress: the current pass's stage and where it stands."""

    def __init__(self, stages: Stages, events: int) -> None:
        self.stages = stages
        self.events = events
        self.done = 0
        self.walks = {REPLAYING: 0, DOUBTS: 0}
        self.current = stages(REPLAYING)

    def check(self) -> None:
        """Between array passes: the current stage again (it may raise ``Cancelled``)."""
        self.current(self.done, self.events)

    def walk(self, kind: str) -> Progress:
        """The progress of the next walk of ``kind`` (``REPLAYING`` or ``DOUBTS``)."""
        self.walks[kind] += 1
        told = self.stages(numbered(kind, self.walks[kind]))
        self.current, self.done = told, 0

        def progress(done: int, total: int) -> None:
            self.done = done
            told(done, total)
        return progress


def _replay_stream(index: CaptureIndex, stream: int, analysis: StreamAnalysis | None,
                   stages: Stages) -> Replay:
    if analysis is None:
        stream_rows(index, stream)                   # a clear error for a missing stream
        analysis = analyze_stream(index, stream, progress=stages(ANALYSING))
    rows = analysis.rows
    told = _Passes(stages, 2 * int(np.count_nonzero(analysis.duplicate_of < 0)))
    told.check()
    p = take_rows(index.packets, rows)
    first = p[0]
    from_a = analysis.from_a
    flags = p["flags"].astype(np.int64)
    a_is_client, reason = client_is_a(flags, from_a, int(first["sport"]), int(first["dport"]))
    from_client_all = from_a if a_is_client else ~from_a
    copies = analysis.duplicate_of
    keep = np.flatnonzero(copies < 0)
    time_all = (p["time_ns"] - np.int64(index.start_ns)) / 1e9
    told.check()
    copy_time = _copy_times(rows, copies, keep, time_all)
    sel = take_rows(p, keep)
    fc = from_client_all[keep]
    fl = flags[keep]
    seq = sel["seq"].astype(np.int64)
    ack = sel["ack"].astype(np.int64)
    length = sel["payload_len"].astype(np.int64)
    seg_len = length + ((fl & SYN) != 0) + ((fl & FIN) != 0)
    t = time_all[keep]
    told.check()
    point = estimate_capture_point(t, fc, fl, seq, ack, seg_len)
    told.check()
    if copy_time is not None:
        flight = copy_time - t
        seen = flight[~np.isnan(flight)]
        point = CapturePoint(delta_client=0.0, delta_server=float(np.median(seen)),
                             method="two capture points", merged=True)
    lines = number_lines(fc, fl, seq, ack, seg_len)
    every = analysis.options if analysis.options is not None else read_options(
        index, rows, check=told.check)
    opts = every if keep.size == rows.size else OptionColumns(
        *(getattr(every, f.name)[keep] for f in fields(every)))
    told.check()
    proofs = arrival_proofs(lines, fc, fl, seg_len, opts.tsval, opts.tsecr, opts.sack_blocks,
                            opts.sack_edges, ack, t)
    told.check()
    at_receiver = None if copy_time is None else _seen_at_receiver(
        sel["interface"].astype(np.int64), fc, copy_time)
    send, arrive = schedule(t, fc, fl, lines, seg_len, point, copy_time, proofs, at_receiver,
                            opts.tsval)
    told.check()
    delayed = old_copies(fc, fl, seq, ack, length, sel["window"].astype(np.int64), lines.ack,
                         opts.tsval, t) if copy_time is None else np.full(keep.size, -1)
    held = np.flatnonzero(delayed >= 0)
    if held.size:                        # rule 6 of evidence: they left with the original
        send[held] = _left_at(held, delayed[held], send, fc, opts.tsval)
    shifts = _window_shifts(analysis.win_scale, a_is_client)
    initial = _initial_states(fc, fl)
    told.check()
    arrive_list: list[float | None] = [None if a != a else a for a in arrive.tolist()]
    fc_list = fc.tolist()
    send_list, fl_list = send.tolist(), fl.tolist()
    columns = {"send": send_list, "from_client": fc_list, "flags": fl_list,
               "seq": seq.tolist(), "ack": ack.tolist(), "length": length.tolist(),
               "window": sel["window"].tolist()}
    firsts = _first_fins(fc, fl, seq, length)
    fins = (None if firsts[0] is None else firsts[0][1],
            None if firsts[1] is None else firsts[1][1])
    early = _early_closes(fc, fl, seq, ack, firsts)

    ignores_rst: set[Side] = set()          # explain rule 1b: RFC 1337 sides

    def walk(fates: list[float | None], tolerate: frozenset[int],
             kind: str = REPLAYING) -> Inference:
        return infer(**columns, arrive=fates, shifts=shifts, initial=initial, fins=fins,
                     time_wait=TIME_WAIT, stop_on_conflict=not point.merged,
                     tolerate=tolerate, rfc1337=frozenset(ignores_rst),
                     progress=told.walk(kind))

    def other_reading(fates: list[float | None], tolerate: frozenset[int]) -> Inference:
        return walk(fates, tolerate, DOUBTS)
    proved_by, seq_line, end_line = proofs.by.tolist(), lines.seq.tolist(), lines.end.tolist()
    seen_arriving = _seen_arriving(point, fc)
    arrays = SegmentArrays.of(send, fc, fl, lines.seq, lines.end, proofs.by)

    def explained_by_walks() -> Explanation:
        return explain(walk, send_list, arrive_list, proved_by, fl_list, fc_list,
                       point.one_way, seq_line, end_line,
                       copies=held.tolist(), dsack=proofs.dsack.tolist(),
                       seen_arriving=seen_arriving, arrays=arrays, rfc1337=ignores_rst)
    explained = explained_by_walks()
    waited = _waited_out(index, stream, rows, a_is_client, explained.inference, point)
    if waited:                  # explain rule 1c: the same ports reopened when 2MSL ran out
        ignores_rst.update(w.side for w in waited)
        explained = explained_by_walks()
        explained.repairs[:0] = [Repair(segment=w.segment, fate="ignored (RFC 1337)",
                                        because=Conflict(
                                            segment=w.segment, side=w.side,
                                            state=TcpState.TIME_WAIT, kind=REOPENED,
                                            culprit=w.segment, reason=w.reason()))
                                 for w in waited]
    inference, arrive_list = explained.inference, explained.arrive
    final = list(arrive_list)

    def series(progress: Progress) -> tuple[Series, RowWindows]:
        done = infer(**columns, arrive=final, shifts=shifts, initial=initial, fins=fins,
                     time_wait=TIME_WAIT, series=True, rfc1337=frozenset(ignores_rst),
                     progress=progress)
        return done.series, (done.client_windows, done.server_windows)
    told.check()
    doubts = find_doubts(
        Stream(from_client=fc_list, flags=fl_list, seq_line=seq_line,
               end_line=end_line, ack_line=lines.ack.tolist(), send=send_list,
               proved_by=proved_by, timestamps=bool((opts.tsval >= 0).any()),
               delta_client=point.delta_client, delta_server=point.delta_server,
               same_host=point.merged or _same_host(index, sel[0]),
               server_port=int(sel[0]["dport"] if a_is_client else sel[0]["sport"]),
               syns=np.flatnonzero(fl & SYN).tolist()),
        arrive_list, inference, initial, other_reading,
        {r.segment for r in explained.repairs if r.fate == "lost"},
        [r.segment for r in explained.repairs if r.because.kind == UNANSWERED],
        [(r.segment, r.because.segment) for r in explained.repairs
         if r.because.kind == ELIMINATED])
    if early:                   # infer rule 2b: when the uncaptured FIN left is unknown
        other = infer(**columns, arrive=final, shifts=shifts, initial=initial, fins=fins,
                      early_close=early, time_wait=TIME_WAIT,
                      tolerate=frozenset(range(len(final))), rfc1337=frozenset(ignores_rst),
                      progress=told.walk(DOUBTS))
        doubts = sorted(doubts + closed_early(inference, other, initial, early, fc_list),
                        key=lambda u: u.time)
    told.check()
    arrive = np.array(arrive_list, dtype=np.float64)            # None -> nan
    timeline_index = np.empty(rows.size, np.int64)
    timeline_index[keep] = np.arange(keep.size)
    if keep.size != rows.size:
        pos = {int(r): i for i, r in enumerate(rows.tolist())}
        dup = np.flatnonzero(copies >= 0)
        timeline_index[dup] = [timeline_index[pos[int(c)]] for c in copies[dup].tolist()]
    reordered: list[Uncertainty] = []
    ghosts = find_ghosts(Columns(
        from_client=fc, flags=fl, seq=seq, ack=ack, seg_len=seg_len,
        window=sel["window"].astype(np.int64), frame=sel["frame"].astype(np.int64),
        send=send, arrive=arrive, rel_seq=analysis.rel_seq[keep],
        rel_ack=analysis.rel_ack[keep], tsval=opts.tsval), one_way=point.one_way,
        unseen_syn_acks=inference.unseen_syn_acks, doubts=reordered,
        answered_syns=[(k, int(proofs.by[k])) for k, how in enumerate(proofs.how)
                       if how == TIMER_SYN_ACK] if TIMER_SYN_ACK in proofs.how else [],
        proved_fins=[(k, int(proofs.by[k])) for k in np.flatnonzero(
            ((fl & FIN) != 0) & (proofs.by >= 0)).tolist()])
    if reordered:
        doubts = sorted(doubts + reordered, key=lambda u: u.time)
    told.check()
    verdict = judge_stream(index, analysis, replay_fates(keep, rows.size, send, arrive),
                           trust_arrivals=True, options=every, check=told.check)
    told.check()
    timeline = _timeline(index, stream, rows[keep], sel, fc_list, send_list, arrive_list,
                         inference, initial, a_is_client, verdict, keep, point, ghosts,
                         doubts, LazyWindowSeries(series))
    return Replay(timeline=timeline, stream=stream, rows=rows, timeline_index=timeline_index,
                  from_client=from_client_all,
                  client_is_a=a_is_client, roles_reason=reason, point=point,
                  analysis=analysis, verdict=verdict,
                  anomalies=tuple(inference.anomalies)
                  + tuple(r.describe() for r in explained.repairs)
                  + tuple(f"tolerated: {c.reason} (segment {c.segment})"
                          for c in inference.tolerated))


def _waited_out(index: CaptureIndex, stream: int, rows: Arr, a_is_client: bool,
                inference: Inference, point: CapturePoint) -> list[Waited]:
    """Explain rule 1c (:mod:`core.replay.reopen`), looked for only when an RST ended a
    TIME_WAIT (it reads the whole index)."""
    if not any(isinstance(ev, StateChanged) and ev.old is TcpState.TIME_WAIT
               and ev.trigger is Trigger.RCV_RST for ev in inference.sparse):
        return []
    reopening = reopened(index, stream, rows)
    if reopening is None:
        return []
    return waited_out(reopening, a_is_client, inference, point)


def _seen_arriving(point: CapturePoint, fc: Arr) -> list[bool]:
    """Per segment: the capture shows it reaching its receiver (made next to it)."""
    seen: list[bool] = np.where(fc, point.merged or point.next_to(False),
                                point.merged or point.next_to(True)).tolist()
    return seen


def _left_at(held: Arr, earlier: Arr, send: Arr, fc: Arr, tsval: Arr) -> Arr:
    """When each old segment (``held``, evidence rule 6) left: with its ``earlier`` one
    when they share a TSval (or carry none); otherwise at the point its TSval takes
    between that one's and the sender's next larger one (linear in the TSval)."""
    out = send[earlier].copy()
    for pos, (k, j) in enumerate(zip(held.tolist(), earlier.tolist(), strict=True)):
        ts_k, ts_j = int(tsval[k]), int(tsval[j])
        if ts_k < 0 or ts_j < 0 or ts_k == ts_j:
            continue
        mine = np.flatnonzero((fc == fc[j]) & (np.arange(fc.size) > j) & (tsval >= 0))
        later = mine[((tsval[mine] - ts_k) % (1 << 32)).astype(np.int64) < (1 << 31)]
        later = later[tsval[later] != ts_k]
        if later.size:
            m = int(later[0])
            share = ((ts_k - ts_j) % (1 << 32)) / max(1, (int(tsval[m]) - ts_j) % (1 << 32))
            out[pos] = send[j] + min(1.0, share) * max(0.0, float(send[m] - send[j]))
    return out


Fin = tuple[int, int] | None     # a side's first captured FIN: (segment, number it takes)


def _first_fins(fc: Arr, fl: Arr, seq: Arr, length: Arr) -> tuple[Fin, Fin]:
    """The client's first captured FIN and the server's (None: none)."""
    out: list[Fin] = []
    for side in (True, False):
        at = np.flatnonzero((fc == side) & ((fl & FIN) != 0) & ((fl & RST) == 0))
        if at.size:
            k = int(at[0])
            out.append((k, (int(seq[k]) + int(length[k]) + int((fl[k] & SYN) != 0))
                        & 0xFFFFFFFF))
        else:
            out.append(None)
    return out[0], out[1]


def _early_closes(fc: Arr, fl: Arr, seq: Arr, ack: Arr, firsts: tuple[Fin, Fin]
                  ) -> dict[int, int]:
    """Rule 2b of :mod:`core.replay.infer`: per side, its first segment numbered after its
    first captured FIN and captured before it; when that segment ACKs the peer's first
    FIN, the peer FIN's segment -> the revealing one: the uncaptured FIN may have left
    before the peer's FIN arrived (a simultaneous close), or after (the FIN carrying the
    ACK of the peer's); the replay shows the second and says the first
    (:func:`core.replay.doubts.closed_early`)."""
    out: dict[int, int] = {}
    for side, mine, theirs in ((True, firsts[0], firsts[1]), (False, firsts[1], firsts[0])):
        if mine is None or theirs is None:
            continue
        first_fin, number = mine
        after = np.flatnonzero((fc == side) & ((fl & (FIN | RST)) == 0)
                               & (seq == (number + 1) & 0xFFFFFFFF))
        after = after[after < first_fin]
        if after.size:
            k = int(after[0])
            if fl[k] & ACK and int(ack[k]) == (theirs[1] + 1) & 0xFFFFFFFF:
                out[theirs[0]] = k
    return out


def _same_host(index: CaptureIndex, first: Any) -> bool:
    """Both ends on one host: the same address, or loopback addresses."""
    a, b = index.addresses[int(first["src"])], index.addresses[int(first["dst"])]
    try:
        return a == b or (ipaddress.ip_address(a).is_loopback
                          and ipaddress.ip_address(b).is_loopback)
    except ValueError:
        return False


def _seen_at_receiver(iface: Arr, fc: Arr, copy_time: Arr) -> Arr:
    """In a capture at both ends: the packets seen once, on their receiver's interface (a
    copy the link made after the sender's tap): that sighting is their arrival. Each
    side's interface is where its packets seen twice were seen first."""
    twice = ~np.isnan(copy_time)
    out = np.zeros(iface.size, bool)
    for side in (True, False):
        mine = fc == side
        first = iface[mine & twice]
        if not first.size:
            continue
        own = int(np.bincount(first).argmax())
        out |= mine & ~twice & (iface != own)
    return out


def _copy_times(rows: Arr, copies: Arr, keep: Arr, time_all: Arr) -> Arr | None:
    if not bool(np.any(copies >= 0)):
        return None
    out = np.full(keep.size, np.nan)
    where = {int(r): i for i, r in enumerate(rows[keep].tolist())}
    for k in np.flatnonzero(copies >= 0).tolist():
        i = where.get(int(copies[k]))
        if i is not None and np.isnan(out[i]):
            out[i] = time_all[k]
    return out


def _window_shifts(win_scale: tuple[int, int], a_is_client: bool) -> tuple[int, int]:
    """(client, server) shift applied to each side's window field: the analysis's scale,
    0 when it is unknown (no SYNs captured) or unused (a SYN did not offer it)."""
    a_to_b, b_to_a = (max(0, shift) for shift in win_scale)
    return (a_to_b, b_to_a) if a_is_client else (b_to_a, a_to_b)


def _initial_states(fc: Arr, fl: Arr) -> tuple[TcpState, TcpState]:
    """CLOSED/LISTEN before a captured handshake; ESTABLISHED when it was not captured."""
    syn_only = (fl & (SYN | ACK | RST)) == SYN
    client_syn = syn_only & fc
    if not client_syn.any():
        if (syn_only & ~fc).any():
            return TcpState.ESTABLISHED, TcpState.CLOSED   # odd: only the server opens
        synack = ((fl & (SYN | ACK)) == SYN | ACK) & ~fc
        if synack.any():
            return TcpState.SYN_SENT, TcpState.LISTEN
        return TcpState.ESTABLISHED, TcpState.ESTABLISHED
    server = np.flatnonzero(~fc)
    if server.size == 0:
        return TcpState.CLOSED, TcpState.LISTEN
    first = int(fl[server[0]])
    if first & SYN and not first & ACK:
        return TcpState.CLOSED, TcpState.CLOSED            # simultaneous open
    if first & RST:
        return TcpState.CLOSED, TcpState.CLOSED            # nobody listening: refused
    return TcpState.CLOSED, TcpState.LISTEN


def _timeline(index: CaptureIndex, stream: int, rows: Arr, sel: Arr, fc: list[bool],
              send: list[float], arrive: list[float | None], inference: Inference,
              initial: tuple[TcpState, TcpState], a_is_client: bool,
              verdict: Verdict, keep: Arr, point: CapturePoint,
              ghosts: list[SegmentRecord], doubts: list[Uncertainty],
              windows: LazyWindowSeries) -> Timeline:
    first = sel[0]
    a = Peer(side=Side.CLIENT if a_is_client else Side.SERVER,
             address=index.addresses[int(first["src"])], port=int(first["sport"]))
    b = Peer(side=Side.SERVER if a_is_client else Side.CLIENT,
             address=index.addresses[int(first["dst"])], port=int(first["dport"]))
    client, server = (a, b) if a_is_client else (b, a)
    per_packet = verdict.labels
    keep_list = keep.tolist()

    def labels(i: int) -> tuple[str, ...]:
        return tuple(per_packet[keep_list[i]])
    segments = LazySegments(index, rows, fc, send, arrive, sel["frame"].tolist(), labels)
    events = LazyEvents(inference.kinds, inference.refs, inference.times, fc, inference.sparse)
    rows_view = LazyRows(inference.client_after, inference.server_after, windows.row_windows)
    title = f"{os.path.basename(index.path)} · stream {stream}"
    return Timeline(title=title, client=client, server=server, segments=segments,
                    events=events, initial=initial, msl=TIME_WAIT / 2, rows=rows_view,
                    sparse=inference.sparse, notes=(point.describe(),), ghosts=ghosts,
                    windows=windows, uncertain=doubts,
                    row_states=(inference.client_after, inference.server_after))
