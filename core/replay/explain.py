"""The explanation of a capture: fates that satisfy the state machine, found by repair.

    explain(walk, send, arrive, proofs, flight) -> Explanation

:mod:`core.replay.timing` gives every captured segment a first fate (arrived at a time,
or lost) from the delays and the evidence. :mod:`core.replay.infer` walks both state
machines over those fates and stops at the first send its sender's state forbids (a
``Conflict``, rule 7 there). Such a send proves a fate wrong, and the repair is the
smallest change that removes it:

1. **Too far.** The sender was moved on by an arrival (``culprit``) that cannot have
   come before this send: the arrival came later, when a flight that long is plausible
   (at most ``PLAUSIBLE`` times the estimated one-way delay, plus ``SLACK``), otherwise
   the culprit was lost. A culprit the capture proves arrived before the send
   (:mod:`core.replay.evidence`) is not moved: the conflict stays, tolerated.
1b. **An RST ignored in TIME_WAIT.** When the culprit is an RST that ended the
   sender's TIME_WAIT and the capture shows it arrived (made next to that side, or
   proved), the side ignores RSTs in TIME_WAIT (RFC 1337): it stays in TIME_WAIT, for
   this RST and any later one.
2. **Missing SYN.** A SYN+ACK from SYN_SENT: the peer's SYN (the last one sent before
   it) arrived before it was sent. Likewise an ACK from SYN_SENT: the peer's last
   captured SYN+ACK before it arrived (without one, the walk infers an uncaptured one).
2a. **Unanswered probe.** A TCP ACKs a keep-alive or zero-window probe (a segment of at
   most one octet starting one below what its sender had sent) at once. A probe the
   walk lets arrive at a synchronized side that then sends nothing for ``limit`` (or
   until the prober's next segment, which it would not have sent so had an answer
   come) was lost, unless the capture proves it arrived, or the side sent something in the
   ``ANSWER_RATE`` before it: replies to out-of-window segments are rate-limited (RFC
   5961 section 7; Linux's tcp_invalid_ratelimit, 500 ms), so silence proves nothing.
2b. **Unanswered SYN.** A SYN that reaches a TCP is answered at once (SYN+ACK, RST, or
   an ACK). A SYN the walk lets arrive, after which the receiver sends nothing for
   ``limit``, was dropped: lost on the way, or by the listener itself (a full accept
   queue), which leaves the listener in LISTEN. Unless its sender moved on (its next
   segment is not that SYN again): then an answer came that the capture missed.
2c. **A prompted ACK.** A side in TIME_WAIT sends only in answer to an arrival (the
   peer's FIN again, or any segment: RFC 9293 3.10.7.4). A pure ACK it sends with no
   arrival at it in the ``limit`` before answers a segment of the peer's that this very
   ACK proves arrived (a D-SACK, a timestamp echo): that segment was held up in the
   network and arrived just before the ACK. When the ACK names no segment at all, the one
   segment of the peer's (data, SYN or FIN) drawn lost is that segment: anything that reaches a side
   passed an on-path capture point. With two or more candidates nothing is moved.
3. Every repair is recorded (``Explanation.repairs``) with the reason, and the walk runs
   again; after ``MAX_REPAIRS`` the rest are tolerated and counted as anomalies. A
   conflict that no repair removes is tolerated: the walk goes on through it.
Ranking: a later arrival (no loss) is preferred over a loss, and a loss only replaces
an arrival the capture does not prove, so the explanation keeps the fewest losses the
evidence allows.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.replay.conflict import (
    ELIMINATED,
    MISSING_SYN,
    MISSING_SYN_ACK,
    PROMPTED,
    TOO_FAR,
    UNANSWERED,
    Conflict,
)
from core.replay.sides import Inference
from core.replay.timing import LATE, LATE_SLACK
from core.tcp.states import Side, TcpState
from core.trace import StateChanged

SYN, ACK, RST, FIN = 0x02, 0x10, 0x04, 0x01
Arr = np.ndarray[Any, np.dtype[Any]]
MAX_REPAIRS = 64
#: A flight may be PLAUSIBLE times the estimated one-way delay plus SLACK (seconds:
#: jitter and queueing on a quiet path); core.replay.timing holds the figures
PLAUSIBLE, SLACK = LATE, LATE_SLACK
#: Replies to out-of-window segments (probes) are at most one per this long.
ANSWER_RATE = 0.5
#: How much later than the send it must follow an arrival is placed.
EPSILON = 1e-6

Walk = Callable[[list[float | None], frozenset[int]], Inference]


@dataclass(frozen=True, slots=True, kw_only=True)
class Repair:
    """One fate changed to satisfy the state machine."""

    segment: int
    fate: str                 # "lost", "arrived later", "arrived"
    because: Conflict

    def describe(self) -> str:
        return (f"segment {self.segment} {self.fate}: otherwise "
                f"{self.because.reason} (segment {self.because.segment})")


@dataclass(slots=True)
class Explanation:
    inference: Inference
    arrive: list[float | None]
    repairs: list[Repair] = field(default_factory=list)


def explain(walk: Walk, send: Sequence[float], arrive: Sequence[float | None],
            proved_by: Sequence[int], flags: Sequence[int], from_client: Sequence[bool],
            flight: float, seq_line: Sequence[int] = (),
            end_line: Sequence[int] = (), copies: Sequence[int] = (),
            dsack: Sequence[bool] = (), seen_arriving: Sequence[bool] = (),
            rfc1337: set[Side] | None = None,
            arrays: SegmentArrays | None = None) -> Explanation:
    """Module rules 1-3; ``walk(arrive, tolerate)`` runs :func:`core.replay.infer.infer`
    stopping at conflicts, ``flight`` is the estimated one-way delay, ``copies`` are
    delayed copies of earlier segments (their sender's state then allowed them), ``dsack``
    tells which segments carry a D-SACK block, ``seen_arriving`` which the capture shows
    reaching their receiver (it was made next to it); ``rfc1337`` collects the sides
    rule 1b finds ignoring RSTs in TIME_WAIT (the caller's ``walk`` reads it);
    ``arrays``: the same columns as arrays, when the caller has them."""
    fates = list(arrive)
    tolerate: set[int] = set(copies)
    repairs: list[Repair] = []
    limit = max(PLAUSIBLE * flight, flight + SLACK)
    cols = arrays or SegmentArrays.of(send, from_client, flags, seq_line, end_line, proved_by)
    probes = _probes(cols)
    syns = np.flatnonzero((cols.flags & (SYN | ACK | RST)) == SYN).tolist()
    answers = SendTimes(send, from_client)
    following = next_of_sender(cols.from_client)
    for _ in range(MAX_REPAIRS):
        inference = walk(fates, frozenset(tolerate))
        conflict = inference.conflict
        if conflict is None:
            lost = (_unanswered(probes, fates, send, from_client, proved_by, inference, limit,
                                answers, following)
                    or _unanswered_syn(syns, fates, send, from_client, proved_by, flags,
                                       limit, answers, following))
            if lost is None:
                held = _prompted(fates, cols, inference, limit, dsack)
                if held is None:
                    return Explanation(inference, fates, repairs)
                j, k, proven = held
                fates[j] = max(send[j], send[k] - EPSILON)
                repairs.append(Repair(segment=j, fate="arrived later", because=Conflict(
                    segment=k, side=Side.CLIENT if from_client[k] else Side.SERVER,
                    state=TcpState.TIME_WAIT, kind=PROMPTED if proven else ELIMINATED,
                    culprit=j,
                    reason=(f"{'client' if from_client[k] else 'server'} sends an ACK from "
                            f"TIME_WAIT with nothing arriving to prompt it"))))
                continue
            k, reason = lost
            fates[k] = None
            repairs.append(Repair(segment=k, fate="lost", because=Conflict(
                segment=k, side=Side.SERVER if from_client[k] else Side.CLIENT,
                state=TcpState.ESTABLISHED, kind=UNANSWERED, culprit=k, reason=reason)))
            continue
        if (rfc1337 is not None and conflict.side not in rfc1337
                and _ignored_reset(conflict, inference, flags, proved_by, seen_arriving)):
            rfc1337.add(conflict.side)
            assert conflict.culprit is not None
            repairs.append(Repair(segment=conflict.culprit, fate="ignored (RFC 1337)",
                                  because=conflict))
            continue
        repair = _repair(conflict, fates, send, proved_by, flags, from_client, limit)
        if repair is None:
            tolerate.add(conflict.segment)
        else:
            repairs.append(repair)
    inference = walk(fates, frozenset(range(len(fates))))
    return Explanation(inference, fates, repairs)


@dataclass(frozen=True, slots=True)
class SegmentArrays:
    """The segments' columns as arrays (send times, senders, flags, sequence lines,
    proofs), made once per explanation."""

    send: Arr
    from_client: Arr
    flags: Arr
    seq_line: Arr
    end_line: Arr
    proved_by: Arr

    @classmethod
    def of(cls, send: Sequence[float] | Arr, from_client: Sequence[bool] | Arr,
           flags: Sequence[int] | Arr, seq_line: Sequence[int] | Arr,
           end_line: Sequence[int] | Arr, proved_by: Sequence[int] | Arr) -> SegmentArrays:
        return cls(send=np.asarray(send, dtype=np.float64),
                   from_client=np.asarray(from_client, dtype=bool),
                   flags=np.asarray(flags, dtype=np.int64),
                   seq_line=np.asarray(seq_line, dtype=np.int64),
                   end_line=np.asarray(end_line, dtype=np.int64),
                   proved_by=np.asarray(proved_by, dtype=np.int64))


def _probes(cols: SegmentArrays) -> list[int]:
    """Rule 2a's probes: at most one octet, starting one below its sender's highest."""
    if not cols.flags.size:
        return []
    fl, mine, start, end = cols.flags, cols.from_client, cols.seq_line, cols.end_line
    small = ((fl & (SYN | FIN | RST)) == 0) & (end - start <= 1)
    out = np.zeros(fl.size, bool)
    for side in (True, False):
        pos = np.flatnonzero(mine == side)
        if pos.size < 2:
            continue
        high = np.maximum.accumulate(end[pos])
        before = np.empty(pos.size, np.int64)
        before[0] = np.iinfo(np.int64).min
        before[1:] = high[:-1]
        out[pos] = small[pos] & (start[pos] == before - 1)
    return np.flatnonzero(out).tolist()


class SendTimes:
    """Each side's send times, sorted, made on first use (most streams never ask)."""

    def __init__(self, send: Sequence[float], from_client: Sequence[bool]) -> None:
        self._send, self._from_client = send, from_client
        self._by: dict[bool, list[float]] | None = None

    def of(self, client: bool) -> list[float]:
        """The send times of the client's segments (``client``) or the server's."""
        if self._by is None:
            t = np.asarray(self._send, dtype=np.float64)
            mine = np.asarray(self._from_client, dtype=bool)
            self._by = {True: np.sort(t[mine]).tolist(), False: np.sort(t[~mine]).tolist()}
        return self._by[client]

    def to(self, from_client: bool) -> list[float]:
        """The send times of the side that answers segments sent by ``from_client``."""
        return self.of(not from_client)

    def between(self, client: bool, start: float, stop: float) -> bool:
        """That side sent something after ``start`` and before ``stop``."""
        at = self.of(client)
        pos = bisect.bisect_right(at, start)
        return pos < len(at) and at[pos] < stop


def next_of_sender(from_client: Sequence[bool] | Arr) -> list[int]:
    """Per segment, the next segment of the same sender (capture order), or -1."""
    mine = np.asarray(from_client, dtype=bool)
    out = np.full(mine.size, -1, np.int64)
    for side in (True, False):
        pos = np.flatnonzero(mine == side)
        out[pos[:-1]] = pos[1:]
    return out.tolist()


def _unanswered(probes: list[int], fates: list[float | None], send: Sequence[float],
                from_client: Sequence[bool], proved_by: Sequence[int],
                inference: Inference, limit: float, answers: SendTimes,
                following: list[int]) -> tuple[int, str] | None:
    """The first probe rule 2a says was lost, and why; None when every one is fine."""
    for k in probes:
        arrived = fates[k]
        if arrived is None or proved_by[k] >= 0:
            continue
        state = inference.server_after[k] if from_client[k] else inference.client_after[k]
        if not state.synchronized or state is TcpState.SYN_RECEIVED:
            continue
        times = answers.to(from_client[k])
        # an answer leaves after the probe did (the delays are estimates: not
        # necessarily after its estimated arrival) and within ``limit`` of its arrival
        pos = bisect.bisect_right(times, send[k])
        # the prober's next segment: an answer before it would have been seen by then
        later = send[following[k]] if following[k] >= 0 else arrived
        deadline = max(arrived + limit, later)
        if pos < len(times) and times[pos] <= deadline:
            continue
        if pos > 0 and times[pos - 1] >= arrived - ANSWER_RATE:
            continue                           # rate-limited: no answer due yet
        receiver = "server" if from_client[k] else "client"
        return k, f"the {receiver} never answered this probe, as a TCP that got it would"
    return None


def _unanswered_syn(syns: list[int], fates: list[float | None], send: Sequence[float],
                    from_client: Sequence[bool], proved_by: Sequence[int], flags: Sequence[int],
                    limit: float, answers: SendTimes,
                    following: list[int]) -> tuple[int, str] | None:
    """Rule 2b: the first SYN that arrived and that nothing answered."""
    for k in syns:
        arrived = fates[k]
        if arrived is None or proved_by[k] >= 0:
            continue
        after = following[k]
        if after >= 0 and flags[after] & (SYN | ACK | RST) != SYN:
            continue          # its sender moved on: an answer came, uncaptured
        times = answers.to(from_client[k])
        # at the SYN's receiver the answer may be stamped in the same microsecond
        pos = bisect.bisect_left(times, send[k])
        if pos < len(times) and times[pos] <= arrived + limit:
            continue
        receiver = "server" if from_client[k] else "client"
        return k, (f"nothing answered this SYN: the {receiver} dropped it (a full accept "
                   f"queue) or it was lost on the way")
    return None


def _prompted(fates: list[float | None], cols: SegmentArrays, inference: Inference, limit: float,
              dsack: Sequence[bool] = ()) -> tuple[int, int, bool] | None:
    """Rule 2c: (the peer segment that arrived, the ACK it prompted, whether the ACK proves
    it), or None. Only the pure ACKs sent while their sender was in TIME_WAIT are looked
    at."""
    spans: list[tuple[bool, float, float]] = []
    opened: dict[Side, float] = {}
    for ev in inference.sparse:
        if isinstance(ev, StateChanged):
            if ev.new is TcpState.TIME_WAIT:
                opened[ev.side] = ev.time
            elif ev.old is TcpState.TIME_WAIT and ev.side in opened:
                spans.append((ev.side is Side.CLIENT, opened.pop(ev.side), ev.time))
    spans += [(side is Side.CLIENT, t, float("inf")) for side, t in opened.items()]
    if not spans or not cols.seq_line.size:
        return None
    t, fc, fl, proof = cols.send, cols.from_client, cols.flags, cols.proved_by
    pure = ((fl & (SYN | FIN | RST)) == 0) & ((fl & ACK) != 0) & (
        cols.end_line == cols.seq_line)
    arrived = np.array(fates, dtype=np.float64)          # None -> nan
    rst = (fl & RST) != 0
    needs = ((fl & (SYN | FIN)) != 0) | (cols.end_line > cols.seq_line)
    for client, t_in, t_out in spans:
        for k in np.flatnonzero(pure & (fc == client) & (t >= t_in) & (t < t_out)).tolist():
            peer = fc != client
            window = peer & (arrived >= t[k] - limit) & (arrived <= t[k])
            if window.any():
                continue
            named = np.flatnonzero(peer & (proof == k) & ~(arrived >= t[k] - limit))
            if named.size:
                return int(named[-1]), k, True
            # no proof names one: every segment that reaches a side passed an on-path
            # capture point, so the only peer segment drawn lost that needed an answer
            # is the one (one fewer loss); two or more leave it undecided
            unheard = np.flatnonzero(peer & np.isnan(arrived) & (t < t[k]) & ~rst & needs)
            names = (peer & (proof == k)).any() or (len(dsack) > k and dsack[k])
            if unheard.size == 1 and not names:
                return int(unheard[0]), k, False
    return None


def _ignored_reset(c: Conflict, inference: Inference, flags: Sequence[int],
                   proved_by: Sequence[int], seen_arriving: Sequence[bool]) -> bool:
    """Rule 1b: the conflict's culprit is an RST that ended TIME_WAIT, and the capture
    shows it arrived."""
    j = c.culprit
    if j is None or c.state is not TcpState.CLOSED or not flags[j] & RST:
        return False
    if proved_by[j] < 0 and not (j < len(seen_arriving) and seen_arriving[j]):
        return False
    return any(isinstance(ev, StateChanged) and ev.segment == j
               and ev.old is TcpState.TIME_WAIT and ev.new is TcpState.CLOSED
               for ev in inference.sparse)


def _repair(c: Conflict, fates: list[float | None], send: Sequence[float],
            proved_by: Sequence[int], flags: Sequence[int], from_client: Sequence[bool],
            limit: float) -> Repair | None:
    k = c.segment
    if c.kind == TOO_FAR and c.culprit is not None:
        j = c.culprit
        proof = proved_by[j]
        if proof >= 0 and send[proof] <= send[k]:
            return None
        later = send[k] + EPSILON
        if later - send[j] <= limit and (proof < 0 or later <= send[proof]):
            fates[j] = later
            return Repair(segment=j, fate="arrived later", because=c)
        if proof >= 0:
            return None
        fates[j] = None
        return Repair(segment=j, fate="lost", because=c)
    if c.kind == MISSING_SYN or c.kind == MISSING_SYN_ACK:
        sender_is_client = from_client[k]
        wanted = SYN if c.kind == MISSING_SYN else SYN | ACK
        for i in range(k - 1, -1, -1):
            if (from_client[i] != sender_is_client and flags[i] & (SYN | ACK | RST) == wanted
                    and send[i] < send[k]):
                arrived = fates[i]
                if arrived is not None and arrived < send[k]:
                    return None
                fates[i] = max(send[i], min(send[k] - EPSILON, send[i] + limit))
                return Repair(segment=i, fate="arrived", because=c)
    return None
