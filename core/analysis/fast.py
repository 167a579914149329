"""The analysis of ``core.analysis.reference``, fast: same results, one pass, no list walks.

Wireshark walks every unacked segment of a direction for each packet (to drop what an
ACK covers and to sum bytes in flight). Here each direction keeps:

- a heap by next sequence number: an ACK pops exactly the segments it covers, and the
  popped ones with ``nextseq == ack`` are its exact matches (the oldest is reported);
- the trimmed start of the oldest unacked byte without trimming anything: after an ACK
  ``a`` every remaining segment starting below ``a`` starts at ``a``, so the lowest start
  is ``max(a, lowest start among the segments present then)``, or the lowest start of a
  segment sent since, whichever is lower;
- the highest next sequence number since the list was last empty (an ACK that drops the
  segment holding it drops every segment);
- a queue in send order for the RTO reference (the oldest unacked segment).

Invariants:
- Results equal ``reference.analyze`` exactly (tests/analysis compares them on the corpus
  and on generated streams). Sequence numbers inside the structures are relative to the
  direction's base and must stay below 2**31; an ACK outside that range is applied by a
  literal walk, as Wireshark does it.
- Streams outside the fast path's assumptions -- a SYN-ACK that moves a base, segments
  more than 2**31 from the base -- are handed to the reference whole.
"""

from __future__ import annotations

import numpy as np

from core.analysis import reference
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
from core.analysis.unacked import Unacked
from core.progress import TICK_MASK, Progress, ignore

M = 0xFFFFFFFF
H = 0x80000000
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
MAX_UNACKED = reference.MAX_UNACKED


class Fallback(Exception):
    """The stream leaves the fast path's assumptions: use the reference."""


def analyze(inp: StreamInput, *, strict: bool = False,
            progress: Progress = ignore) -> StreamOutput:
    """Same as ``reference.analyze`` (see the module docstring); ``progress(packets
    done, packets)`` every ``TICK`` packets (:mod:`core.progress`; the reference's
    packets, should it take over, count from where the fast path stopped)."""
    reached = 0

    def tell(done: int, total: int) -> None:
        nonlocal reached
        reached = max(reached, done)
        progress(reached, total)
    try:
        return _run(inp, strict, tell)
    except Fallback:
        return reference.analyze(inp, strict=strict, progress=tell)


def run_fast_only(inp: StreamInput, *, strict: bool = False) -> StreamOutput:
    """The fast path without the fallback (raises when the stream needs the reference)."""
    return _run(inp, strict, ignore)


def _run(inp: StreamInput, strict: bool,  # noqa: C901 - one loop on purpose
         progress: Progress) -> StreamOutput:
    n = len(inp)
    progress(0, n)
    out = StreamOutput.empty(n)
    bits = [0] * n
    dup_num = out.dup_num
    dup_frame = out.dup_frame
    acks_frame_o = out.acks_frame
    ack_rtt_o = out.ack_rtt
    bif_o = out.bif
    rto_o = out.rto
    rto_frame_o = out.rto_frame
    base: list[int | None] = [None, None]
    win_scale = [-1, -1]
    window_ = [M, M]
    first_ack = [False, False]
    valid_bif = [1, 1]
    nextseq_ = [0, 0]
    nextseqframe = [0, 0]
    nextseqtime = [0, 0]
    mstba = [0, 0]
    lastack_ = [0, 0]
    lastacktime = [0, 0]
    lastnondup = [0, 0]
    dupacks = [0, 0]
    lastflags = [0, 0]
    sack_n = [0, 0]
    sack_s = [0, 0]
    lists = (Unacked(), Unacked())
    seen: list[list[list[int]]] = [[], []]
    first_rtt = 0
    mru_syn = 0
    # the end of dissect_tcp has work only for these packets (see below)
    special = (inp.bad_doff | ((inp.flags & SYN) != 0) | (inp.wscale >= 0)
               | (inp.sack_count != 0) | inp.tfo_cookie | inp.options_cut)
    bad_l, ws_l, sackn_l, sacks_l, tfo_l, cut_l = (
        inp.bad_doff.tolist(), inp.wscale.tolist(), inp.sack_count.tolist(),
        inp.sack_sum.tolist(), inp.tfo_cookie.tolist(), inp.options_cut.tolist())
    cols = zip(inp.flow1.tolist(), inp.frame.tolist(), inp.time_ns.tolist(),
               inp.seq.tolist(), inp.ack.tolist(), inp.flags.tolist(), inp.window.tolist(),
               inp.seglen.tolist(), inp.has_seg.tolist(), special.tolist(), strict=True)
    i = -1
    for f1, frame, now, seq, ack, flags, window, seglen, has_seg, rare in cols:
        i += 1
        if not i & TICK_MASK:
            progress(i, n)
        d, r = (0, 1) if f1 else (1, 0)
        ta = A_REUSED_PORTS if i == 0 and inp.reused_first else 0
        syn_ack = flags & 0x12
        if syn_ack == SYN and base[d] is not None and seq == base[d]:
            nextseq_[d] = mstba[d]
        if syn_ack == 0x12 and base[d] is not None and seq != base[d]:
            raise Fallback
        sack_n[d] = 0
        if has_seg:
            if base[d] is None:
                base[d] = seq if flags & SYN else (seq - 1) & M
            if base[r] is None and flags & ACK:
                base[r] = (ack - 1) & M
            # ---- tcp_analyze_sequence_number -------------------------------------
            if flags & ACK:
                valid_bif[r] = 1
            fnext = nextseq_[d]
            flast = lastack_[d]
            rwin = window_[r]
            sfr = flags & 0x07
            goto_end = False
            if seglen == 1 and seq == fnext and rwin == 0:
                ta |= A_ZERO_WINDOW_PROBE
                goto_end = True
            else:
                if window == 0 and not sfr:
                    ta |= A_ZERO_WINDOW
                if fnext and 0 < ((seq - fnext) & M) < H and not flags & RST:
                    ta |= A_LOST_PACKET
                    valid_bif[d] = 0
                if seglen <= 1 and seq == (fnext - 1) & M and not sfr:
                    if not strict and seglen == 0 and rwin == 0:
                        ta |= A_ZERO_WINDOW_PROBE
                        goto_end = True
                    else:
                        ta |= A_KEEP_ALIVE
                if not goto_end:
                    same = seglen == 0 and seq == fnext and ack == flast and not sfr
                    if same and window and window != window_[d]:
                        ta |= A_WINDOW_UPDATE
                    rscale = win_scale[r]
                    if seglen > 0 and rscale != -1 and not sfr:
                        shift = 0 if first_ack[r] or rscale == -2 else rscale
                        if (seq + seglen) & M == (lastack_[r] + ((rwin << shift) & M)) & M:
                            ta |= A_WINDOW_FULL
                    if same:
                        if window and window == window_[d] and lastflags[r] & A_KEEP_ALIVE:
                            ta |= A_KEEP_ALIVE_ACK
                        elif (window == 0 and window_[d] == 0
                              and lastflags[r] & A_ZERO_WINDOW_PROBE):
                            ta |= A_ZERO_WINDOW_PROBE_ACK
                        elif window and window == window_[d]:
                            k = dupacks[d]
                            k = dupacks[d] = 1 if k == -1 else k + 1
                            ta |= A_DUPLICATE_ACK
                            dup_num[i] = k
                            dup_frame[i] = lastnondup[d]
            if ack != flast:
                lastnondup[d] = frame
                dupacks[d] = 0
            rm = mstba[r]
            if rm and flags & ACK and 0 < ((ack - rm) & M) < H:
                rn = nextseq_[r]
                if ((rm - rn) & M) >= H:          # LT_SEQ(rm, rn)
                    mstba[r] = rn
                    ta |= A_ACK_LOST_PACKET
                else:
                    if dupacks[r] == 0:
                        ta |= A_ACK_LOST_PACKET
                    dupacks[r] = -1
            fl = lists[d]
            if (seglen > 0 or flags & 0x03) and not ta & A_KEEP_ALIVE:
                not_adv = bool(fnext) and ((seq - fnext) & M) >= H
                if seglen > 1 and (fnext - 1) & M == seq:
                    not_adv = False
                rlast = lastack_[r]
                over = (seq + seglen - rlast) & M
                if seglen > 0 and rlast and (over == 0 or over >= H):
                    ta |= A_SPURIOUS_RETRANSMISSION
                elif (not_adv and dupacks[r] >= 2 and rlast == seq
                      and 0 <= now - lastacktime[r] < 20_000_000):
                    ta |= A_FAST_RETRANSMISSION
                elif (not_adv and 0 <= now - nextseqtime[d] < (first_rtt or 3_000_000)
                      and fnext != (seq + seglen + (1 if flags & 0x03 else 0)) & M
                      and (strict or not _seen_before(seen[d], (seq - base[d]) & M,
                                                       ((seq - base[d]) & M) + seglen))):
                    ta |= A_OUT_OF_ORDER
                elif not_adv:
                    ta |= A_RETRANSMISSION
                    tail = fl.oldest()
                    if tail is None:
                        rto_o[i] = now - nextseqtime[d]
                        rto_frame_o[i] = nextseqframe[d]
                    else:
                        rto_o[i] = now - tail[1]
                        rto_frame_o[i] = tail[0]
            nxt = (seq + seglen) & M
            if (seglen or flags & 0x03) and fl.count < MAX_UNACKED:
                if flags & 0x03:
                    nxt = (nxt + 1) & M
                b = base[d] or 0
                srel, nrel = (seq - b) & M, (nxt - b) & M
                if srel >= H or nrel >= H:
                    raise Fallback
                fl.add(srel, nrel, frame, now)
            zwp = ta & A_ZERO_WINDOW_PROBE
            if not zwp:
                if not fnext or 0 < ((nxt - fnext) & M) < H:
                    nextseq_[d] = nxt
                    nextseqframe[d] = frame
                    nextseqtime[d] = now
                if seq == mstba[d] or not mstba[d]:
                    mstba[d] = nextseq_[d]
            if seglen and not strict:
                # _mark_seen, its usual case inline: the data continues the last range
                ranges = seen[d]
                start = (seq - (base[d] or 0)) & M
                last = ranges[-1] if ranges else None
                if last is not None and last[0] <= start <= last[1]:
                    if start + seglen > last[1]:
                        last[1] = start + seglen
                else:
                    reference.add_range(ranges, start, start + seglen)
            window_[d] = window
            lastack_[d] = ack
            lastacktime[d] = now
            lastflags[d] = ta
            rl = lists[r]
            if rl.count:
                rb = base[r] or 0
                match = rl.ack((ack - rb) & M)
                if match is not None:
                    acks_frame_o[i] = match[0]
                    ack_rtt_o[i] = now - match[1]
            if seglen and fl.count and valid_bif[d]:
                flight = (fl.last_next - fl.first_seq()) & M
                if sack_n[r]:
                    flight = (flight - sack_s[r]) & M
                if 0 < flight < 2_000_000_000:
                    bif_o[i] = flight - 1 if flags & 0x03 else flight
        # ---- the rest of dissect_tcp ------------------------------------------
        if not rare:                # not bad, no SYN, no window scale, SACK, TFO or cut
            if syn_ack == ACK:
                if mru_syn and not first_rtt:
                    first_rtt = now - mru_syn
                first_ack[d] = False
            if ta:
                bits[i] = ta
            continue
        if bad_l[i]:
            continue
        if flags & SYN:
            if not flags & ACK:
                mru_syn = now
            first_ack[d] = True
        if syn_ack == ACK:
            if mru_syn and not first_rtt:
                first_rtt = now - mru_syn
            first_ack[d] = False
        if ws_l[i] >= 0:
            win_scale[d] = ws_l[i]
        if sackn_l[i]:
            sack_n[d], sack_s[d] = sackn_l[i], sacks_l[i]
        if tfo_l[i] and syn_ack == SYN:
            ta |= A_TFO_SYN
        if cut_l[i]:
            out.clear(i)
            continue
        if flags & SYN:
            if win_scale[d] == -1:
                win_scale[d] = win_scale[r] = -2
            elif flags & ACK and win_scale[r] == -2:
                win_scale[d] = -2
        bits[i] = ta
    _second_pass(inp, out, base, win_scale, bits)
    progress(n, n)
    return out


def _second_pass(inp: StreamInput, out: StreamOutput, base: list[int | None],
                 win_scale: list[int], bits: list[int]) -> None:
    """``reference.second_pass`` with numpy (unless a SYN-ACK moves a base there)."""
    f1, seq, flags = inp.flow1, inp.seq, inp.flags
    b0, b1 = base[0] or 0, base[1] or 0
    bd = np.where(f1, b0, b1)
    synack = (flags & 0x12) == 0x12
    if synack.any():
        known = np.where(f1, base[0] is not None, base[1] is not None)
        if bool((synack & known & (seq != bd)).any()):
            flows = (reference.Flow(), reference.Flow())
            for k in (0, 1):
                flows[k].base, flows[k].win_scale = base[k], win_scale[k]
            reference.second_pass(inp, out, flows, bits)
            return
    has = inp.has_seg
    ackf = (flags & ACK) != 0
    rel = (seq - bd) & M
    rel_ack = np.where(ackf, (inp.ack - np.where(f1, b1, b0)) & M, -1)
    shift = np.where(f1, win_scale[0], win_scale[1])
    scaled = np.where((shift >= 0) & ((flags & SYN) == 0),
                      inp.window << np.maximum(shift, 0), inp.window)
    synfin = ((flags & 0x03) != 0).astype(np.int64)
    out.rel_seq[:] = np.where(has, rel, seq)
    out.rel_ack[:] = np.where(has, rel_ack, np.where(ackf, inp.ack, -1))
    out.next_seq[:] = np.where(has, (rel + inp.seglen + synfin) & M, -1)
    out.win[:] = np.where(has, scaled, inp.window)
    b = np.array(bits, np.int64)
    b[has & synack & (rel_ack > 1)] |= A_TFO_ACK
    out.bits[:] = b
    out.win_scale = (win_scale[0], win_scale[1])


def _seen_before(seen: list[list[int]], start: int, end: int) -> bool:
    return reference.overlaps(seen, start, end)


def _mark_seen(seen: list[list[int]], start: int, length: int) -> None:
    if seen:
        last = seen[-1]
        if last[0] <= start <= last[1]:
            if start + length > last[1]:
                last[1] = start + length
            return
    reference.add_range(seen, start, start + length)
