"""The link between the two endpoints: delay, jitter, loss, reordering, duplication, outages.

Rules:
1. Deterministic: every random choice comes from one ``random.Random(seed)`` drawn in
   send order, so the same configuration gives the same fate to every segment.
2. A segment's fate is decided when it is sent: a list of arrival times (empty: lost,
   two: duplicated) and, when lost, the reason.
3. Scripted drops ("the 3rd segment from the server") count segments per sender, 1-based.
4. Where on the path a lost segment was lost, and where the link made a copy, are
   fractions of the way from the sender (0) to the receiver (1), in [0, 1). They come
   from a hash of the seed, the sender and the segment's number (:func:`place`), not
   from the seeded stream of rule 1, so adding them changed no fate and no time.
   A tap a fraction ``d`` of the way from the sender sees a lost segment iff
   ``lost_at >= d``, and a copy iff ``copied_at < d``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from core.errors import ParameterError
from core.tcp.states import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class DropRule:
    """Drop the ``nth`` segment (1-based) that ``sender`` puts on the link."""

    sender: Side
    nth: int

    @classmethod
    def parse(cls, text: str) -> DropRule:
        """``client:3`` or ``server:1``."""
        side, _, number = text.partition(":")
        try:
            return cls(sender=Side(side.strip().lower()), nth=int(number))
        except ValueError:
            raise ParameterError(f"bad drop rule {text!r}: use SIDE:N, e.g. server:3") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class DelayRule:
    """Hold the ``nth`` segment from ``sender`` back for ``extra`` seconds more."""

    sender: Side
    nth: int
    extra: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    """One-way delays in seconds per direction, probabilities in [0, 1]."""

    delay: float = 0.010
    delay_back: float | None = None
    jitter: float = 0.0
    loss: float = 0.0
    drops: tuple[DropRule, ...] = ()
    delays: tuple[DelayRule, ...] = ()
    reorder: float = 0.0
    reorder_delay: float = 0.005
    duplicate: float = 0.0
    down: tuple[tuple[float, float], ...] = ()
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("delay", "jitter", "reorder_delay"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0 s, got {getattr(self, name)}")
        if self.delay_back is not None and self.delay_back < 0:
            raise ParameterError(f"delay_back must be >= 0 s, got {self.delay_back}")
        for name in ("loss", "reorder", "duplicate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} is a probability in [0, 1], got {value}")
        for nth in [r.nth for r in self.drops] + [r.nth for r in self.delays]:
            if nth < 1:
                raise ParameterError(f"segment rules count from 1, got {nth}")
        for start, end in self.down:
            if end < start:
                raise ParameterError(f"link outage ends before it starts: {start}..{end}")

    def one_way(self, sender: Side) -> float:
        if sender is Side.SERVER and self.delay_back is not None:
            return self.delay_back
        return self.delay


@dataclass(frozen=True, slots=True, kw_only=True)
class Fate:
    """What the link does with one segment, decided when it is sent (see rule 4).

    ``arrivals``: empty when lost, two when the link copied it. ``due``: when it arrives
    (its first copy), or would have arrived had it not been lost. ``lost_at`` (lost
    only) and ``copied_at`` (copied only): fractions of the path from the sender."""

    arrivals: tuple[float, ...]
    due: float
    reason: str | None = None
    lost_at: float | None = None
    copied_at: float | None = None


def place(seed: int, sender: Side, nth: int, what: str) -> float:
    """A fraction in [0, 1) fixed by the seed, the sender, the segment's number (1-based,
    per sender) and ``what`` ("lost" or "copied"): where on the path it happened."""
    key = f"synack/{what}/{seed}/{sender.value}/{nth}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


@dataclass(slots=True)
class Link:
    """Decides, segment by segment, when (and whether) each one arrives."""

    config: LinkConfig
    _rng: random.Random = field(init=False)
    _count: dict[Side, int] = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._count = {Side.CLIENT: 0, Side.SERVER: 0}

    def is_down(self, time: float) -> bool:
        return any(start <= time < end for start, end in self.config.down)

    def transmit(self, now: float, sender: Side) -> tuple[list[float], str | None]:
        """Arrival times of one segment sent now (empty when lost) and why it was lost."""
        fate = self.decide(now, sender)
        return list(fate.arrivals), fate.reason

    def decide(self, now: float, sender: Side) -> Fate:
        """The fate of one segment sent now by ``sender``."""
        cfg = self.config
        self._count[sender] += 1
        nth = self._count[sender]
        # draw every random number for every segment, so one choice never shifts the rest
        lost, jitter, late, copy = (self._rng.random(), self._rng.uniform(-1, 1),
                                    self._rng.random(), self._rng.random())
        arrival = now + max(0.0, cfg.one_way(sender) + jitter * cfg.jitter)
        if late < cfg.reorder:
            arrival += cfg.reorder_delay
        arrival += sum(r.extra for r in cfg.delays if r.sender is sender and r.nth == nth)
        reason = None
        if any(rule.sender is sender and rule.nth == nth for rule in cfg.drops):
            reason = f"dropped by the script ({sender.value} segment {nth})"
        elif self.is_down(now):
            reason = "the link is down"
        elif lost < cfg.loss:
            reason = f"random loss (p={cfg.loss:g})"
        if reason is not None:
            return Fate(arrivals=(), due=arrival, reason=reason,
                        lost_at=place(cfg.seed, sender, nth, "lost"))
        if copy < cfg.duplicate:
            return Fate(arrivals=(arrival, arrival + cfg.reorder_delay / 2 + 1e-6),
                        due=arrival, copied_at=place(cfg.seed, sender, nth, "copied"))
        return Fate(arrivals=(arrival,), due=arrival)
