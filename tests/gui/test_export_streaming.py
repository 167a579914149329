"""Export page by page: the same files and pixels as before, one page in memory at a time,
and PNGs that decode to exactly the page (gui/export/png.py)."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import weakref
import zlib
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from pytestqt.qtbot import QtBot

import gui.export.export
from gui.diagram import style
from gui.diagram.diagram_layout import MARGIN, DiagramLayout
from gui.diagram.diagram_painter import DiagramPainter
from gui.export.export import export_png, page_bands, page_paths
from gui.export.png import STRIP_ROWS, write_png
from tests.gui.test_layout import bulk_timeline

ROOT = Path(__file__).resolve().parents[2]


def _reference_pages(layout: DiagramLayout, max_height: int) -> list[QImage]:
    """Every page at once, as the export painted them before it streamed (commit 6943409,
    gui/export/export.py ``render_layout`` and ``_render_band`` at scale 1), kept here verbatim
    so a change to the streaming path cannot change what is drawn unseen."""
    painter_ = DiagramPainter(layout)
    bands = page_bands(layout, 1.0, max_height)
    pages = []
    for k, band in enumerate(bands, 1):
        first = band.top <= 0.0
        head = 0.0 if first else (MARGIN + layout.fm_text.height() + 6.0
                                  + (layout.lanes_top - layout.heading_y))
        image = QImage(math.ceil(layout.width), math.ceil(band.bottom - band.top + head),
                       QImage.Format.Format_RGB32)
        image.fill(style.BACKGROUND)
        p = QPainter(image)
        if not first:
            p.setFont(style.text_font())
            p.setPen(style.MUTED)
            p.drawText(QPointF(MARGIN, MARGIN + layout.fm_text.ascent()),
                       f"{layout.timeline.title} \u2014 page {k} of {len(bands)} (continued)")
            painter_.paint_headings(p, MARGIN + layout.fm_text.height() + 6.0)
        p.translate(0, head - band.top)
        p.setClipRect(QRectF(0, band.top, layout.width, band.bottom - band.top))
        painter_.paint(p, QRectF(0, band.top, layout.width, band.bottom - band.top),
                       background=False)
        p.end()
        pages.append(image)
    return pages


def _pixels(image: QImage) -> QImage:
    return image.convertToFormat(QImage.Format.Format_RGB32)


def test_streamed_pages_are_the_files_and_pixels_of_before(qtbot: QtBot,
                                                           tmp_path: Path) -> None:
    timeline = bulk_timeline(300)
    layout = DiagramLayout(timeline, show_title=True)
    reference = _reference_pages(layout, 4000)
    assert len(reference) >= 4
    written = export_png(timeline, tmp_path / "new.png", max_height=4000)
    assert [name for name, _, _ in written] == page_paths(str(tmp_path / "new.png"),
                                                          len(reference))
    for (name, width, height), old in zip(written, reference, strict=True):
        assert (width, height) == (old.width(), old.height())
        assert _pixels(QImage(name)) == old, name
    # and what Qt's own PNG writer (the code before) made of the same page decodes alike
    old_file = str(tmp_path / "old.png")
    assert reference[1].save(old_file, "PNG", 80)  # type: ignore[call-overload]
    assert _pixels(QImage(old_file)) == _pixels(QImage(written[1][0]))


def test_no_two_pages_are_alive_at_once(qtbot: QtBot, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    painted: list[weakref.ref[QImage]] = []
    render = gui.export.export._render_band

    def spy(*args: object, **kwargs: object) -> QImage:
        alive = [k for k, page in enumerate(painted, 1) if page() is not None]
        assert not alive, f"page(s) {alive} still held while painting page {len(painted) + 1}"
        image = render(*args, **kwargs)  # type: ignore[arg-type]
        painted.append(weakref.ref(image))
        return image

    monkeypatch.setattr(gui.export.export, "_render_band", spy)
    written = export_png(bulk_timeline(300), tmp_path / "x.png", max_height=4000)
    assert len(painted) == len(written) >= 4


def test_the_export_dialog_streams_its_pages_too(qtbot: QtBot, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from gui.diagram.sequence_view import SequenceView
    from gui.export.export_dialog import ExportDialog
    painted: list[weakref.ref[QImage]] = []
    render = gui.export.export._render_band

    def spy(*args: object, **kwargs: object) -> QImage:
        assert all(page() is None for page in painted)
        image = render(*args, **kwargs)  # type: ignore[arg-type]
        painted.append(weakref.ref(image))
        return image

    monkeypatch.setattr(gui.export.export, "_render_band", spy)
    view = SequenceView(bulk_timeline(200))
    qtbot.add_widget(view)
    dialog = ExportDialog(view)
    qtbot.add_widget(dialog)
    dialog.path.setText(str(tmp_path / "d.png"))
    pages = page_bands(dialog._layout(), 1.0, 4000)
    monkeypatch.setattr("gui.export.export_dialog.iter_pages",
                        lambda layout, scale: gui.export.export.iter_pages(layout, scale=scale,
                                                                    max_height=4000))
    written = dialog.export()
    assert len(written) == len(pages) == len(painted) >= 3


#: glibc otherwise raises its mmap threshold to the size of a freed page (up to 32 MB), and a
#: page of 28 MB may then come from the heap, which a later page can find fragmented: the
#: peak would measure the allocator, not what export holds.
FIXED_MMAP = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
PEAK = """
import resource, sys
from gui.diagram.diagram_painter import ensure_gui_application
from gui.export.export import export_png
from tests.gui.test_layout import bulk_timeline
ensure_gui_application()
timeline = bulk_timeline(int(sys.argv[1]))
export_png(timeline, sys.argv[2], max_height=8000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_peak_memory_does_not_grow_with_the_number_of_pages(tmp_path: Path) -> None:
    def peak_kb(count: int) -> int:
        run = subprocess.run([sys.executable, "-c", PEAK, str(count), str(tmp_path / "m.png")],
                             cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen",
                                  "PYTHONPATH": str(ROOT), **FIXED_MMAP})
        assert run.returncode == 0, run.stderr
        return int(run.stdout.split()[-1])

    two, six = peak_kb(120), peak_kb(700)
    pages = len(list(tmp_path.glob("m*.png")))
    assert pages >= 6
    page_kb = 900 * 8000 * 4 / 1024                   # one RGB32 page of about 900x8000
    # held all at once, four more pages would add about 110 MB; streamed, only the longer
    # timeline and its layout grow (a few MB)
    assert six - two < page_kb, f"peak RSS {two} kB with 2 pages, {six} kB with {pages}"


@pytest.mark.parametrize("size", [(1, 1), (7, 3), (333, STRIP_ROWS * 2 + 17)])
@pytest.mark.parametrize("threads", [1, 2])
def test_png_decodes_to_the_image(qtbot: QtBot, tmp_path: Path, size: tuple[int, int],
                                  threads: int) -> None:
    width, height = size
    image = QImage(width, height, QImage.Format.Format_RGB32)
    for y in range(height):
        for x in range(0, width, max(1, width // 9)):
            image.setPixelColor(x, y, QColor((x * 7) % 256, (y * 13) % 256, (x + y) % 256))
    path = tmp_path / f"p{threads}.png"
    write_png(image, path, threads=threads)
    assert _pixels(QImage(str(path))) == image
    data = path.read_bytes()
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == \
            zlib.crc32(kind + body)
        chunks.append((kind, body))
        at += 12 + length
    assert [k for k, _ in chunks][:2] == [b"IHDR", b"pHYs"] and chunks[-1][0] == b"IEND"
    # one zlib stream with its checksum (zlib.decompress checks the Adler-32)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + 3 * width)


def test_png_bytes_do_not_depend_on_the_threads(qtbot: QtBot, tmp_path: Path) -> None:
    page = gui.export.export.render_pages(bulk_timeline(60))[0]
    write_png(page, tmp_path / "one.png", threads=1)
    write_png(page, tmp_path / "two.png", threads=2)
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()
