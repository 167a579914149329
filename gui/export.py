"""Exporting diagrams to files; works headless (QT_QPA_PLATFORM=offscreen).

Rule: exports render through :func:`gui.sequence_view.render_timeline`, so a file
shows exactly what the window shows, plus the title lines.
"""

from __future__ import annotations

import os

from core.errors import SynAckError
from core.trace import Timeline
from gui.sequence_view import render_timeline


class ExportError(SynAckError):
    """A diagram could not be written (names the file and the reason)."""


def export_png(timeline: Timeline, path: str | os.PathLike[str], *,
               width: int | None = None) -> tuple[int, int]:
    """Render ``timeline`` to a PNG at ``path``; returns the image's (width, height)."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ExportError(f"cannot write {target}: folder {folder} does not exist")
    try:
        image = render_timeline(timeline, width=width)
    except ValueError as exc:
        raise ExportError(f"cannot render {target}: {exc}") from exc
    # PySide6 6.11 stubs say bytes, the binding wants str
    if not image.save(target, "PNG"):  # type: ignore[call-overload]
        raise ExportError(f"cannot write {target}: saving the PNG failed")
    return image.width(), image.height()
