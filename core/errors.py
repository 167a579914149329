"""The one error hierarchy of SynAck.

Every error core raises on purpose derives from :class:`SynAckError`, so the CLI and
the GUI can catch that one type and show its message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.tcp.states import Side, TcpState, Trigger


class SynAckError(Exception):
    """Base class of every error raised on purpose by SynAck."""


class IllegalTransition(SynAckError):
    """A trigger arrived in a state whose transition table has no row for it."""

    def __init__(self, side: Side, state: TcpState, trigger: Trigger, detail: str = "") -> None:
        self.side = side
        self.state = state
        self.trigger = trigger
        self.detail = detail
        message = f"{side.value}: no transition from {state.value} on {trigger.value}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class CallError(SynAckError):
    """An application call failed the way a socket call would (refused, reset, closing)."""


class ParameterError(SynAckError):
    """A parameter (MSL, window, MSS, ...) is out of its allowed range."""


class ImplausibleParameter(ParameterError):
    """A bare number that looks like a unit mistake (``delay=50``: 50 seconds, not ms).

    The value itself is legal: a caller may accept it when the user insists (``--force``).
    """


class CaptureError(SynAckError):
    """A capture file could not be read: names the file, the byte offset and the problem."""

    def __init__(self, path: str, offset: int, problem: str) -> None:
        self.path = path
        self.offset = offset
        self.problem = problem
        super().__init__(f"{path}: at byte {offset}: {problem}" if path else problem)


class Cancelled(SynAckError):
    """A long operation stopped because its progress callback asked it to.

    Progress callbacks (``read_capture``, ``stream_outcomes``) raise it to cancel; the
    operation lets it through unchanged and leaves nothing half-built behind.
    """
