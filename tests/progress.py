"""A progress callback for tests: records every call, can cancel at the Nth."""

from __future__ import annotations

from core.errors import Cancelled


class Recorder:
    """Call it as ``progress(done, total)``; raises ``Cancelled`` on call ``cancel_at``."""

    def __init__(self, cancel_at: int | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.cancel_at = cancel_at

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))
        if self.cancel_at is not None and len(self.calls) >= self.cancel_at:
            raise Cancelled("stopped by the test")
