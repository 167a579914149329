"""Exporting diagrams to PNG; works headless (QT_QPA_PLATFORM=offscreen).

Rules:
- Exports paint with the window's :class:`~gui.diagram_painter.DiagramPainter`, so a
  file shows what the window shows, plus the title lines, on white.
- The whole diagram is never cut off: a diagram taller than ``MAX_PAGE_HEIGHT`` image
  px is split into pages (``OUT.png``, ``OUT-2.png``, ...) between rows, each later page
  headed by the lanes' roles and a "page k of n" line. Image viewers (and Qt itself)
  refuse images over 256 MB, which one page stays under.
- ``scale`` multiplies every length (1.0 = what the window shows at 100 %).
- PNGs are written with zlib level 1 (Qt quality 80): 8 % larger than the default level
  at under half its time on tall diagrams (bench/render.py).
- The file name's suffix picks the format, the same for the CLI and the export dialog:
  ``.png`` (or none) PNG, ``.jpg``/``.jpeg`` a real JPEG (quality ``JPEG_QUALITY``);
  any other suffix is refused before anything is rendered (``image_format``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter

from core.errors import SynAckError
from core.trace import Timeline
from gui import style
from gui.diagram_layout import MARGIN, DiagramLayout
from gui.diagram_painter import DiagramPainter, ensure_gui_application

MAX_PAGE_HEIGHT = 30_000
PNG_QUALITY = 80
JPEG_QUALITY = 92
#: Suffix (lower case) -> Qt image format; "" (no suffix) writes PNG.
FORMATS = {"": "PNG", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
MIN_SCALE, MAX_SCALE = 0.25, 4.0


class ExportError(SynAckError):
    """A diagram could not be written (names the file and the reason)."""


@dataclass(frozen=True, slots=True)
class Band:
    """A horizontal slice of the layout: [top, bottom) in layout px."""

    top: float
    bottom: float


def page_bands(layout: DiagramLayout, scale: float,
               max_height: int = MAX_PAGE_HEIGHT) -> list[Band]:
    """Slices of the whole layout, each at most ``max_height`` image px with its
    continuation header, cut just below a row so no label is split."""
    head = _continuation_height(layout)
    if max_height / scale - head < layout.row_gap * 4:
        raise ValueError(f"pages of {max_height} px are too short at scale {scale:g}")
    rows = layout.row_y
    bands: list[Band] = []
    top = 0.0
    while True:
        room = max_height / scale - (head if bands else 0.0)
        if layout.height - top <= room:
            bands.append(Band(top, layout.height))
            return bands
        limit = top + room
        pos = int(np.searchsorted(rows, limit - 6.0, side="right")) - 1
        fits = pos >= 0 and rows[pos] + 5.0 > top + layout.row_gap
        cut = float(rows[pos]) + 5.0 if fits else limit
        bands.append(Band(top, cut))
        top = cut


def _continuation_height(layout: DiagramLayout) -> float:
    return MARGIN + layout.fm_text.height() + 6.0 + (layout.lanes_top - layout.heading_y)


def _render_band(painter_: DiagramPainter, band: Band, scale: float, *, page: int,
                 pages: int, cursor: float | None = None,
                 selected: int | None = None) -> QImage:
    lay = painter_.layout
    first = band.top <= 0.0
    head = 0.0 if first else _continuation_height(lay)
    width = math.ceil(lay.width * scale)
    height = math.ceil((band.bottom - band.top + head) * scale)
    image = QImage(width, height, QImage.Format.Format_RGB32)
    if image.isNull():
        raise ValueError(f"cannot allocate a {width}x{height} image")
    image.fill(style.BACKGROUND)
    p = QPainter(image)
    try:
        p.scale(scale, scale)
        if not first:
            p.setFont(style.text_font())
            p.setPen(style.MUTED)
            p.drawText(QPointF(MARGIN, MARGIN + lay.fm_text.ascent()),
                       f"{lay.timeline.title} \u2014 page {page} of {pages} (continued)")
            painter_.paint_headings(p, MARGIN + lay.fm_text.height() + 6.0)
        p.translate(0, head - band.top)
        p.setClipRect(QRectF(0, band.top, lay.width, band.bottom - band.top))
        painter_.paint(p, QRectF(0, band.top, lay.width, band.bottom - band.top),
                       cursor=cursor, selected=selected, background=False)
    finally:
        p.end()
    return image


def render_pages(timeline: Timeline, *, scale: float = 1.0, width: int | None = None,
                 compact: bool = False, absolute: bool = False,
                 max_height: int = MAX_PAGE_HEIGHT) -> list[QImage]:
    """The whole diagram (title, legend, every row) as one or more page images."""
    ensure_gui_application()
    layout = DiagramLayout(timeline, width=width, show_title=True, compact=compact,
                           absolute=absolute)
    return render_layout(layout, scale=scale, max_height=max_height)


def render_layout(layout: DiagramLayout, *, scale: float = 1.0,
                  max_height: int = MAX_PAGE_HEIGHT) -> list[QImage]:
    """The pages of an export layout (one with ``show_title``)."""
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise ValueError(f"scale {scale:g} is outside {MIN_SCALE:g}..{MAX_SCALE:g}")
    painter_ = DiagramPainter(layout)
    bands = page_bands(layout, scale, max_height)
    return [_render_band(painter_, band, scale, page=k, pages=len(bands))
            for k, band in enumerate(bands, 1)]


def render_timeline(timeline: Timeline, width: int | None = None) -> QImage:
    """The whole diagram on one image (small diagrams; tests). See :func:`render_pages`."""
    pages = render_pages(timeline, width=width, max_height=1 << 30)
    return pages[0]


def render_view(layout: DiagramLayout, rect: QRectF, *, scale: float = 1.0,
                cursor: float | None = None, selected: int | None = None) -> QImage:
    """What the window shows in ``rect`` (layout coordinates), headed by the title and
    the lanes' roles, at ``scale``."""
    ensure_gui_application()
    shown = DiagramLayout(layout.timeline, show_title=True, compact=layout.compact,
                          absolute=layout.absolute)
    painter_ = DiagramPainter(shown)
    dy = shown.lanes_top - layout.lanes_top      # the export layout has a title on top
    top = max(rect.top() + dy, 0.0)
    band = Band(top, min(rect.bottom() + dy, shown.height))
    title_band = top <= 0.0
    image = _render_band(painter_, band, scale, page=1, pages=1, cursor=cursor,
                         selected=selected)
    if not title_band:
        p = QPainter(image)
        try:
            p.scale(scale, scale)
            p.fillRect(QRectF(0, 0, shown.width, MARGIN + shown.fm_text.height() + 4),
                       style.BACKGROUND)
            p.setFont(style.text_font())
            p.setPen(style.MUTED)
            p.drawText(QPointF(MARGIN, MARGIN + shown.fm_text.ascent()), shown.timeline.title)
        finally:
            p.end()
    return image


def page_paths(path: str, count: int) -> list[str]:
    """``OUT.png`` then ``OUT-2.png``, ``OUT-3.png``, ..."""
    stem, ext = os.path.splitext(path)
    return [path] + [f"{stem}-{k}{ext or '.png'}" for k in range(2, count + 1)]


def image_format(path: str) -> str:
    """The Qt format for ``path`` by its suffix (module rules); ``ExportError`` if unknown."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise ExportError(f"cannot write {path}: unknown image type {suffix!r}; "
                          "use .png, .jpg or .jpeg")
    return FORMATS[suffix]


def _check_folder(target: str) -> None:
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ExportError(f"cannot write {target}: folder {folder} does not exist")


def save_images(images: list[QImage], path: str | os.PathLike[str]) -> list[tuple[str, int, int]]:
    """Write ``images`` as ``path`` (and its page siblings); (path, width, height) each."""
    target = os.fspath(path)
    kind = image_format(target)
    _check_folder(target)
    quality = PNG_QUALITY if kind == "PNG" else JPEG_QUALITY
    written = []
    for name, image in zip(page_paths(target, len(images)), images, strict=True):
        # PySide6 6.11 stubs say bytes, the binding wants str
        if not image.save(name, kind, quality):  # type: ignore[call-overload]
            raise ExportError(f"cannot write {name}: saving the {kind} image failed")
        written.append((name, image.width(), image.height()))
    return written


def export_png(timeline: Timeline, path: str | os.PathLike[str], *, scale: float = 1.0,
               width: int | None = None, compact: bool = False,
               absolute: bool = False) -> list[tuple[str, int, int]]:
    """Render the whole diagram to ``path`` (more pages beside it when tall); returns
    (path, width, height) of every file written."""
    target = os.fspath(path)
    image_format(target)                  # both before rendering, which may take seconds
    _check_folder(target)
    try:
        images = render_pages(timeline, scale=scale, width=width, compact=compact,
                              absolute=absolute)
    except ValueError as exc:
        raise ExportError(f"cannot render {target}: {exc}") from exc
    return save_images(images, target)
