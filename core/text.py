"""Counted nouns in messages: "1 byte", "2 bytes", "1,024 frames".

Rule: every message that prints a count with its noun goes through :func:`counted`, so
a count of one is never followed by a plural ("1 bytes").
"""

from __future__ import annotations

_IRREGULAR = {"is": "are", "was": "were", "has": "have"}


def counted(n: int, noun: str, plural: str | None = None, *, sep: str = "") -> str:
    """``n`` and ``noun`` in the right number; ``plural`` defaults to ``noun + "s"``;
    ``sep=","`` groups thousands (``1,024``)."""
    number = f"{n:,}" if sep == "," else str(n)
    if n == 1:
        return f"{number} {noun}"
    return f"{number} {plural if plural is not None else _IRREGULAR.get(noun, noun + 's')}"
