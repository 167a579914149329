"""A simulated Timeline that keeps tshark's labels beside SynAck's verdict.

A simulation's segments carry SynAck's verdict (:mod:`core.analysis.verdict`) on the
capture a tap next to the client would record (:mod:`core.simulate.labels`). What
tshark itself says of that capture, and why SynAck differs, stays with the Timeline:

    judgement_of(timeline) -> Judgement | None     # None: not a labelled simulation
    tshark_labels(timeline, index) -> tuple[str, ...]
    changes_of(timeline, index) -> tuple[Change, ...]

Invariants:
- Maps are keyed by segment index and list only segments with something to say.
- Without a judgement (a Timeline built another way) tshark's labels are taken to be the
  segment's labels of tshark's vocabulary, and nothing differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.analysis.labels import LABELS
from core.analysis.verdict import Change
from core.trace import Timeline

_TSHARK = frozenset(LABELS)


@dataclass(frozen=True, slots=True)
class Judgement:
    """Per segment index: tshark's labels, SynAck's, and the changes between them."""

    tshark: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    synack: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    changes: Mapping[int, tuple[Change, ...]] = field(default_factory=dict)


class JudgedTimeline(Timeline):
    """A Timeline with the :class:`Judgement` its segments' labels came from."""

    __slots__ = ("judgement",)

    def __init__(self, *, judgement: Judgement, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.judgement = judgement


def judgement_of(timeline: Timeline) -> Judgement | None:
    return timeline.judgement if isinstance(timeline, JudgedTimeline) else None


def tshark_labels(timeline: Timeline, index: int) -> tuple[str, ...]:
    """What tshark says of segment ``index`` in the capture at the client."""
    judged = judgement_of(timeline)
    if judged is None:
        return tuple(x for x in timeline.segments[index].labels if x in _TSHARK)
    return tuple(judged.tshark.get(index, ()))


def changes_of(timeline: Timeline, index: int) -> tuple[Change, ...]:
    """Where SynAck's verdict on segment ``index`` differs from tshark's, and why."""
    judged = judgement_of(timeline)
    return () if judged is None else tuple(judged.changes.get(index, ()))
