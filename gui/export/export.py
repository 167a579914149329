"""Exporting diagrams to PNG; works headless (QT_QPA_PLATFORM=offscreen).

Rules:
- Exports paint with the window's :class:`~gui.diagram.diagram_painter.DiagramPainter`, so a
  file shows what the window shows, plus the title lines, on white.
- The whole diagram is never cut off: a diagram taller than ``MAX_PAGE_HEIGHT`` image
  px is split into pages (``OUT.png``, ``OUT-2.png``, ...) between rows, each later page
  headed by the lanes' roles and a "page k of n" line. Image viewers (and Qt itself)
  refuse images over 256 MB, which one page stays under.
- ``scale`` multiplies every length (1.0 = what the window shows at 100 %).
- Pages are painted and written one at a time (``iter_pages`` into ``save_images``):
  memory holds one page, however long the stream. A caller that keeps a page alive
  while asking for the next defeats that (``enumerate``/``zip`` over the pages would:
  they hold the last item while fetching the next).
- PNGs are written by :mod:`gui.export.png` (filter none, zlib level ``gui.export.png.LEVEL``): the
  same pixels as Qt's writer, on a 2000x20000 page in 0.6 s on one thread instead of
  2.2 s (Qt's default level; 1.5 s at level 1) and 19 % smaller (bench/render.py).
- Sizes are known before painting: :func:`page_sizes` and :func:`view_size` give the
  pixels :func:`iter_pages` and :func:`render_view` will paint (the dialog shows them).
- A default file name comes from what is shown (:func:`export_name`): the capture and
  stream, or the scenario.
- The file name's suffix picks the format, the same for the CLI and the export dialog:
  ``.png`` (or none) PNG, ``.jpg``/``.jpeg`` a real JPEG (quality ``JPEG_QUALITY``);
  any other suffix is refused before anything is rendered (``image_format``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter

from core.errors import SynAckError
from core.trace import Timeline
from gui.diagram import style
from gui.diagram.diagram_layout import MARGIN, DiagramLayout
from gui.diagram.diagram_painter import DiagramPainter, ensure_gui_application
from gui.export.png import write_png

MAX_PAGE_HEIGHT = 30_000
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


def band_size(layout: DiagramLayout, band: Band, scale: float) -> tuple[int, int]:
    """The pixels of the page painting ``band`` of ``layout`` at ``scale``."""
    head = 0.0 if band.top <= 0.0 else _continuation_height(layout)
    return (math.ceil(layout.width * scale),
            math.ceil((band.bottom - band.top + head) * scale))


def page_sizes(layout: DiagramLayout, scale: float,
               max_height: int = MAX_PAGE_HEIGHT) -> list[tuple[int, int]]:
    """(width, height) of every page :func:`iter_pages` paints, before painting any."""
    return [band_size(layout, band, scale) for band in page_bands(layout, scale, max_height)]


def _render_band(painter_: DiagramPainter, band: Band, scale: float, *, page: int,
                 pages: int, cursor: float | None = None,
                 selected: int | None = None) -> QImage:
    lay = painter_.layout
    first = band.top <= 0.0
    head = 0.0 if first else _continuation_height(lay)
    width, height = band_size(lay, band, scale)
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
    """The whole diagram (title, legend, every row) as one or more page images, all held
    at once (small diagrams, tests); :func:`export_png` writes them one at a time."""
    return list(iter_pages(export_layout(timeline, width=width, compact=compact,
                                         absolute=absolute),
                           scale=scale, max_height=max_height))


def export_layout(timeline: Timeline, *, width: int | None = None, compact: bool = False,
                  absolute: bool = False) -> DiagramLayout:
    """The layout of an exported diagram: the window's, with the title lines on top."""
    ensure_gui_application()
    return DiagramLayout(timeline, width=width, show_title=True, compact=compact,
                         absolute=absolute)


def iter_pages(layout: DiagramLayout, *, scale: float = 1.0,
               max_height: int = MAX_PAGE_HEIGHT) -> Iterator[QImage]:
    """The pages of an export layout, each painted only when the next one is asked for.

    Checks the scale and the page height at once (``ValueError``), before any page is
    painted."""
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise ValueError(f"scale {scale:g} is outside {MIN_SCALE:g}..{MAX_SCALE:g}")
    bands = page_bands(layout, scale, max_height)
    return _pages(DiagramPainter(layout), bands, scale)


def _pages(painter_: DiagramPainter, bands: list[Band], scale: float) -> Iterator[QImage]:
    for k in range(len(bands)):
        # yielded straight from the call: this frame keeps no reference to the page
        yield _render_band(painter_, bands[k], scale, page=k + 1, pages=len(bands))


def render_timeline(timeline: Timeline, width: int | None = None) -> QImage:
    """The whole diagram on one image (small diagrams; tests). See :func:`render_pages`."""
    pages = render_pages(timeline, width=width, max_height=1 << 30)
    return pages[0]


def _view_band(layout: DiagramLayout, rect: QRectF) -> tuple[DiagramLayout, Band]:
    """The export layout of a view (its width, the title lines on top) and the band of it
    that shows ``rect`` of the view's layout."""
    shown = DiagramLayout(layout.timeline, width=layout.width, show_title=True,
                          compact=layout.compact, absolute=layout.absolute)
    dy = shown.lanes_top - layout.lanes_top      # the export layout has a title on top
    top = max(rect.top() + dy, 0.0)
    return shown, Band(top, min(max(rect.bottom() + dy, top + 1.0), shown.height))


def view_size(layout: DiagramLayout, rect: QRectF, *, scale: float = 1.0) -> tuple[int, int]:
    """(width, height) of the image :func:`render_view` paints for ``rect``."""
    ensure_gui_application()
    shown, band = _view_band(layout, rect)
    return band_size(shown, band, scale)


def render_view(layout: DiagramLayout, rect: QRectF, *, scale: float = 1.0,
                cursor: float | None = None, selected: int | None = None) -> QImage:
    """What the window shows in ``rect`` (layout coordinates), as wide as the window's
    layout, headed by the title and the lanes' roles, at ``scale``."""
    ensure_gui_application()
    shown, band = _view_band(layout, rect)
    painter_ = DiagramPainter(shown)
    title_band = band.top <= 0.0
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


def export_name(title: str, suffix: str = ".png") -> str:
    """A file name for a diagram titled ``title``: ``capture-stream2.png`` for a capture's
    stream (``capture.pcap · stream 2``), ``flow_control.png`` for a scenario
    (``Scenario: flow_control``), ``demo.png`` for the demo, else the title's words."""
    match = re.fullmatch(r"(.+?)(?:\.pcapng|\.pcap|\.cap)?(?:\.gz)?\s*\u00b7\s*stream (\d+)",
                         title.strip())
    if match:
        stem = f"{match.group(1)}-stream{match.group(2)}"
    elif title.lower().startswith("scenario:"):
        stem = title.split(":", 1)[1]
    elif title.lower().startswith("demo"):
        stem = "demo"
    else:
        stem = title
    stem = re.sub(r"[^\w.-]+", "_", stem.strip()).strip("._") or "synack"
    return stem[:80] + suffix


def page_path(path: str, page: int) -> str:
    """Page ``page`` (from 1) of an export to ``path``: ``OUT.png``, ``OUT-2.png``, ..."""
    if page == 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}-{page}{ext or '.png'}"


def page_paths(path: str, count: int) -> list[str]:
    """``OUT.png`` then ``OUT-2.png``, ``OUT-3.png``, ..."""
    return [page_path(path, k) for k in range(1, count + 1)]


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


def save_images(images: Iterable[QImage],
                path: str | os.PathLike[str]) -> list[tuple[str, int, int]]:
    """Write ``images`` as ``path`` (and its page siblings), each before the next is
    taken from ``images`` and without keeping it; (path, width, height) each."""
    target = os.fspath(path)
    kind = image_format(target)
    _check_folder(target)
    written: list[tuple[str, int, int]] = []
    pages = iter(images)
    while (image := next(pages, None)) is not None:
        name = page_path(target, len(written) + 1)
        _save(image, name, kind)
        written.append((name, image.width(), image.height()))
        del image                  # before the next page is painted (module rules)
    return written


def _save(image: QImage, name: str, kind: str) -> None:
    if kind == "PNG":
        try:
            write_png(image, name)
        except OSError as exc:
            raise ExportError(f"cannot write {name}: {exc.strerror or exc}") from exc
    # PySide6 6.11 stubs say bytes, the binding wants str
    elif not image.save(name, kind, JPEG_QUALITY):  # type: ignore[call-overload]
        raise ExportError(f"cannot write {name}: saving the {kind} image failed")


def export_png(timeline: Timeline, path: str | os.PathLike[str], *, scale: float = 1.0,
               width: int | None = None, compact: bool = False, absolute: bool = False,
               max_height: int = MAX_PAGE_HEIGHT) -> list[tuple[str, int, int]]:
    """Render the whole diagram to ``path`` (more pages beside it when tall), one page
    at a time; returns (path, width, height) of every file written."""
    target = os.fspath(path)
    image_format(target)                  # both before rendering, which may take seconds
    _check_folder(target)
    try:
        pages = iter_pages(export_layout(timeline, width=width, compact=compact,
                                         absolute=absolute),
                           scale=scale, max_height=max_height)
        return save_images(pages, target)
    except ValueError as exc:
        raise ExportError(f"cannot render {target}: {exc}") from exc
