"""The definition: Wireshark 4.0's TCP sequence analysis, one packet at a time.

A literal port of ``tcp_analyze_sequence_number`` and the parts of ``dissect_tcp`` around
it (epan/dissectors/packet-tcp.c, 4.0.17): base sequence numbers, the unacked-segment
lists, window scaling, the first RTT, SACK blocks for bytes in flight. It is slow (the
unacked lists are walked as tshark walks them) and is what ``core.analysis.fast`` is
tested against.

Invariants:
- All sequence arithmetic is modulo 2**32 and compares as Wireshark's ``GT_SEQ`` etc.
- "Flow 1" is the direction whose (source address, port) is the larger, as in
  ``get_tcp_conversation_data``; the same stream state starts fresh for every stream.
- tshark runs two passes (``-2``): the analysis is the first pass; relative numbers and
  the calculated window use the state at the end of it (final base, final window scale).
- ``strict=True`` reproduces tshark exactly. ``strict=False`` (SynAck's reading) differs
  in two documented ways, see ``core.analysis``: a Linux zero-window probe is labelled
  ``zero_window_probe`` (not ``keep_alive``) and a resent segment whose bytes were already
  captured is a ``retransmission`` (not ``out_of_order``).
"""

from __future__ import annotations

from bisect import bisect_right

from core.analysis.inputs import StreamInput, StreamOutput
from core.analysis.labels import (
    A_ACK_LOST_PACKET,
    A_DUPLICATE_ACK,
    A_FAST_RETRANSMISSION,
    A_KEEP_ALIVE,
    A_KEEP_ALIVE_ACK,
    A_LOST_PACKET,
    A_OUT_OF_ORDER,
    A_RETRANSMISSION,
    A_REUSED_PORTS,
    A_SPURIOUS_RETRANSMISSION,
    A_TFO_ACK,
    A_TFO_SYN,
    A_WINDOW_FULL,
    A_WINDOW_UPDATE,
    A_ZERO_WINDOW,
    A_ZERO_WINDOW_PROBE,
    A_ZERO_WINDOW_PROBE_ACK,
)
from core.progress import TICK_MASK, Progress, ignore

M = 0xFFFFFFFF
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MAX_UNACKED = 10000


def s32(x: int) -> int:
    """``x`` modulo 2**32 read as a signed 32-bit number."""
    x &= M
    return x - (1 << 32) if x & 0x80000000 else x


def gt(a: int, b: int) -> bool:
    return s32(a - b) > 0


def lt(a: int, b: int) -> bool:
    return s32(a - b) < 0


def le(a: int, b: int) -> bool:
    return s32(a - b) <= 0


class Flow:
    """One direction's state (``tcp_flow_t`` plus ``tcp_analyze_seq_flow_info_t``)."""

    def __init__(self) -> None:
        self.base: int | None = None
        self.win_scale = -1
        self.window = M               # G_MAXUINT32 until a segment is seen
        self.is_first_ack = False
        self.valid_bif = 1
        self.segments: list[list[int]] = []   # [seq, nextseq, frame, time], newest first
        self.nextseq = 0
        self.nextseqframe = 0
        self.nextseqtime = 0
        self.maxseqtobeacked = 0
        self.lastack = 0
        self.lastacktime = 0
        self.lastnondupack = 0
        self.dupacknum = 0
        self.lastsegmentflags = 0
        self.sack_count = 0
        self.sack_sum = 0
        self.seen: list[list[int]] = []       # captured byte ranges (relative), disjoint


def overlaps(seen: list[list[int]], start: int, end: int) -> bool:
    """Whether [start, end) meets one of the disjoint sorted ranges ``seen``."""
    k = bisect_right(seen, [start, 1 << 62]) - 1
    if k >= 0 and seen[k][1] > start:
        return True
    return k + 1 < len(seen) and seen[k + 1][0] < end


def add_range(seen: list[list[int]], start: int, end: int) -> None:
    """Add [start, end) to the disjoint sorted ranges ``seen``, merging what touches."""
    k = bisect_right(seen, [start, 1 << 62]) - 1
    if k >= 0 and seen[k][1] >= start:
        start = seen[k][0]
    else:
        k += 1
    j = k
    while j < len(seen) and seen[j][0] <= end:
        end = max(end, seen[j][1])
        j += 1
    seen[k:j] = [[start, end]]


def analyze(inp: StreamInput, *, strict: bool = False,
            progress: Progress = ignore) -> StreamOutput:
    """Run the analysis over one stream (see the module docstring); ``progress(packets
    done, packets)`` every ``TICK`` packets (:mod:`core.progress`)."""
    n = len(inp.frame)
    progress(0, n)
    out = StreamOutput.empty(n)
    flows = (Flow(), Flow())          # flow1, flow2
    first_rtt = 0
    mru_syn = 0
    frame_l = inp.frame.tolist()
    time_l = inp.time_ns.tolist()
    f1_l = inp.flow1.tolist()
    seq_l = inp.seq.tolist()
    ack_l = inp.ack.tolist()
    flags_l = inp.flags.tolist()
    win_l = inp.window.tolist()
    len_l = inp.seglen.tolist()
    hasseg_l = inp.has_seg.tolist()
    bad_l = inp.bad_doff.tolist()
    ws_l = inp.wscale.tolist()
    sackn_l = inp.sack_count.tolist()
    sacks_l = inp.sack_sum.tolist()
    tfo_l = inp.tfo_cookie.tolist()
    cut_l = inp.options_cut.tolist()
    bits = [0] * n
    for i in range(n):
        if i and not i & TICK_MASK:
            progress(i, n)
        fwd, rev = (flows[0], flows[1]) if f1_l[i] else (flows[1], flows[0])
        frame, now, seq, ack = frame_l[i], time_l[i], seq_l[i], ack_l[i]
        flags, window, seglen = flags_l[i], win_l[i], len_l[i]
        ta = 0
        if i == 0 and inp.reused_first:
            ta |= A_REUSED_PORTS
        syn_ack = flags & (SYN | ACK)
        if syn_ack == SYN and fwd.base is not None and seq == fwd.base:
            fwd.nextseq = fwd.maxseqtobeacked
        if syn_ack == SYN | ACK and fwd.base is not None and seq != fwd.base:
            fwd.base = seq
            ta |= A_REUSED_PORTS
        fwd.sack_count = 0
        if hasseg_l[i]:
            if fwd.base is None:
                fwd.base = seq if flags & SYN else (seq - 1) & M
            if rev.base is None and flags & ACK:
                rev.base = (ack - 1) & M
            ta = _sequence(out, i, fwd, rev, frame, now, seq, ack, seglen, flags, window,
                           ta, first_rtt, strict)
        if bad_l[i]:
            bits[i] = 0
            continue
        if flags & SYN:
            if not flags & ACK:
                mru_syn = now
            fwd.is_first_ack = True
        if syn_ack == ACK:
            if mru_syn and not first_rtt:
                first_rtt = now - mru_syn
            fwd.is_first_ack = False
        if ws_l[i] >= 0:
            fwd.win_scale = ws_l[i]
        if sackn_l[i]:
            fwd.sack_count, fwd.sack_sum = sackn_l[i], sacks_l[i]
        if tfo_l[i] and syn_ack == SYN:
            ta |= A_TFO_SYN
        if cut_l[i]:
            out.clear(i)        # tshark's dissection stops inside the options
            continue
        if flags & SYN:
            _verify_window_scaling(bool(flags & ACK), fwd, rev)
        bits[i] = ta
    second_pass(inp, out, flows, bits)
    progress(n, n)
    return out


def _verify_window_scaling(is_synack: bool, fwd: Flow, rev: Flow) -> None:
    if fwd.win_scale == -1:
        fwd.win_scale = -2
        rev.win_scale = -2
    elif is_synack and rev.win_scale == -2:
        fwd.win_scale = -2


def _sequence(out: StreamOutput, i: int, fwd: Flow, rev: Flow, frame: int, now: int,
              seq: int, ack: int, seglen: int, flags: int, window: int, ta: int,
              first_rtt: int, strict: bool) -> int:
    """``tcp_analyze_sequence_number`` for packet ``i``; returns its analysis bits."""
    if flags & ACK:
        rev.valid_bif = 1
    skip_to_fwd_end = False
    if seglen == 1 and seq == fwd.nextseq and rev.window == 0:
        ta |= A_ZERO_WINDOW_PROBE
        skip_to_fwd_end = True
    if not skip_to_fwd_end:
        ta, skip_to_fwd_end = _fwd_checks(out, i, fwd, rev, seq, ack, seglen, flags,
                                          window, ta, strict)
    if ack != fwd.lastack:
        fwd.lastnondupack = frame
        fwd.dupacknum = 0
    if rev.maxseqtobeacked and gt(ack, rev.maxseqtobeacked) and flags & ACK:
        if lt(rev.maxseqtobeacked, rev.nextseq):
            rev.maxseqtobeacked = rev.nextseq
            ta |= A_ACK_LOST_PACKET
        else:
            if rev.dupacknum == 0:
                ta |= A_ACK_LOST_PACKET
            rev.dupacknum = -1
    if (seglen > 0 or flags & (SYN | FIN)) and not ta & A_KEEP_ALIVE:
        ta = _retransmission(out, i, fwd, rev, now, seq, seglen, flags, ta, first_rtt,
                             strict)
    nextseq = (seq + seglen) & M
    if (seglen or flags & (SYN | FIN)) and len(fwd.segments) < MAX_UNACKED:
        if flags & (SYN | FIN):
            nextseq = (nextseq + 1) & M
        fwd.segments.insert(0, [seq, nextseq, frame, now])
    zwp = ta & A_ZERO_WINDOW_PROBE
    if (gt(nextseq, fwd.nextseq) or not fwd.nextseq) and not zwp:
        fwd.nextseq, fwd.nextseqframe, fwd.nextseqtime = nextseq, frame, now
    if (seq == fwd.maxseqtobeacked or not fwd.maxseqtobeacked) and not zwp:
        fwd.maxseqtobeacked = fwd.nextseq
    if seglen and not strict and fwd.base is not None:
        start = (seq - fwd.base) & M
        add_range(fwd.seen, start, start + seglen)
    fwd.window = window
    fwd.lastack = ack
    fwd.lastacktime = now
    fwd.lastsegmentflags = ta
    _acked(out, i, fwd, rev, now, ack)
    _in_flight(out, i, fwd, rev, seglen, flags)
    return ta


def _fwd_checks(out: StreamOutput, i: int, fwd: Flow, rev: Flow, seq: int, ack: int,
                seglen: int, flags: int, window: int, ta: int,
                strict: bool) -> tuple[int, bool]:
    """Zero window, lost segment, keep-alive, window update/full, dup ACK checks."""
    sfr = flags & (SYN | FIN | RST)
    if window == 0 and not sfr:
        ta |= A_ZERO_WINDOW
    if fwd.nextseq and gt(seq, fwd.nextseq) and not flags & RST:
        ta |= A_LOST_PACKET
        fwd.valid_bif = 0
    if seglen <= 1 and seq == (fwd.nextseq - 1) & M and not sfr:
        if not strict and seglen == 0 and rev.window == 0:
            ta |= A_ZERO_WINDOW_PROBE          # Linux: seq = snd.una - 1, no data
            return ta, True
        ta |= A_KEEP_ALIVE
    same = seq == fwd.nextseq and ack == fwd.lastack and not sfr and seglen == 0
    if same and window and window != fwd.window:
        ta |= A_WINDOW_UPDATE
    if seglen > 0 and rev.win_scale != -1 and not sfr:
        shift = 0 if rev.is_first_ack or rev.win_scale == -2 else rev.win_scale
        if (seq + seglen) & M == (rev.lastack + ((rev.window << shift) & M)) & M:
            ta |= A_WINDOW_FULL
    if same and window and window == fwd.window and rev.lastsegmentflags & A_KEEP_ALIVE:
        return ta | A_KEEP_ALIVE_ACK, True
    if (same and window == 0 and window == fwd.window
            and rev.lastsegmentflags & A_ZERO_WINDOW_PROBE):
        return ta | A_ZERO_WINDOW_PROBE_ACK, True
    if same and window and window == fwd.window:
        fwd.dupacknum = 1 if fwd.dupacknum == -1 else fwd.dupacknum + 1
        ta |= A_DUPLICATE_ACK
        out.dup_num[i] = fwd.dupacknum
        out.dup_frame[i] = fwd.lastnondupack
    return ta, False


def _retransmission(out: StreamOutput, i: int, fwd: Flow, rev: Flow, now: int, seq: int,
                    seglen: int, flags: int, ta: int, first_rtt: int, strict: bool) -> int:
    not_advanced = bool(fwd.nextseq) and lt(seq, fwd.nextseq)
    if seglen > 1 and (fwd.nextseq - 1) & M == seq:
        not_advanced = False
    if seglen > 0 and rev.lastack and le(seq + seglen, rev.lastack):
        return ta | A_SPURIOUS_RETRANSMISSION
    t = now - rev.lastacktime
    if not_advanced and rev.dupacknum >= 2 and rev.lastack == seq and 0 <= t < 20_000_000:
        return ta | A_FAST_RETRANSMISSION
    t = now - fwd.nextseqtime
    thres = first_rtt if first_rtt else 3_000_000
    end = (seq + seglen + (1 if flags & (SYN | FIN) else 0)) & M
    if not_advanced and 0 <= t < thres and fwd.nextseq != end:
        if strict or fwd.base is None or not overlaps(
                fwd.seen, (seq - fwd.base) & M, ((seq - fwd.base) & M) + seglen):
            return ta | A_OUT_OF_ORDER
    if not_advanced:
        ta |= A_RETRANSMISSION
        rto_time, rto_frame = fwd.nextseqtime, fwd.nextseqframe
        if fwd.segments:
            rto_time, rto_frame = fwd.segments[-1][3], fwd.segments[-1][2]
        out.rto[i] = now - rto_time
        out.rto_frame[i] = rto_frame
    return ta


def _acked(out: StreamOutput, i: int, fwd: Flow, rev: Flow, now: int, ack: int) -> None:
    """Drop the reverse segments this ACK covers; note the oldest exact match."""
    keep = []
    for seg in rev.segments:
        if ack == seg[1]:
            out.acks_frame[i] = seg[2]
            out.ack_rtt[i] = now - seg[3]
            continue
        if gt(ack, seg[0]) and le(ack, seg[1]):
            seg[0] = ack
            keep.append(seg)
            continue
        if gt(seg[1], ack):
            keep.append(seg)
    rev.segments = keep


def _in_flight(out: StreamOutput, i: int, fwd: Flow, rev: Flow, seglen: int,
               flags: int) -> None:
    if not (seglen and fwd.segments and fwd.valid_bif):
        return
    base = fwd.base if fwd.base is not None else 0
    first = (fwd.segments[0][0] - base) & M
    last = (fwd.segments[0][1] - base) & M
    for seg in fwd.segments:
        last = max(last, (seg[1] - base) & M)
        first = min(first, (seg[0] - base) & M)
    flight = (last - first) & M
    if rev.sack_count:
        flight = (flight - rev.sack_sum) & M
    if 0 < flight < 2_000_000_000:
        out.bif[i] = flight - 1 if flags & (SYN | FIN) else flight


def second_pass(inp: StreamInput, out: StreamOutput, flows: tuple[Flow, Flow],
                 bits: list[int]) -> None:
    """tshark's second pass: relative numbers and windows from the final state."""
    base = [flows[0].base, flows[1].base]
    scale = (flows[0].win_scale, flows[1].win_scale)
    for i, (f1, seq, ack, flags, window, seglen, has_seg) in enumerate(zip(
            inp.flow1.tolist(), inp.seq.tolist(), inp.ack.tolist(), inp.flags.tolist(),
            inp.window.tolist(), inp.seglen.tolist(), inp.has_seg.tolist(), strict=True)):
        d, r = (0, 1) if f1 else (1, 0)
        if flags & (SYN | ACK) == SYN | ACK and base[d] is not None and seq != base[d]:
            base[d] = seq
        if not has_seg:
            out.rel_seq[i], out.rel_ack[i] = seq, ack if flags & ACK else -1
            out.next_seq[i], out.win[i] = -1, window
            continue
        rel = (seq - (base[d] or 0)) & M
        out.rel_seq[i] = rel
        out.rel_ack[i] = (ack - (base[r] or 0)) & M if flags & ACK else -1
        out.next_seq[i] = (rel + seglen + (1 if flags & (SYN | FIN) else 0)) & M
        shift = scale[d]
        out.win[i] = window << shift if shift >= 0 and not flags & SYN else window
        if flags & SYN and flags & ACK and out.rel_ack[i] > 1:
            bits[i] |= A_TFO_ACK
    out.bits[:] = bits
    out.win_scale = scale
