"""SynAck's verdict on hand-made captures: one test per rule of ``core.analysis.verdict``,
each with the case that must not fire beside it."""

from __future__ import annotations

import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from core.analysis import analyze_stream
from core.analysis.verdict import (
    VERDICT_LABELS,
    Fates,
    Verdict,
    _by_arrival,
    _by_dsack,
    _by_tsecr,
    _bytes,
    _echo_in_time,
    dsack_mask,
    is_dsack,
    judge,
    judge_stream,
    packets_of,
)
from core.capture import read_capture
from core.replay import replay_stream
from tests.analysis import verdict_captures as vc


def verdict_of(path: Path, fates: Fates | None = None) -> Verdict:
    index = read_capture(str(path))
    return judge_stream(index, analyze_stream(index, 0), fates)


def rules(v: Verdict, frame: int) -> list[str]:
    return [c.rule for c in v.changes.get(frame - 1, ())]


def test_simultaneous_open_syn_acks_are_answers_not_retransmissions(tmp_path: Path) -> None:
    v = verdict_of(vc.simultaneous_open(tmp_path))
    for frame in (3, 4):
        assert v.tshark[frame - 1] == ("retransmission",)
        assert v.labels[frame - 1] == ("simultaneous_open",)
        assert rules(v, frame) == ["simultaneous_open"]
        assert "frames 1 and 2" in v.changes[frame - 1][0].why or \
            "frames 2 and 1" in v.changes[frame - 1][0].why
    # the server's second SYN+ACK is a real retransmission, and the ACK of it a dup ACK
    assert v.labels[5] == ("retransmission",) and 5 not in v.changes
    assert v.labels[6] == ("duplicate_ack",) and 6 not in v.changes


def test_the_handshakes_last_ack_is_no_window_update(tmp_path: Path) -> None:
    v = verdict_of(vc.simultaneous_open(tmp_path))
    # frame 5 acknowledges the server's SYN+ACK; its window is compared with a SYN's
    assert v.tshark[4] == ("window_update",)
    assert v.labels[4] == ()
    change = v.changes[4][0]
    assert (change.rule, change.tshark, change.synack) == ("handshake_ack", ("window_update",),
                                                           ())
    assert "never scaled" in change.why


def test_a_window_update_that_is_not_the_handshakes_ack_stays(corpus: Path) -> None:
    # arcnet frame 17: the server's first ACK after its SYN+ACK acknowledges the client's
    # plain SYN (ack 1), not a SYN+ACK: the handshake's last ACK was frame 15, so tshark's
    # window update (14600 bytes in the SYN+ACK, 4 MiB now) stands
    index = read_capture(str(corpus / "public" / "arcnet-rfc1201-arp-icmp-http.pcap"))
    analysis = analyze_stream(index, 0)
    v = judge_stream(index, analysis)
    frames = index.packets["frame"][analysis.rows].tolist()
    k = frames.index(17)
    assert v.labels[k] == v.tshark[k] == ("window_update",)
    assert not v.changes


def test_a_re_ack_of_a_repeated_fin_is_fin_reack(tmp_path: Path) -> None:
    v = verdict_of(vc.fin_reack(tmp_path))
    assert v.tshark[8] == ("duplicate_ack",)
    assert v.labels[8] == ("fin_reack",)
    assert "Frame 8 repeated the FIN of frame 6" in v.changes[8][0].why
    assert v.labels[7] == ("retransmission",)          # the repeated FIN itself
    assert list(v.changes) == [8]


def test_no_fin_reack_when_the_fin_was_never_seen_acknowledged(tmp_path: Path) -> None:
    frames = [*vc.handshake(), vc.pkt(vc.C, 101, 901, vc.FIN | vc.ACK),
              vc.pkt(vc.S, 901, 102, vc.FIN | vc.ACK), vc.pkt(vc.S, 901, 102, vc.FIN | vc.ACK),
              vc.pkt(vc.C, 102, 902, vc.ACK)]
    # the server's FIN is repeated, but no ACK of it passed the capture point before:
    # the client's ACK may well be its first
    v = verdict_of(vc.write(tmp_path, "no_reack", frames))
    assert not v.changes


def test_dsack_proves_a_retransmission_spurious(tmp_path: Path) -> None:
    v = verdict_of(vc.dsack(tmp_path))
    assert v.tshark[6] == ("retransmission",)
    assert v.labels[6] == ("retransmission", "spurious_retransmission")
    change = v.changes[6][0]
    assert change.rule == "dsack"
    assert change.why.startswith("Frame 8 carries a D-SACK (RFC 2883) for exactly these "
                                 "bytes 101–201")


@pytest.mark.parametrize("block", [(101, 301), (151, 201), (301, 401)],
                         ids=["wider", "other bytes", "not a D-SACK"])
def test_dsack_must_cover_exactly_the_retransmitted_bytes(tmp_path: Path,
                                                          block: tuple[int, int]) -> None:
    v = verdict_of(vc.dsack(tmp_path, block=block))
    assert v.labels[6] == ("retransmission",) and not v.changes


def test_is_dsack_follows_rfc_2883() -> None:
    assert is_dsack(301, [(201, 301)])                       # below the ACK number
    assert is_dsack(101, [(301, 401), (201, 501)])           # inside the second block
    assert not is_dsack(101, [(301, 401), (501, 601)])       # an ordinary SACK
    assert not is_dsack(101, [(201, 301)])
    assert not is_dsack(101, [])
    assert is_dsack(5, [(2**32 - 10, 2**32 - 5)])            # across the wrap


def next_to_the_client(path: Path, one_way: float) -> Fates:
    """Fates of a capture next to the client, ``one_way`` seconds from the server: the
    client's segments arrive ``one_way`` after capture, the server's left that long
    before."""
    index = read_capture(str(path))
    p = index.packets
    t = (p["time_ns"] - p["time_ns"][0]) / 1e9
    from_client = p["sport"] == vc.C[1]
    return Fates(send=np.where(from_client, t, t - one_way),
                 arrive=np.where(from_client, t + one_way, t))


def test_tsecr_echo_sent_before_the_retransmission_could_arrive(tmp_path: Path) -> None:
    # the echo, captured 10 ms after the retransmission, left the server 50 ms before
    # that: before frame 5 could reach the server
    path = vc.tsecr(tmp_path)
    v = verdict_of(path, next_to_the_client(path, 0.050))
    assert v.tshark[4] == ("retransmission",)
    assert v.labels[4] == ("retransmission", "spurious_retransmission")
    assert v.changes[4][0].rule == "tsecr"
    assert "echoes TSecr 5001, the timestamp of frame 4 alone" in v.changes[4][0].why
    # 5 ms from the server, the echo may answer the retransmission: nothing proven
    assert not verdict_of(path, next_to_the_client(path, 0.005)).changes


def test_replay_segments_carry_the_verdict(tmp_path: Path) -> None:
    index = read_capture(str(vc.dsack(tmp_path)))
    replay = replay_stream(index, 0)
    assert replay.verdict.labels[6] == ("retransmission", "spurious_retransmission")
    assert [r.labels for r in replay.timeline.segments] == replay.verdict.labels
    assert replay.analysis.labels[6] == ("retransmission",)     # tshark's, kept


def test_tsecr_needs_time_and_a_unique_tsval(tmp_path: Path) -> None:
    # without fates, an echo captured after the retransmission proves nothing
    assert not verdict_of(vc.tsecr(tmp_path)).changes
    # an echo sent after the retransmission could have arrived proves nothing either
    late = vc.tsecr(tmp_path, echo_ms=400)
    assert not verdict_of(late, next_to_the_client(late, 0.050)).changes
    # with the original's TSval shared by another segment, the echo names neither
    index = read_capture(str(vc.tsecr(tmp_path)))
    analysis = analyze_stream(index, 0)
    packets = packets_of(index, analysis)
    packets.tsval[2] = packets.tsval[3]
    fates = Fates(send=np.array([0, .05, .1, .1, .15, .11]),
                  arrive=np.array([.05, .1, .15, .15, .2, .16]))
    assert not judge(packets, analysis.labels, fates).changes
    packets.tsval[2] = 5000
    assert judge(packets, analysis.labels, fates).changes[4][0].rule == "tsecr"


def test_arrival_fates_are_trusted_only_when_asked(tmp_path: Path) -> None:
    index = read_capture(str(vc.dsack(tmp_path, block=(301, 401))))
    analysis = analyze_stream(index, 0)
    n = len(analysis)
    arrive = np.arange(n, dtype=np.float64) + 0.5
    fates = Fates(send=np.arange(n, dtype=np.float64), arrive=arrive)
    assert not judge_stream(index, analysis, fates).changes
    v = judge_stream(index, analysis, fates, trust_arrivals=True)
    assert v.changes[6][0].rule == "arrival"
    assert v.labels[6] == ("retransmission", "spurious_retransmission")
    arrive[4] = np.nan                                   # the original was lost
    assert not judge_stream(index, analysis, fates, trust_arrivals=True).changes


def test_verdict_labels_keep_their_order_and_vocabulary(tmp_path: Path) -> None:
    for make in (vc.simultaneous_open, vc.fin_reack, vc.dsack):
        v = verdict_of(make(tmp_path))
        for labels in v.labels:
            assert list(labels) == sorted(labels, key=VERDICT_LABELS.index)


def test_fates_of_reads_none_as_unknown() -> None:
    f = Fates.of([0.0, 1.0], [None, 2.0])
    assert np.isnan(f.arrive[0]) and f.arrive[1] == 2.0 and f.send.tolist() == [0.0, 1.0]


def _earlier(pk: Any, sent: dict[tuple[bool, int], list[int]], k: int) -> list[int]:
    """Earlier transmissions of retransmission ``k``: same sender and seq, as long."""
    return [o for o in sent.get((bool(pk.from_a[k]), int(pk.seq[k])), [])
            if o < k and pk.length[o] >= pk.length[k]]


def _old_by_tsecr(pk: Any, sent: dict[tuple[bool, int], list[int]], resent: list[int],
                  fates: Fates | None, prove: Any) -> None:
    """``_by_tsecr`` before issue 11 (every pair of a retransmission and an earlier
    transmission: quadratic in the resends of one segment)."""
    has_ts = (pk.tsval >= 0) & ~pk.copy
    if not has_ts.any():
        return
    unique: dict[bool, set[int]] = {}
    for side in (True, False):
        vals, counts = np.unique(pk.tsval[has_ts & (pk.from_a == side)], return_counts=True)
        unique[side] = set(vals[counts == 1].tolist())
    wanted = {(k, o) for k in resent for o in _earlier(pk, sent, k)
              if int(pk.tsval[o]) in unique[bool(pk.from_a[k])]}
    if not wanted:
        return
    values = np.array(sorted({int(pk.tsval[o]) for _, o in wanted}), np.int64)
    echoes: dict[tuple[bool, int], list[int]] = {}   # (echoing side, TSecr) -> positions
    for e in np.flatnonzero(np.isin(pk.tsecr, values) & ~pk.copy).tolist():
        echoes.setdefault((bool(pk.from_a[e]), int(pk.tsecr[e])), []).append(e)
    for k, o in sorted(wanted):
        side = bool(pk.from_a[k])
        for e in echoes.get((not side, int(pk.tsval[o])), []):
            if e > o and _echo_in_time(e, k, fates):
                prove(k, "tsecr", (
                    f"Frame {int(pk.frame[e])} echoes TSecr {int(pk.tsval[o])}, the "
                    f"timestamp of frame {int(pk.frame[o])} alone, and was sent before "
                    f"this retransmission could arrive: frame {int(pk.frame[o])}'s "
                    f"{_bytes(pk, k)} had arrived, so this retransmission was not "
                    "needed."))
                break


def _old_by_arrival(pk: Any, sent: dict[tuple[bool, int], list[int]], resent: list[int],
                    fates: Fates, prove: Any) -> None:
    """``_by_arrival`` before issue 11 (quadratic in the resends of one segment)."""
    for k in resent:
        for o in _earlier(pk, sent, k):
            if float(fates.arrive[o]) == float(fates.arrive[o]):
                prove(k, "arrival", (
                    f"The earlier transmission in frame {int(pk.frame[o])} arrived "
                    f"(at {float(fates.arrive[o]):.6f} s), so this retransmission of its "
                    f"{_bytes(pk, k)} was not needed."))
                break


def _resends(rnd: random.Random, n: int) -> tuple[Any, dict[tuple[bool, int], list[int]],
                                                  list[int], Fates]:
    seqs = [rnd.choice((100, 200, 300, 4_294_967_000)) for _ in range(n)]
    pk = SimpleNamespace(
        from_a=np.array([rnd.random() < 0.5 for _ in range(n)]),
        seq=np.array(seqs, np.int64), rel_seq=np.array(seqs, np.int64),
        length=np.array([rnd.choice((0, 1, 50, 100, 100)) for _ in range(n)], np.int64),
        frame=np.arange(1, n + 1),
        tsval=np.array([rnd.choice((-1, rnd.randrange(8), rnd.randrange(1000)))
                        for _ in range(n)], np.int64),
        copy=np.array([rnd.random() < 0.1 for _ in range(n)]))
    pk.tsecr = np.array([rnd.choice((-1, rnd.randrange(8), int(pk.tsval[rnd.randrange(n)])))
                         for _ in range(n)], np.int64)
    arrive = np.array([np.nan if rnd.random() < 0.4 else i / 10 for i in range(n)])
    sent: dict[tuple[bool, int], list[int]] = {}
    for k in range(n):
        if pk.length[k]:
            sent.setdefault((bool(pk.from_a[k]), int(pk.seq[k])), []).append(k)
    resent = [k for k in range(n) if pk.length[k] and rnd.random() < 0.7]
    send = np.array([np.nan if rnd.random() < 0.2 else i / 10 - 0.35 for i in range(n)])
    return pk, sent, resent, Fates(send=send, arrive=arrive)


def _proofs(rule: Any, *args: Any) -> list[tuple[int, str, str]]:
    """What ``rule`` proves, given the arguments before ``prove`` (which, as
    ``_spurious``'s, keeps the first proof of each retransmission)."""
    out: list[tuple[int, str, str]] = []

    def prove(k: int, name: str, why: str) -> None:
        if all(k != o for o, _, _ in out):
            out.append((k, name, why))

    rule(*args, prove)
    return out


def test_arrival_rule_proves_what_the_former_scan_proved() -> None:
    rnd = random.Random(5)
    proofs = 0
    for _ in range(300):
        pk, sent, resent, fates = _resends(rnd, rnd.randrange(1, 60))
        new = _proofs(_by_arrival, pk, sent, resent, fates)
        old = _proofs(_old_by_arrival, pk, sent, resent, fates)
        assert new == old
        proofs += len(new)
    assert proofs > 300                      # the rule did fire


def test_tsecr_rule_proves_what_the_former_pairs_proved() -> None:
    rnd = random.Random(6)
    proofs = 0
    for case in range(600):
        pk, sent, resent, fates = _resends(rnd, rnd.randrange(1, 60))
        with_fates = fates if case % 2 else None
        new = _proofs(_by_tsecr, pk, sent, resent, with_fates)
        assert new == _proofs(_old_by_tsecr, pk, sent, resent, with_fates)
        proofs += len(new)
    assert proofs > 300


def test_a_segment_resent_thousands_of_times_is_judged_quickly() -> None:
    """Issue 11: every resend scanned all earlier ones (10,000 packets: 1.4 s)."""
    n = 40_000
    pk = SimpleNamespace(from_a=np.ones(n, bool), seq=np.full(n, 1, np.int64),
                         rel_seq=np.full(n, 1, np.int64), length=np.full(n, 100, np.int64),
                         frame=np.arange(1, n + 1))
    fates = Fates(send=np.zeros(n), arrive=np.full(n, np.nan))
    fates.arrive[n - 1] = 1.0                # only the last one arrived: nothing proven
    proven: list[int] = []
    start = time.perf_counter()
    _by_arrival(pk, {(True, 1): list(range(n))}, list(range(1, n)), fates,
                lambda k, rule, why: proven.append(k))
    assert time.perf_counter() - start < 2.0
    assert proven == []
    pk.tsval, pk.tsecr, pk.copy = np.arange(n), np.full(n, -1), np.zeros(n, bool)
    start = time.perf_counter()                # 1,000 resends took 5.5 s
    _by_tsecr(pk, {(True, 1): list(range(n))}, list(range(1, n)), None,
              lambda k, rule, why: proven.append(k))
    assert time.perf_counter() - start < 2.0
    assert proven == []


def _old_by_dsack(pk: Any, sent: dict[tuple[bool, int], list[int]], resent: list[int],
                  prove: Any) -> None:
    """``_by_dsack`` before issue 11 (a scan of the segment's transmissions per D-SACK)."""
    waiting = set(resent)
    for a in np.flatnonzero(dsack_mask(pk)).tolist():
        left, right = int(pk.sack_edges[a, 0, 0]), int(pk.sack_edges[a, 0, 1])
        side = bool(pk.from_a[a])
        match = [k for k in sent.get((not side, left), []) if k < a and k in waiting
                 and (left + int(pk.length[k])) & 0xFFFFFFFF == right]
        if not match:
            continue
        k = match[-1]
        waiting.remove(k)
        prove(k, "dsack", f"frame {int(pk.frame[a])}")


def test_dsack_rule_proves_what_the_former_scan_proved() -> None:
    rnd = random.Random(7)
    proofs = 0
    for _ in range(400):
        pk, sent, resent, _ = _resends(rnd, rnd.randrange(1, 60))
        n = len(pk.frame)
        pk.flags = np.full(n, 0x10, np.int64)
        pk.ack = np.full(n, 400, np.int64)
        pk.sack_blocks = np.array([rnd.choice((0, 1, 1, 2)) for _ in range(n)], np.int8)
        edges = np.zeros((n, 4, 2), np.int64)
        for i in range(n):
            left = rnd.choice((100, 200, 300))
            edges[i, 0] = (left, left + rnd.choice((50, 100, 100)))
            edges[i, 1] = (left - 100, left + 200)
        pk.sack_edges = edges
        new = [(k, rule) for k, rule, _ in _proofs(_by_dsack, pk, sent, resent)]
        old = [(k, rule) for k, rule, _ in _proofs(_old_by_dsack, pk, sent, resent)]
        assert new == old
        proofs += len(new)
    assert proofs > 100
