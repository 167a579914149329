"""Legality of a Timeline's states against the transition table (any source).

    violations(timeline) -> list[str]            # empty: legal
    chain_violations(timeline, side) -> list[str]
    row_violations(timeline, side) -> list[str]
    EDGES, TRIGGER_EDGES, reachable(src, dst), is_edge(old, new, trigger=None)

A replay *infers* states; a simulation *runs* them. Either way the result must be a
walk in :data:`core.tcp.table.ROWS`. This module says where it is not, in words a person can
act on ("client: change 3 at 0.0300 s: FIN_WAIT_1 -> CLOSE_WAIT is no edge ...").

Rules checked:
1. Chain (per side). The side's ``StateChanged`` events, in time order, chain: the first
   ``old`` is the side's ``Timeline.initial`` state and every later ``old`` is the
   previous ``new``. ``old == new`` is not a change and is reported.
2. Edges. Every step ``old -> new`` is an edge of the table: some row has ``old`` among
   its states and moves it to ``new``. With a trigger, that row has this trigger (the
   SYN_RECEIVED opening is not known from the event, so either opening may apply). A
   step with ``trigger=None`` (a host crash in the simulator) needs only the edge. The
   changes are in time order, and a change's ``segment`` is one of the Timeline's.
3. Rows. Reading down ``Timeline.rows`` in index order (row k: once segment k and every
   segment before it took effect, so rows never go back in time; ``core.trace``), a
   side's states with repeats collapsed, starting from its initial state, are a
   subsequence of the states its events passed through (``initial, new_1, new_2,
   ...``): a row never shows a state the side did not enter, nor states in an order
   it did not enter them.
   With rule 2, every change between consecutive rows is then a walk of table edges
   through states the side really passed. (Plain reachability between consecutive rows
   says nothing: every state leads to CLOSED and CLOSED to every state, so the graph is
   strongly connected; :func:`reachable` is kept for callers and tests.)

Nothing here raises on a broken Timeline: every problem is one line of the result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from core.tcp.states import Side, TcpState, Trigger
from core.tcp.table import ROWS
from core.trace import StateChanged, Timeline

#: every (old, new) that some row of the table makes, self-loops excluded
EDGES: frozenset[tuple[TcpState, TcpState]] = frozenset(
    (state, row.target(state)) for row in ROWS for state in row.states
    if row.target(state) is not state)
#: every (old, trigger, new) that some row makes, self-loops excluded
TRIGGER_EDGES: frozenset[tuple[TcpState, Trigger, TcpState]] = frozenset(
    (state, row.trigger, row.target(state)) for row in ROWS for state in row.states
    if row.target(state) is not state)

_NEXT: dict[TcpState, frozenset[TcpState]] = {
    s: frozenset(new for old, new in EDGES if old is s) for s in TcpState}


def _closure(src: TcpState) -> frozenset[TcpState]:
    seen = {src}
    todo = deque([src])
    while todo:
        for nxt in _NEXT[todo.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)


_REACH: dict[TcpState, frozenset[TcpState]] = {s: _closure(s) for s in TcpState}


def reachable(src: TcpState, dst: TcpState) -> bool:
    """True when the table leads from ``src`` to ``dst`` in zero or more steps."""
    return dst in _REACH[src]


def is_edge(old: TcpState, new: TcpState, trigger: Trigger | None = None) -> bool:
    """True when one row moves ``old`` to ``new`` (on ``trigger``, if given)."""
    if trigger is None:
        return (old, new) in EDGES
    return (old, trigger, new) in TRIGGER_EDGES


def _initial(timeline: Timeline, side: Side) -> TcpState:
    return timeline.initial[0] if side is Side.CLIENT else timeline.initial[1]


def _describe(n: int, change: StateChanged) -> str:
    cause = f"trigger {change.trigger.name}" if change.trigger else "no trigger"
    if change.segment is not None:
        cause += f", segment {change.segment}"
    return (f"{change.side.value}: change {n} at {change.time:.6f} s "
            f"({change.old.name} -> {change.new.name}, {cause})")


def chain_violations(timeline: Timeline, side: Side) -> list[str]:
    """Rules 1 and 2 for ``side`` (see the module docstring)."""
    out: list[str] = []
    state = _initial(timeline, side)
    last_time: float | None = None
    for n, change in enumerate(timeline.state_changes(side), start=1):
        what = _describe(n, change)
        if last_time is not None and change.time < last_time:
            out.append(f"{what}: earlier than the change before it ({last_time:.6f} s)")
        last_time = change.time
        if change.segment is not None and not 0 <= change.segment < len(timeline.segments):
            out.append(f"{what}: names segment {change.segment}, which the Timeline does "
                       f"not have ({len(timeline.segments)} segments)")
        if change.old is not state:
            first = "the initial state" if n == 1 else "the state before"
            out.append(f"{what}: does not chain: {first} is {state.name}")
        if change.old is change.new:
            out.append(f"{what}: not a change")
        elif not is_edge(change.old, change.new):
            out.append(f"{what}: no row of the table makes this move")
        elif change.trigger is not None and not is_edge(change.old, change.new,
                                                          change.trigger):
            out.append(f"{what}: no row makes this move on {change.trigger.name}")
        state = change.new
    return out


def _rows_in(timeline: Timeline, side: Side, order: Iterable[int],
             passed: list[TcpState]) -> list[str]:
    """Rule 3 for ``side`` with the rows read in ``order``."""
    which = 0 if side is Side.CLIENT else 1
    shown = [passed[0]]
    first_row: list[int] = [-1]  # the row at which each collapsed state first shows
    for i in order:
        state = timeline.states_after(i)[which]
        if state is not shown[-1]:
            shown.append(state)
            first_row.append(i)
    pos = 0
    for k, state in enumerate(shown):
        while pos < len(passed) and passed[pos] is not state:
            pos += 1
        if pos == len(passed):
            where = "the initial state" if k == 0 else f"row {first_row[k]}"
            return [f"{side.value}: {where} shows {state.name}, which the side's events "
                    f"do not pass through there (rows: {' '.join(s.name for s in shown)}; "
                    f"events: {' '.join(s.name for s in passed)})"]
        pos += 1
    return []


def row_violations(timeline: Timeline, side: Side) -> list[str]:
    """Rule 3 for ``side``: the rows' states, read in index order, against the side's
    events."""
    passed = [_initial(timeline, side)] + [c.new for c in timeline.state_changes(side)]
    return _rows_in(timeline, side, range(len(timeline.rows)), passed)


def violations(timeline: Timeline) -> list[str]:
    """Every rule for both sides; an empty list means the Timeline is legal."""
    out: list[str] = []
    for side in Side:
        out += chain_violations(timeline, side)
        out += row_violations(timeline, side)
    return out


__all__ = ["EDGES", "TRIGGER_EDGES", "chain_violations", "is_edge", "reachable",
           "row_violations", "violations"]
