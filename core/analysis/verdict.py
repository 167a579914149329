"""SynAck's verdict: tshark's labels, corrected where its heuristics mislead.

    judge(packets, tshark, fates=None) -> Verdict
    judge_stream(index, analysis, fates=None) -> Verdict
    is_dsack(ack, blocks) -> bool

``core.analysis`` labels every packet in tshark's vocabulary, as tshark would. The verdict
is a layer on top: the same labels, except where one of these rules proves tshark's
reading wrong, and then a :class:`Change` says what tshark said, what SynAck says and why.

Rules (each applies to captured packets only; a copy of a packet seen at a second
capture point has no labels, as in the analysis):

1. ``simultaneous_open``: both sides sent a SYN without ACK; each side's first SYN+ACK
   whose seq is its own SYN's answers the peer's SYN (RFC 9293, figure 8). tshark sees the
   seq again and says ``retransmission``; it is not one (a second SYN+ACK still is).
2. ``handshake_ack``: the first segment a side sends after its SYN+ACK (or SYN) without
   data, FIN or RST is the handshake's last ACK. tshark compares its window with the
   SYN's, which is never scaled (RFC 7323), and may say ``window_update``; it is not one.
3. ``fin_reack``: an ACK answering a FIN that repeats a FIN the same side had already
   seen acknowledged (that ACK was lost or late) re-acknowledges the FIN, as TIME_WAIT
   (or any side past that FIN) must: tshark's ``duplicate_ack`` (waiting for bytes) is
   replaced by ``fin_reack``.
4. ``spurious_retransmission`` by D-SACK: a later ACK from the receiver whose first SACK
   block is a D-SACK (:func:`is_dsack`, RFC 2883) covering exactly the retransmitted
   bytes says they arrived twice: an earlier copy had arrived.
5. ``spurious_retransmission`` by TSecr: a packet from the receiver echoes (TSecr) the
   TSval of an earlier transmission of the same bytes, that TSval is unique among the
   sender's packets, and the echo was sent before the retransmission could have arrived
   (captured before it, or, with ``fates``, sent before its arrival time).
6. Optional (``trust_arrivals=True``): a retransmission whose earlier transmission arrived
   (per ``fates``, e.g. the replay's explanation or a simulation's truth) is spurious.

``window_full`` is no correction: the diagram only gives it its own mark.

Invariants:
- ``Verdict.labels[k]`` lists names of ``VERDICT_LABELS`` in that order; it equals
  ``tshark[k]`` unless ``Verdict.changes`` has an entry for ``k``.
- Pure Python and numpy; nothing here reads a file except ``judge_stream`` (the options).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np

from core.analysis.labels import LABELS
from core.analysis.options import OptionColumns, empty_columns, read_options
from core.analysis.result import StreamAnalysis
from core.capture.index import CaptureIndex, take_rows

Arr = np.ndarray[Any, np.dtype[Any]]

#: SynAck's own labels, after tshark's in the order labels are listed.
OWN_LABELS: tuple[str, ...] = ("simultaneous_open", "fin_reack")
VERDICT_LABELS: tuple[str, ...] = (*LABELS, *OWN_LABELS)
_ORDER = {name: n for n, name in enumerate(VERDICT_LABELS)}
RETRANSMISSIONS = frozenset({"retransmission", "fast_retransmission",
                             "spurious_retransmission"})
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
_M = 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class Packets:
    """One stream's packets in frame order, as the verdict reads them (raw numbers)."""

    frame: Arr        # int64
    from_a: Arr       # bool
    flags: Arr        # int64
    seq: Arr          # int64 raw
    ack: Arr          # int64 raw
    length: Arr       # int64 payload bytes
    rel_seq: Arr      # int64 (for sentences)
    copy: Arr         # bool: a second sighting (no labels)
    tsval: Arr        # int64, -1 absent
    tsecr: Arr        # int64, -1 absent
    sack_blocks: Arr  # int8
    sack_edges: Arr   # int64 (n, k, 2) raw edges

    def __len__(self) -> int:
        return int(self.frame.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class Fates:
    """Per packet (same order): when its segment was sent and arrived (nan: unknown;
    for ``arrive``, nan also means it never arrived)."""

    send: Arr         # float64
    arrive: Arr       # float64

    @staticmethod
    def of(send: Sequence[float | None], arrive: Sequence[float | None]) -> Fates:
        def col(values: Sequence[float | None]) -> Arr:
            return np.array([np.nan if v is None else v for v in values], np.float64)
        return Fates(send=col(send), arrive=col(arrive))


def replay_fates(keep: Arr, n: int, send: Arr, arrive: Arr) -> Fates:
    """Fates per packet from a replay's send/arrive times of its kept packets ``keep``
    (positions among ``n``); a copy gets nan (its original carries the times)."""
    out = Fates(send=np.full(n, np.nan), arrive=np.full(n, np.nan))
    out.send[keep] = send
    out.arrive[keep] = arrive
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """Where SynAck's verdict differs from tshark's labels for one packet."""

    rule: str                    # simultaneous_open, handshake_ack, fin_reack, dsack,
                                 # tsecr or arrival
    tshark: tuple[str, ...]      # the labels tshark gives that the rule replaces
    synack: tuple[str, ...]      # what SynAck says instead (may be empty)
    why: str                     # one sentence for a student


@dataclass(frozen=True, slots=True)
class Verdict:
    """SynAck's labels per packet and, where they differ from tshark's, why."""

    labels: list[tuple[str, ...]]
    tshark: list[tuple[str, ...]]
    changes: dict[int, tuple[Change, ...]]

    def __len__(self) -> int:
        return len(self.labels)


def is_dsack(ack: int, blocks: Sequence[tuple[int, int]]) -> bool:
    """RFC 2883: the first SACK block starts below the ACK number, or lies inside the
    second block (raw sequence numbers; the test Linux's tcp_check_dsack makes)."""
    if not blocks:
        return False
    left, right = blocks[0]
    if _before(left, ack):
        return True
    if len(blocks) > 1:
        l2, r2 = blocks[1]
        return not _before(left, l2) and not _before(r2, right)
    return False


def _before(a: int, b: int) -> bool:
    """``a`` comes before ``b`` in sequence space (mod 2**32)."""
    return 0 < ((b - a) & _M) < 0x80000000


def packets_of(index: CaptureIndex, analysis: StreamAnalysis, *,
               options: bool = True, read: OptionColumns | None = None) -> Packets:
    """The verdict's columns for the stream ``analysis`` describes (without ``options``,
    no TCP option is read: no timestamps, no SACK blocks; ``read``: the stream's option
    columns, already read)."""
    p = take_rows(index.packets, analysis.rows)
    opts = (read if read is not None and options else
            read_options(index, analysis.rows) if options
            else empty_columns(int(analysis.rows.shape[0])))
    return Packets(frame=p["frame"].astype(np.int64), from_a=np.asarray(analysis.from_a, bool),
                   flags=p["flags"].astype(np.int64), seq=p["seq"].astype(np.int64),
                   ack=p["ack"].astype(np.int64), length=p["payload_len"].astype(np.int64),
                   rel_seq=np.asarray(analysis.rel_seq, np.int64),
                   copy=np.asarray(analysis.duplicate_of) >= 0, tsval=opts.tsval,
                   tsecr=opts.tsecr, sack_blocks=opts.sack_blocks, sack_edges=opts.sack_edges)


def judge_stream(index: CaptureIndex, analysis: StreamAnalysis, fates: Fates | None = None,
                 *, trust_arrivals: bool = False,
                 options: OptionColumns | None = None,
                 check: Callable[[], None] | None = None) -> Verdict:
    """The verdict on one analysed stream of ``index`` (see the module rules). The
    options are read only when a retransmission needs them (``options``: already read);
    ``check()`` is called between the rules (it may raise ``Cancelled``)."""
    resent = any(labels and RETRANSMISSIONS.intersection(labels) for labels in analysis.labels)
    return judge(packets_of(index, analysis, options=resent, read=options), analysis.labels,
                 fates, trust_arrivals=trust_arrivals, check=check)


def judge(packets: Packets, tshark: Sequence[tuple[str, ...]], fates: Fates | None = None,
          *, trust_arrivals: bool = False,
          check: Callable[[], None] | None = None) -> Verdict:
    """SynAck's labels for ``packets`` given tshark's (see the module rules)."""
    n = len(packets)
    if len(tshark) != n:
        raise ValueError(f"{len(tshark)} label tuples for {n} packets")
    found: dict[int, list[Change]] = {}

    def add(k: int, change: Change) -> None:
        found.setdefault(k, []).append(change)

    told = check if check is not None else _nothing
    marked = [k for k, labels in enumerate(tshark) if labels]     # the few with labels
    _simultaneous_open(packets, tshark, add)
    _handshake_ack(packets, tshark, add, marked)
    told()
    _fin_reack(packets, tshark, add)
    told()
    _spurious(packets, tshark, fates, trust_arrivals, add, marked)
    told()
    labels = list(tshark)
    changes: dict[int, tuple[Change, ...]] = {}
    for k, items in sorted(found.items()):
        now = set(tshark[k])
        for c in items:
            now -= set(c.tshark)
            now |= set(c.synack)
        mine = tuple(sorted(now, key=_ORDER.__getitem__))
        if mine != tuple(tshark[k]):
            labels[k] = mine
            changes[k] = tuple(items)
    return Verdict(labels=labels, tshark=list(tshark), changes=changes)


def _nothing() -> None:
    """No check between the rules."""


# ----- the rules ------------------------------------------------------------------------
def _firsts(pk: Packets, mask: Arr) -> dict[bool, int]:
    """Per direction (``from_a``), the position of the first packet in ``mask``."""
    out: dict[bool, int] = {}
    for k in np.flatnonzero(mask & ~pk.copy).tolist():
        out.setdefault(bool(pk.from_a[k]), k)
    return out


def _simultaneous_open(pk: Packets, tshark: Sequence[tuple[str, ...]], add: Any) -> None:
    syn = _firsts(pk, (pk.flags & (SYN | ACK)) == SYN)
    if len(syn) < 2:
        return
    for side, s in syn.items():
        same = ((pk.flags & (SYN | ACK)) == SYN | ACK) & (pk.from_a == side) & (
            pk.seq == pk.seq[s])
        k = _firsts(pk, same).get(side)
        if k is None:
            continue
        theirs = tuple(x for x in tshark[k] if x in RETRANSMISSIONS)
        peer = syn[not side]
        add(k, Change(
            rule="simultaneous_open", tshark=theirs, synack=("simultaneous_open",),
            why=(f"Both sides sent a SYN (frames {int(pk.frame[s])} and "
                 f"{int(pk.frame[peer])}): in a simultaneous open each side answers the "
                 "other's SYN with a SYN+ACK that repeats its own SYN's sequence number "
                 "(RFC 9293, figure 8), so this SYN+ACK is an answer, not a "
                 "retransmission.")))


def _handshake_ack(pk: Packets, tshark: Sequence[tuple[str, ...]], add: Any,
                   marked: list[int]) -> None:
    cands = [k for k in marked if "window_update" in tshark[k]]
    if not cands:
        return
    synack = _firsts(pk, (pk.flags & (SYN | ACK)) == SYN | ACK)
    mine = {side: np.flatnonzero(~pk.copy & (pk.from_a == side)) for side in (True, False)}
    for k in cands:
        side = bool(pk.from_a[k])
        at = int(np.searchsorted(mine[side], k))
        prev = int(mine[side][at - 1]) if at else None
        flags = int(pk.flags[k])
        peer = synack.get(not side)
        if (prev is None or peer is None or pk.copy[k] or not int(pk.flags[prev]) & SYN
                or flags & (SYN | FIN | RST) or not flags & ACK or int(pk.length[k])
                or int(pk.ack[k]) != (int(pk.seq[peer]) + 1) & _M):
            continue
        add(k, Change(
            rule="handshake_ack", tshark=("window_update",), synack=(),
            why=(f"This ACK of the SYN+ACK in frame {int(pk.frame[peer])} completes the "
                 f"handshake. The window before it was its sender's SYN in frame "
                 f"{int(pk.frame[prev])}, whose window field is never scaled (RFC 7323), "
                 "so the number changes here only because scaling now applies: this "
                 "is the handshake's last ACK, not a window update.")))


def _fin_reack(pk: Packets, tshark: Sequence[tuple[str, ...]], add: Any) -> None:
    fin_end = (pk.seq + pk.length + ((pk.flags & SYN) != 0) + 1) & _M
    fins = np.flatnonzero(~pk.copy & ((pk.flags & (FIN | RST)) == FIN))
    keys = set(zip(pk.from_a[fins].tolist(), fin_end[fins].tolist(), strict=True))
    if len(keys) == fins.size:
        return                                       # no FIN was sent twice
    live = [k for k in np.flatnonzero(~pk.copy).tolist() if k >= int(fins[0])]
    first_fin: dict[tuple[bool, int], int] = {}      # (side, FIN end) -> first FIN frame pos
    acked: set[tuple[bool, int]] = set()             # FINs seen acknowledged by the peer
    pending: dict[bool, tuple[int, int, int]] = {}   # ACKer side -> (end, repeat pos, first)
    for k in live:
        side, flags = bool(pk.from_a[k]), int(pk.flags[k])
        if flags & ACK and not flags & (SYN | RST):
            ack = int(pk.ack[k])
            wait = pending.get(side)
            if (wait is not None and ack == wait[0] and not int(pk.length[k])
                    and not flags & FIN):
                del pending[side]
                end, repeat, orig = wait
                theirs = tuple(x for x in tshark[k] if x == "duplicate_ack")
                add(k, Change(
                    rule="fin_reack", tshark=theirs, synack=("fin_reack",),
                    why=(f"Frame {int(pk.frame[repeat])} repeated the FIN of frame "
                         f"{int(pk.frame[orig])}, which had already been acknowledged (that "
                         "ACK was lost or late): this ACK acknowledges the FIN again, as a "
                         "side past that FIN (in TIME_WAIT, say) must; it is not waiting for "
                         "missing bytes.")))
            for (fin_side, end), _ in first_fin.items():
                if fin_side != side and not _before(ack, end):
                    acked.add((fin_side, end))
        if flags & FIN and not flags & RST:
            key = (side, int(fin_end[k]))
            if key not in first_fin:
                first_fin[key] = k
            elif key in acked:
                pending[not side] = (key[1], k, first_fin[key])


def _spurious(pk: Packets, tshark: Sequence[tuple[str, ...]], fates: Fates | None,
              trust_arrivals: bool, add: Any, marked: list[int]) -> None:
    labelled = [k for k in marked if RETRANSMISSIONS.intersection(tshark[k])
                and "spurious_retransmission" not in tshark[k]]
    resent = [k for k in labelled if not pk.copy[k] and int(pk.length[k])]
    if not resent:
        return
    proven: set[int] = set()

    def prove(k: int, rule: str, why: str) -> None:
        if k in proven:
            return
        proven.add(k)
        add(k, Change(rule=rule, tshark=(), synack=("spurious_retransmission",), why=why))

    # (side, raw seq) -> positions of the data segments at the retransmissions' seqs
    sent: dict[tuple[bool, int], list[int]] = {}
    seqs = np.unique(pk.seq[resent])
    for k in np.flatnonzero(~pk.copy & (pk.length > 0) & np.isin(pk.seq, seqs)).tolist():
        sent.setdefault((bool(pk.from_a[k]), int(pk.seq[k])), []).append(k)
    _by_dsack(pk, sent, resent, prove)
    _by_tsecr(pk, sent, resent, fates, prove)
    if trust_arrivals and fates is not None:
        _by_arrival(pk, sent, resent, fates, prove)


def _bytes(pk: Packets, k: int) -> str:
    start = int(pk.rel_seq[k])
    return f"bytes {start}–{start + int(pk.length[k])}"


def dsack_mask(pk: Packets) -> Arr:
    """Per packet: an ACK whose first SACK block is a D-SACK (:func:`is_dsack`, vectorised)."""
    e = pk.sack_edges
    if e.shape[1] < 2:
        return np.zeros(len(pk), bool)
    left, right, l2, r2 = e[:, 0, 0], e[:, 0, 1], e[:, 1, 0], e[:, 1, 1]

    def before(a: Arr, b: Arr) -> Arr:
        d = (b - a) & _M
        return np.asarray((d > 0) & (d < 0x80000000))
    inside = (pk.sack_blocks > 1) & ~before(left, l2) & ~before(r2, right)
    return np.asarray((pk.sack_blocks > 0) & ~pk.copy & ((pk.flags & ACK) != 0)
                      & (before(left, pk.ack) | inside))


def _by_dsack(pk: Packets, sent: dict[tuple[bool, int], list[int]], resent: list[int],
              prove: Any) -> None:
    """Each D-SACK proves the latest retransmission before it of exactly its octets, once
    (per (sender, left, right) a sorted pool of the retransmissions still unproven: a
    segment resent r times and D-SACKed d times cost r x d before)."""
    waiting = set(resent)
    pools: dict[tuple[bool, int, int], list[int]] = {}
    for (side, left), rows in sent.items():
        for k in rows:
            if k in waiting:
                pools.setdefault((side, left, (left + int(pk.length[k])) & _M), []).append(k)
    for pool in pools.values():
        pool.sort()
    for a in np.flatnonzero(dsack_mask(pk)).tolist():
        left, right = int(pk.sack_edges[a, 0, 0]), int(pk.sack_edges[a, 0, 1])
        found = pools.get((not bool(pk.from_a[a]), left, right))
        if not found:
            continue
        at = bisect_left(found, a) - 1
        if at < 0:
            continue
        k = found.pop(at)
        prove(k, "dsack", (
            f"Frame {int(pk.frame[a])} carries a D-SACK (RFC 2883) for exactly these "
            f"{_bytes(pk, k)}: the receiver got them twice, so an earlier copy had arrived "
            "and this retransmission was not needed."))


def _by_tsecr(pk: Packets, sent: dict[tuple[bool, int], list[int]], resent: list[int],
              fates: Fates | None, prove: Any) -> None:
    has_ts = (pk.tsval >= 0) & ~pk.copy
    if not has_ts.any():
        return
    unique: dict[bool, set[int]] = {}
    for side in (True, False):
        vals, counts = np.unique(pk.tsval[has_ts & (pk.from_a == side)], return_counts=True)
        unique[side] = set(vals[counts == 1].tolist())
    # per (sender, seq) of a retransmission: its transmissions with a unique TSval, then
    # only those echoed after they were sent (pairing every retransmission with every
    # earlier transmission first was quadratic in the resends of one segment)
    tsval = pk.tsval
    useful = {key: [o for o in sent.get(key, []) if int(tsval[o]) in unique[key[0]]]
              for key in dict.fromkeys((bool(pk.from_a[k]), int(pk.seq[k])) for k in resent)}
    values = np.array(sorted({int(tsval[o]) for rows in useful.values() for o in rows}),
                      np.int64)
    if not values.size:
        return
    echoes: dict[tuple[bool, int], list[int]] = {}   # (echoing side, TSecr) -> positions
    for e in np.flatnonzero(np.isin(pk.tsecr, values) & ~pk.copy).tolist():
        echoes.setdefault((bool(pk.from_a[e]), int(pk.tsecr[e])), []).append(e)
    for (side, seq), rows in useful.items():
        useful[side, seq] = [o for o in rows
                             if echoes.get((not side, int(tsval[o])), [-1])[-1] > o]
    for k in resent:
        side = bool(pk.from_a[k])
        need = int(pk.length[k])
        for o in useful[side, int(pk.seq[k])]:       # earlier first
            if o >= k:
                break
            if int(pk.length[o]) < need:
                continue
            e = next((e for e in echoes[not side, int(tsval[o])]
                      if e > o and _echo_in_time(e, k, fates)), -1)
            if e >= 0:
                prove(k, "tsecr", (
                    f"Frame {int(pk.frame[e])} echoes TSecr {int(tsval[o])}, the "
                    f"timestamp of frame {int(pk.frame[o])} alone, and was sent before "
                    f"this retransmission could arrive: frame {int(pk.frame[o])}'s "
                    f"{_bytes(pk, k)} had arrived, so this retransmission was not "
                    "needed."))
                break


def _echo_in_time(e: int, k: int, fates: Fates | None) -> bool:
    """Was echo ``e`` sent before retransmission ``k`` could arrive? Proven when ``e``
    passed the capture point before ``k`` did; with fates, by their times."""
    if e < k:
        return True
    if fates is None:
        return False
    sent, arrived = float(fates.send[e]), float(fates.arrive[k])
    if sent != sent:
        return False
    return arrived != arrived or sent < arrived


def _by_arrival(pk: Packets, sent: dict[tuple[bool, int], list[int]], resent: list[int],
                fates: Fates, prove: Any) -> None:
    """A retransmission's first earlier transmission (same sender and seq, at least as
    long) that arrived proves it.
    Per (sender, seq), the transmissions that arrived and their running longest length:
    the first as long as ``k`` is a bisection away (a segment resent thousands of times
    made the scan of every earlier transmission quadratic)."""
    arrived = fates.arrive == fates.arrive          # not nan
    firsts: dict[tuple[bool, int], tuple[list[int], list[int]]] = {}
    for k in resent:
        key = (bool(pk.from_a[k]), int(pk.seq[k]))
        if key not in firsts:
            rows = [o for o in sent.get(key, []) if arrived[o]]
            firsts[key] = (rows, list(accumulate((int(pk.length[o]) for o in rows), max)))
        rows, longest = firsts[key]
        i = bisect_left(longest, int(pk.length[k]))
        if i < len(rows) and rows[i] < k:
            o = rows[i]
            prove(k, "arrival", (
                f"The earlier transmission in frame {int(pk.frame[o])} arrived "
                f"(at {float(fates.arrive[o]):.6f} s), so this retransmission of its "
                f"{_bytes(pk, k)} was not needed."))
