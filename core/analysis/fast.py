"""Placeholder: the fast path (to be replaced)."""
from __future__ import annotations

from core.analysis import reference
from core.analysis.inputs import StreamInput, StreamOutput


def analyze(inp: StreamInput) -> StreamOutput:
    return reference.analyze(inp)
