"""Progress callbacks for tests: they record every call and can cancel at the Nth."""

from __future__ import annotations

from core.errors import Cancelled
from core.progress import Progress


class Recorder:
    """Call it as ``progress(done, total)``; raises ``Cancelled`` on call ``cancel_at``."""

    def __init__(self, cancel_at: int | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.cancel_at = cancel_at

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))
        if self.cancel_at is not None and len(self.calls) >= self.cancel_at:
            raise Cancelled("stopped by the test")


class Told:
    """A ``Stages`` recording (stage, done, total); raises ``Cancelled`` at call ``at``."""

    def __init__(self, at: int | None = None) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.at = at

    def __call__(self, stage: str) -> Progress:
        def progress(done: int, total: int) -> None:
            self.calls.append((stage, done, total))
            if self.at is not None and len(self.calls) >= self.at:
                raise Cancelled("stopped by the test")
        return progress

    def stages(self) -> list[str]:
        return list(dict.fromkeys(stage for stage, _, _ in self.calls))

    def check(self) -> None:
        """Per stage: one total, done never going back, from 0 or more up to the total."""
        for stage in self.stages():
            mine = [(done, total) for s, done, total in self.calls if s == stage]
            assert len({total for _, total in mine}) == 1, stage
            assert [d for d, _ in mine] == sorted(d for d, _ in mine), stage
            assert mine[-1][0] == mine[-1][1] and mine[0][0] >= 0, stage
