"""What a capture cannot decide: the other explanations that fit the same packets.

    find_doubts(c, fates, walk, ...) -> list[Uncertainty]

The Timeline shows the best explanation (:mod:`core.replay.explain`). Where another one
satisfies the same constraints with as few losses, it is kept as an
:class:`core.trace.Uncertainty` with both readings in words and the other reading's
state sequences:

1a. **An RST in TIME_WAIT.** It ends TIME_WAIT (RFC 793; Linux by default), unless the
   side follows RFC 1337 and ignores it: no packet tells which, and both readings keep
   the same losses, so both are said (at any capture point).
1. **An RST nobody answers.** An RST that arrived closes its receiver, which never
   answers it. When the capture is not next to the receiver and shows nothing the
   receiver sent after it, the RST may as well have been lost (the receiver then stays
   where it was): one loss against none, but nothing in the capture tells, and the two
   readings differ in a state, so both are said.
2. **The segment or its ACK.** A segment resent before any ACK covered it is shown lost.
   When the capture is not next to its receiver, has no proof either way (timestamps,
   SACK: :mod:`core.replay.evidence`) and shows nothing the receiver sent between the
   first copy's arrival and the resend, the first copy may have arrived and the
   receiver's ACK been lost before the capture point: one loss either way.
2a. **An unanswered probe or SYN.** A keep-alive or zero-window probe, a SYN, or a
   second SYN+ACK, that nothing answered is shown lost (:mod:`core.replay.explain`
   rules 2a, 2b, 2d). When the
   capture is not next to its receiver, it may as well have arrived and the answer been
   lost before the capture point: one loss either way.
2b. **The ACK before the FIN.** A pure ACK that took its receiver from FIN_WAIT_1 to
   FIN_WAIT_2, when its sender's next segment is a FIN acknowledging as much that
   arrived (or copies shown lost, then such a FIN): had the ACK been lost (not next to
   its receiver), the FIN would have done the same, and FIN_WAIT_1 gone straight to
   TIME_WAIT. No loss is seen either way
   (a pure ACK is not resent), so both are said.
2c. **When an uncaptured FIN left.** A side's FIN the capture missed (its later
   segments are numbered after it) and which ACKs the peer's FIN: it left after that
   FIN arrived, carrying its ACK (CLOSE_WAIT -> LAST_ACK, shown), or before (a
   simultaneous close: FIN_WAIT_1 -> CLOSING) (:func:`closed_early`).
2d. **Which held-up segment.** A pure ACK from TIME_WAIT answers an arrival; when it
   names none (no D-SACK, no timestamp echo), the one peer segment shown lost is drawn
   arriving just before it (:mod:`core.replay.explain` rule 2c), but another peer
   segment held up in the network would explain it as well, with that one lost.
2e. **A second SYN+ACK nobody answered.** A SYN+ACK that reaches a side already
   synchronized (an earlier copy finished its handshake) is answered with an ACK at once
   (a duplicate or challenge ACK, RFC 5961 section 4, at most one per ``ANSWER_RATE``).
   When the capture shows fewer such ACKs than were due and is not next to the
   receiver, the copy arrived and the ACK was lost before the capture point (shown:
   nothing is moved), or the copy was lost: one loss either way. Not in a simultaneous
   open, where a SYN+ACK reaching SYN_RECEIVED needs no ACK.
2f. **close() in SYN_RECEIVED.** A FIN sent the instant (``AT_ONCE``) the handshake's
   last ACK arrived may come from a close() called earlier, in SYN_RECEIVED: the side
   entered FIN_WAIT_1 then and held its FIN until the handshake completed (BSD's
   TF_NEEDFIN). Both readings are said, at any capture point.
2g. **A listener, or a simultaneous open?** A side shown passive (LISTEN, then
   SYN_RECEIVED on the peer's SYN) that answers from an ephemeral port (``EPHEMERAL``
   and up: Linux's ip_local_port_range starts there, IANA's at 49152), as a connecting
   side's port is, may have been opening too: its own SYN lost before the capture point
   (not next to it, where that SYN would be seen), the peer's SYN reaching it in
   SYN_SENT. The capture looks the same (RFC 9293 3.5, figure 7); both are said.
2h. **Crossing SYNs.** A side that sends a SYN+ACK after its own SYN got the peer's
   SYN; its own SYN is shown arriving (the peer's SYN+ACK to it not captured,
   :mod:`core.replay.timing` rule 3) unless the peer ACKed that SYN+ACK at once. When
   the capture is not next to the peer and proves nothing, the SYN may as well have
   been lost, the peer going from SYN_SENT to ESTABLISHED on the SYN+ACK, its ACK of it
   lost before the capture point: one loss either way, so both are said.
2i. **A SYN sent again after one that arrived.** When the capture proves the first SYN
   arrived (a timestamp echo), the listener resends its SYN+ACK on its own timer, so
   whether a resent SYN also arrived (shown, when an ACK covers it) is not told by what
   follows: its fate is left open.
3. **A forgotten connection.** An RST without ACK from a synchronized side answers from
   a TCP without the connection (a restarted host): it was CLOSED, or LISTEN if the
   service listens again; when it forgot the connection, the capture does not show.
A capture on loopback (both ends on one host), or one made at both ends, is next to both
sides: a segment it shows arriving was handed to its receiver, so rules 1 and 2 do not
apply there.
At most ``MAX_WALKS`` other readings are walked for their states (each is a walk of the
whole stream); further doubts are still reported, without the state sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.replay.doubt_facts import (
    ACK,
    FIN,
    RST,
    SYN,
    Other,
    Stream,
    name,
    near_side,
    states_of,
    what,
)
from core.replay.explain import SendTimes
from core.replay.opening_doubts import opening_doubts
from core.replay.sides import Inference
from core.tcp.states import Side, TcpState, Trigger
from core.trace import StateChanged, Uncertainty

MAX_WALKS = 16

Walk = Callable[[list[float | None], frozenset[int]], Inference]


def find_doubts(s: Stream, fates: list[float | None], inference: Inference,
                initial: tuple[TcpState, TcpState], walk: Walk,
                repaired: set[int], unanswered: Sequence[int] = (),
                eliminated: Sequence[tuple[int, int]] = ()) -> list[Uncertainty]:
    """Module rules 1-3 for one explained stream; ``repaired`` are the segments a repair
    made lost, ``unanswered`` those of them lost for want of an answer (rule 2a),
    ``eliminated`` the (segment, TIME_WAIT ACK) a repair made prompt it with no proof
    (rule 2d)."""
    n = len(fates)
    out: list[Uncertainty] = []
    walks = [0]
    shown = {side: states_of(inference, initial, side) for side in Side}

    def other(changed: dict[int, float | None]) -> tuple[tuple[Side, tuple[TcpState, ...]],
                                                         ...]:
        if walks[0] >= MAX_WALKS:
            return ()
        walks[0] += 1
        alt = list(fates)
        for k, v in changed.items():
            alt[k] = v
        result = walk(alt, frozenset(range(n)))
        diff = []
        for side in Side:
            theirs = states_of(result, initial, side)
            if shown[side] != theirs:
                diff.append((side, theirs))
        return tuple(diff)

    near = {side: near_side(s, side) for side in Side}
    assassins = {ev.segment: ev for ev in inference.sparse if isinstance(ev, StateChanged)
                 and ev.old is TcpState.TIME_WAIT and ev.new is TcpState.CLOSED
                 and ev.trigger is Trigger.RCV_RST and ev.segment is not None}
    for k, ev in assassins.items():                            # rule 1a
        # RFC 1337 ignores every RST in TIME_WAIT: this one and any later one of the peer
        alt = other({j: None for j in range(k, n) if s.flags[j] & RST
                     and s.from_client[j] == s.from_client[k]})
        if alt:
            out.append(Uncertainty(
                time=ev.time, side=ev.side, segments=(k,),
                text=(f"either this RST ended the {name(ev.side)}'s TIME_WAIT (shown: RFC "
                      f"793, and Linux by default), or the {name(ev.side)} ignores RSTs in "
                      f"TIME_WAIT (RFC 1337) and waits out its 2MSL: the capture looks the "
                      f"same"),
                alternative=alt))
    for j, k in eliminated:                                    # rule 2d
        sender = Side.CLIENT if s.from_client[j] else Side.SERVER
        alt = other({j: None})
        out.append(Uncertainty(
            time=s.send[k], side=sender.peer if alt else None, segments=(j,),
            text=(f"either this {what(s.flags[j])} was held up in the network and "
                  f"prompted the {name(sender.peer)}'s ACK from TIME_WAIT (shown: one "
                  f"loss fewer), or it was lost and another {name(sender)} segment, held "
                  f"up, did: the ACK does not name the segment it answers"),
            alternative=alt, alternative_lost=(j,)))
    rsts = [k for k, f in enumerate(s.flags) if f & RST and fates[k] is not None
            and k not in assassins
            and not near[Side.SERVER if s.from_client[k] else Side.CLIENT]]
    resent = [k for k, fate in enumerate(fates) if fate is None and k not in repaired
              and s.end_line[k] > s.seq_line[k] and s.proved_by[k] < 0
              and not near[Side.SERVER if s.from_client[k] else Side.CLIENT]]
    silent = [k for k in unanswered if fates[k] is None and s.proved_by[k] < 0
              and not near[Side.SERVER if s.from_client[k] else Side.CLIENT]]
    out += _ack_before_fin(s, fates, inference, near, other)
    out += opening_doubts(s, fates, inference, initial, near, other)
    if not rsts and not resent and not silent:
        return out + _forgotten(s, inference, initial)
    times = SendTimes(s.send, s.from_client)

    def sent_between(side: Side, start: float, stop: float) -> bool:
        return times.between(side is Side.CLIENT, start, stop)

    for k in rsts:                                             # rule 1
        receiver = Side.SERVER if s.from_client[k] else Side.CLIENT
        arrived = fates[k]
        assert arrived is not None
        if sent_between(receiver, arrived, float("inf")):
            continue
        alt = other({k: None})
        if alt:
            state = dict(alt)[receiver][-1].value if receiver in dict(alt) else "open"
            out.append(Uncertainty(
                time=arrived, side=receiver, segments=(k,),
                text=(f"either the {name(receiver)} received this RST and closed "
                      f"(shown), or the RST was lost and the {name(receiver)} stayed "
                      f"{state}: the capture shows nothing the {name(receiver)} sent "
                      f"afterwards"),
                alternative=alt, alternative_lost=(k,)))
    starts: dict[tuple[bool, int], list[int]] = {}
    if resent:
        wanted = {(s.from_client[k], s.seq_line[k]) for k in resent}
        for k in range(n):
            key = (s.from_client[k], s.seq_line[k])
            if key in wanted:
                starts.setdefault(key, []).append(k)
    flight = s.delta_client + s.delta_server
    for k in resent:                                           # rule 2
        sender = Side.CLIENT if s.from_client[k] else Side.SERVER
        receiver = sender.peer
        again = next((j for j in starts[(s.from_client[k], s.seq_line[k])] if j > k), None)
        if again is None:
            continue
        start = s.send[k] + 0.5 * flight
        stop = fates[again]
        if stop is None:
            stop = s.send[again] + flight
        if sent_between(receiver, start, stop):
            continue                       # the receiver spoke and did not ACK it
        thing = what(s.flags[k])
        alt = other({k: s.send[k] + flight})
        hint = "" if s.timestamps else " (the capture has no timestamps to tell)"
        syn = s.flags[k] & (SYN | ACK) == SYN
        answer = "answer (SYN+ACK, or RST)" if syn else "ACK of it"
        # a listener that got the first SYN resends its SYN+ACK on its own timer, so
        # whether the resent SYN arrived too is not told by what follows
        undecided = syn and fates[again] is not None and s.proved_by[again] < 0
        tail = (f"; the resent {thing} then arrived or was lost, the capture looks the same"
                if undecided else "")
        out.append(Uncertainty(
            time=s.send[k], side=receiver, segments=(k, again),
            text=(f"either this {thing} was lost (shown), or it arrived and the "
                  f"{name(receiver)}'s {answer} was lost before the capture point: "
                  f"nothing the {name(receiver)} sent in between was captured{hint}{tail}"),
            alternative=alt,
            # the other reading changes this copy only: a resend shown lost stays lost
            alternative_lost=(again,) if fates[again] is None else (),
            alternative_open=(again,) if undecided else ()))
    for k in silent:                                           # rule 2a
        receiver = Side.SERVER if s.from_client[k] else Side.CLIENT
        thing = what(s.flags[k]) if s.flags[k] & SYN else "probe"
        answer = "answer (SYN+ACK, or RST)" if thing == "SYN" else "ACK"
        out.append(Uncertainty(
            time=s.send[k], side=receiver, segments=(k,),
            text=(f"either this {thing} was lost (shown), or it arrived and the "
                  f"{name(receiver)}'s {answer} was lost before the capture point: "
                  f"no answer was captured"),
            alternative=other({k: s.send[k] + flight})))
    out += _forgotten(s, inference, initial)
    out.sort(key=lambda u: u.time)
    return out


def _ack_before_fin(s: Stream, fates: list[float | None], inference: Inference,
                    near: dict[Side, bool],
                    other: Other
                    ) -> list[Uncertainty]:
    """Rule 2b."""
    out = []
    for ev in inference.sparse:
        if not (isinstance(ev, StateChanged) and ev.old is TcpState.FIN_WAIT_1
                and ev.new is TcpState.FIN_WAIT_2 and ev.segment is not None):
            continue
        k = ev.segment
        if (s.flags[k] & (SYN | FIN | RST) or s.end_line[k] > s.seq_line[k]
                or fates[k] is None or near[ev.side]):
            continue
        j = None            # the sender's next segment, past copies of it shown lost
        for m in range(k + 1, len(fates)):
            if s.from_client[m] != s.from_client[k]:
                continue
            if not s.flags[m] & FIN or s.ack_line[m] != s.ack_line[k]:
                break
            if fates[m] is not None:
                j = m
                break
        if j is None:
            continue
        alt = other({k: None})
        if alt:
            out.append(Uncertainty(
                time=ev.time, side=ev.side, segments=(k,),
                text=(f"either this ACK reached the {name(ev.side)} (FIN_WAIT_2 until the "
                      f"FIN, shown), or it was lost and the FIN that follows it carried the "
                      f"same acknowledgment (FIN_WAIT_1 straight to TIME_WAIT): a lost ACK "
                      f"is not resent, so the capture looks the same"),
                alternative=alt, alternative_lost=(k,)))
    return out


def closed_early(inference: Inference, other: Inference,
                 initial: tuple[TcpState, TcpState], early: dict[int, int],
                 from_client: Sequence[bool]) -> list[Uncertainty]:
    """Rule 2c: ``other`` is the walk with the uncaptured FINs sent before the peer's FIN
    arrived (``early``: the peer FIN's segment -> the segment that reveals the FIN)."""
    out = []
    for revealing in early.values():
        side = Side.CLIENT if from_client[revealing] else Side.SERVER
        mine, theirs = states_of(inference, initial, side), states_of(other, initial, side)
        if mine == theirs:
            continue
        peer = side.peer
        time = next((ev.time for ev in other.sparse if isinstance(ev, StateChanged)
                     and ev.side is side and ev.new is TcpState.FIN_WAIT_1), 0.0)
        out.append(Uncertainty(
            time=time, side=side, segments=(revealing,),
            text=(f"the {name(side)}'s FIN was not captured (this segment is numbered "
                  f"after it): either it left after the {name(peer)}'s FIN arrived, "
                  f"carrying its ACK (CLOSE_WAIT, LAST_ACK: shown), or before (a "
                  f"simultaneous close: FIN_WAIT_1, CLOSING)"),
            alternative=((side, theirs),)))
    return out


def _forgotten(s: Stream, inference: Inference,
               initial: tuple[TcpState, TcpState]) -> list[Uncertainty]:
    """Rule 3."""
    out = []
    for k in inference.forgotten:
        side = Side.CLIENT if s.from_client[k] else Side.SERVER
        mine = states_of(inference, initial, side)
        out.append(Uncertainty(
            time=s.send[k], side=side, segments=(k,),
            text=(f"the {name(side)} had lost the connection before this RST (it answers "
                  f"without ACK, from a TCP that no longer knows it: after a restart): "
                  f"either it is CLOSED (shown) or LISTEN again, if its service listens; "
                  f"when it lost the connection, the capture does not show"),
            alternative=((side, mine + (TcpState.LISTEN,)),)))
    return out


