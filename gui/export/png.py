"""Writing a QImage as PNG, a strip of rows at a time (export pages are tall).

Rules:
- The file decodes to exactly the image's pixels: 8-bit RGB, no alpha (export pages
  are opaque ``Format_RGB32``; an image with alpha is written as Qt's ``Format_RGB888``
  conversion gives it), with the image's resolution as a ``pHYs`` chunk, as Qt writes.
- Every row uses PNG filter 0 (none), deflated at ``LEVEL``. On diagram pages (white,
  thin antialiased lines, text) that is smaller than libpng's adaptive filters *and*
  faster: Qt's writer spends most of its time choosing filters (1.2 s on a 2000x20000
  page with no compression at all). Levels 2 and 3 make files 2 and 4-5 % smaller than
  level 1 but take 10-30 % longer (most on dense pages, whose deflate is an export's
  largest cost); level 6 twice as long for 9 %. bench/render.py prints the table.
- Strips of ``STRIP_ROWS`` rows are deflated on up to ``THREADS`` threads (zlib lets go
  of the GIL), each primed with the 32 KiB before it and ended on a byte boundary
  (``Z_SYNC_FLUSH``), as pigz does: the bytes written are the same whatever the number
  of threads, and one zlib stream as PNG wants.
- Memory beyond the image is a few strips and their compressed bytes; the file is
  written as it is compressed.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import numpy as np
from PySide6.QtGui import QImage

LEVEL = 1
STRIP_ROWS = 256
THREADS = min(2, os.cpu_count() or 1)
WINDOW = 32 * 1024              # deflate's window: what primes the next strip
SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB = 2                        # PNG colour type: truecolour


def _chunk(out: BinaryIO, kind: bytes, data: bytes) -> None:
    out.write(struct.pack(">I", len(data)))
    out.write(kind)
    out.write(data)
    out.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def _zlib_header(level: int) -> bytes:
    """CMF (deflate, 32 KiB window) and FLG with the level's hint and the check bits."""
    hint = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    flg = hint << 6
    flg += 31 - ((0x78 << 8 | flg) % 31)
    return bytes((0x78, flg))


def _deflate(data: memoryview, primer: bytes, level: int, last: bool) -> bytes:
    packer = (zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, primer)
              if primer else zlib.compressobj(level, zlib.DEFLATED, -15))
    return packer.compress(data) + packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _strips(image: QImage) -> list[tuple[int, int]]:
    return [(top, min(STRIP_ROWS, image.height() - top))
            for top in range(0, image.height(), STRIP_ROWS)]


def _filtered(image: QImage, top: int, count: int) -> memoryview:
    """Rows ``top`` .. ``top + count`` as PNG scanlines: filter byte 0, then R, G, B."""
    width = image.width()
    strip = image.copy(0, top, width, count).convertToFormat(QImage.Format.Format_RGB888)
    bits = np.frombuffer(strip.constBits(), np.uint8, count=strip.sizeInBytes())
    rows = np.empty((count, 1 + width * 3), np.uint8)
    rows[:, 0] = 0
    rows[:, 1:] = bits.reshape(count, strip.bytesPerLine())[:, :width * 3]
    return rows.reshape(-1).data


def write_png(image: QImage, path: str | os.PathLike[str], level: int = LEVEL,
              threads: int = THREADS) -> None:
    """Write ``image`` to ``path`` as PNG (module rules); ``OSError`` if that fails."""
    if image.isNull():
        raise ValueError("cannot write an empty image")
    with open(path, "wb") as out:
        out.write(SIGNATURE)
        _chunk(out, b"IHDR", struct.pack(">IIBBBBB", image.width(), image.height(), 8, _RGB,
                                         0, 0, 0))
        x_dpm, y_dpm = image.dotsPerMeterX(), image.dotsPerMeterY()
        if x_dpm > 0 and y_dpm > 0:
            _chunk(out, b"pHYs", struct.pack(">IIB", x_dpm, y_dpm, 1))
        _chunk(out, b"IDAT", _zlib_header(level))
        if threads > 1:
            with ThreadPoolExecutor(threads, thread_name_prefix="png") as pool:
                checksum = _write_strips(out, image, level, pool.submit, threads * 2)
        else:
            checksum = _write_strips(out, image, level, None, 1)
        _chunk(out, b"IDAT", struct.pack(">I", checksum))
        _chunk(out, b"IEND", b"")


def _write_strips(out: BinaryIO, image: QImage, level: int,
                  submit: Callable[..., Future[bytes]] | None, ahead: int) -> int:
    """Deflate the image's strips (on ``submit``'s threads, at most ``ahead`` in flight)
    and write them in order as IDAT chunks; the Adler-32 of the scanlines."""
    checksum = 1
    primer = b""
    pending: deque[Future[bytes]] = deque()
    strips = _strips(image)
    for k, (top, count) in enumerate(strips):
        data = _filtered(image, top, count)
        checksum = zlib.adler32(data, checksum)
        last = k == len(strips) - 1
        if submit is None:
            _chunk(out, b"IDAT", _deflate(data, primer, level, last))
        else:
            pending.append(submit(_deflate, data, primer, level, last))
            while len(pending) >= ahead or (pending and pending[0].done()):
                _chunk(out, b"IDAT", pending.popleft().result())
        primer = bytes(data[-WINDOW:])
    while pending:
        _chunk(out, b"IDAT", pending.popleft().result())
    return checksum
