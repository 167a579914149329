"""Doubts about how a connection opened: rules 2e-2i of :mod:`core.replay.doubts`.

    opening_doubts(s, fates, inference, initial, near, other) -> list[Uncertainty]

The rules are described in :mod:`core.replay.doubts` (one list for every doubt).
"""

from __future__ import annotations

import numpy as np

from core.replay.doubt_facts import ACK, FIN, RST, SYN, Other, Stream, name, states_of
from core.replay.explain import ANSWER_RATE, SLACK
from core.replay.sides import Inference
from core.tcp.states import Side, TcpState
from core.trace import StateChanged, Uncertainty

#: A FIN this soon after the handshake completed may have been waiting for it (rule 2f).
AT_ONCE = 0.001
#: the lowest port a connecting side usually gets (rule 2g)
EPHEMERAL = 32768


def opening_doubts(s: Stream, fates: list[float | None], inference: Inference,
                   initial: tuple[TcpState, TcpState], near: dict[Side, bool],
                   other: Other) -> list[Uncertainty]:
    """Rules 2e-2i for one explained stream."""
    return (_second_syn_acks(s, fates, inference, near, other)
            + _close_in_syn_received(inference, initial)
            + _listener_or_opener(s, inference, initial, near)
            + _crossing_syns(s, fates, near, other)
            + _resent_after_arrival(s, fates, near))


def _second_syn_acks(s: Stream, fates: list[float | None], inference: Inference,
                     near: dict[Side, bool],
                     other: Other) -> list[Uncertainty]:
    """Rule 2e."""
    n = len(fates)
    opening = np.asarray(s.flags, dtype=np.int64) & (SYN | ACK | RST)
    syn_acks = np.flatnonzero(opening == SYN | ACK).tolist()
    syns = np.flatnonzero(opening == SYN)
    if len(syn_acks) < 2 or len({s.from_client[k] for k in syns.tolist()}) > 1:
        return []
    slack = max(0.5 * (s.delta_client + s.delta_server), SLACK)
    out: list[Uncertainty] = []
    for mine in (True, False):
        receiver = Side.SERVER if mine else Side.CLIENT
        if near[receiver]:
            continue
        came = [k for k in syn_acks if s.from_client[k] is mine and fates[k] is not None]
        if len(came) < 2:
            continue
        acks = sorted(s.send[j] for j in range(n) if s.from_client[j] is not mine
                      and s.flags[j] & (SYN | FIN | RST | ACK) == ACK
                      and s.end_line[j] == s.seq_line[j])
        first = fates[came[0]]
        assert first is not None
        due, last = 1, float("-inf")          # the handshake's ACK, then one per dup
        for k in came[1:]:
            arrived = fates[k]
            assert arrived is not None
            state = inference.server_after[k] if mine else inference.client_after[k]
            if not state.synchronized or state is TcpState.SYN_RECEIVED:
                continue
            if arrived - last < ANSWER_RATE:
                continue                       # rate-limited: no answer due
            due, last = due + 1, arrived
            sent = sum(1 for t in acks if first - SLACK <= t <= arrived + slack)
            if sent < due:
                alt = other({k: None})
                out.append(Uncertainty(
                    time=arrived, side=receiver if alt else None, segments=(k,),
                    text=(f"either this SYN+ACK reached the {name(receiver)}, already "
                          f"connected, and its ACK of it was lost before the capture point "
                          f"(shown), or the SYN+ACK was lost: a connected TCP answers a "
                          f"second SYN+ACK at once"),
                    alternative=alt, alternative_lost=(k,)))
                due -= 1                       # counted once: the next copy owes its own
    return out


def _close_in_syn_received(inference: Inference,
                           initial: tuple[TcpState, TcpState]) -> list[Uncertainty]:
    """Rule 2f."""
    out: list[Uncertainty] = []
    done: dict[Side, float] = {}
    for ev in inference.sparse:
        if not isinstance(ev, StateChanged):
            continue
        if ev.old is TcpState.SYN_RECEIVED and ev.new is TcpState.ESTABLISHED:
            done[ev.side] = ev.time
        elif (ev.old is TcpState.ESTABLISHED and ev.new is TcpState.FIN_WAIT_1
              and ev.side in done and ev.time - done.pop(ev.side) <= AT_ONCE):
            shown = states_of(inference, initial, ev.side)
            at = next(i for i in range(1, len(shown))
                      if shown[i - 1] is TcpState.SYN_RECEIVED
                      and shown[i] is TcpState.ESTABLISHED)
            out.append(Uncertainty(
                time=ev.time, side=ev.side, segments=(() if ev.segment is None
                                                      else (ev.segment,)),
                text=(f"either the {name(ev.side)} called close() once its handshake "
                      f"completed (shown), or before, in SYN_RECEIVED, and held its FIN "
                      f"until the handshake's ACK came (FIN_WAIT_1 straight from "
                      f"SYN_RECEIVED): the capture looks the same"),
                alternative=((ev.side, shown[:at] + shown[at + 1:]),)))
    return out


def _listener_or_opener(s: Stream, inference: Inference, initial: tuple[TcpState, TcpState],
                        near: dict[Side, bool]) -> list[Uncertainty]:
    """Rule 2g."""
    if initial[1] is not TcpState.LISTEN or near[Side.SERVER] or s.server_port < EPHEMERAL:
        return []
    shown = states_of(inference, initial, Side.SERVER)
    first = next((ev for ev in inference.sparse if isinstance(ev, StateChanged)
                  and ev.side is Side.SERVER), None)
    if first is None or first.new is not TcpState.SYN_RECEIVED:
        return []
    return [Uncertainty(
        time=first.time, side=Side.SERVER,
        segments=() if first.segment is None else (first.segment,),
        text=(f"either the server was listening (shown), or it was opening too "
              f"(connect()) and its own SYN was lost before the capture point, so this "
              f"SYN reached it in SYN_SENT: a simultaneous open. It answers from port "
              f"{s.server_port}, an ephemeral port such as a connecting side gets"),
        alternative=((Side.SERVER, (TcpState.CLOSED, TcpState.SYN_SENT) + shown[1:]),))]


def _crossing_syns(s: Stream, fates: list[float | None], near: dict[Side, bool],
                   other: Other) -> list[Uncertainty]:
    """Rule 2h."""
    out: list[Uncertainty] = []
    for mine in (True, False):
        peer = Side.SERVER if mine else Side.CLIENT
        if near[peer]:
            continue
        own = [k for k in s.syns if s.from_client[k] is mine
               and s.flags[k] & (SYN | ACK | RST) in (SYN, SYN | ACK)]
        if len(own) < 2 or s.flags[own[0]] & ACK or not s.flags[own[-1]] & ACK:
            continue
        answer = next(j for j in own if s.flags[j] & ACK)
        k = max(j for j in own if j < answer)              # the last SYN before it
        if fates[k] is None or s.proved_by[k] >= 0 or s.seq_line[answer] != s.seq_line[k]:
            continue
        alt = other({j: None for j in own if not s.flags[j] & ACK})
        if not alt:
            continue
        who = name(Side.CLIENT if mine else Side.SERVER)
        out.append(Uncertainty(
            time=s.send[k], side=peer, segments=(k, answer),
            text=(f"either this SYN reached the {name(peer)} (shown: the SYNs crossed, "
                  f"and the {name(peer)}'s SYN+ACK to it was lost before the capture "
                  f"point), or it was lost, and the {name(peer)}, still in SYN_SENT, took "
                  f"the {who}'s SYN+ACK for its answer and its ACK of it was lost"),
            alternative=alt,
            alternative_lost=tuple(j for j in own if not s.flags[j] & ACK)))
    return out


def _resent_after_arrival(s: Stream, fates: list[float | None],
                          near: dict[Side, bool]) -> list[Uncertainty]:
    """Rule 2i."""
    out: list[Uncertainty] = []
    seen: set[tuple[bool, int]] = set()
    for k in s.syns:
        key = (s.from_client[k], s.seq_line[k])
        if s.flags[k] & (SYN | ACK | RST) != SYN or key in seen:
            continue
        seen.add(key)
        receiver = Side.SERVER if s.from_client[k] else Side.CLIENT
        if near[receiver] or fates[k] is None or s.proved_by[k] < 0:
            continue
        for j in s.syns:
            if (j > k and (s.from_client[j], s.seq_line[j]) == key
                    and s.flags[j] & (SYN | ACK | RST) == SYN
                    and fates[j] is not None and s.proved_by[j] < 0):
                out.append(Uncertainty(
                    time=s.send[j], side=None, segments=(j,),
                    text=(f"either this resent SYN arrived too (shown), or it was lost: "
                          f"the {name(receiver)} had the first one and resends its "
                          f"SYN+ACK on its own timer, so the capture looks the same"),
                    alternative_open=(j,)))
    return out
