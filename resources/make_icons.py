"""Render the app icon's PNG sizes from ``icons/synack.svg`` with Qt's QSvgRenderer.

    python resources/make_icons.py          # rewrites resources/icons/synack-SIZE.png

Run it after editing the SVG and commit the PNGs (the app and the wheel use them as they
are; nothing renders them at install time). Headless: the offscreen platform is used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 32, 48, 64, 128, 256)
HERE = Path(__file__).resolve().parent
SVG = HERE / "icons" / "synack.svg"


def png_path(size: int, folder: Path = HERE / "icons") -> Path:
    return folder / f"synack-{size}.png"


def render(sizes: tuple[int, ...] = SIZES, folder: Path = HERE / "icons") -> list[Path]:
    """Write one PNG per size into ``folder`` (transparent corners, antialiased);
    returns their paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG}: not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = png_path(size, folder)
        if not image.save(str(path)):
            raise SystemExit(f"{path}: could not write")
        written.append(path)
    return written


if __name__ == "__main__":
    for written in render():
        print(written.relative_to(HERE.parent))
