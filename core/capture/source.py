"""The capture file as bytes: a read-only memory map and fast gathers over it.

Invariants:
- A ``Source`` never copies the file: ``buf`` is a read-only ``uint8`` view of the map.
- ``gather_rows`` returns exactly ``width`` bytes per offset; bytes past the end of the
  file read as zero, so callers may over-read and must mask with the captured length.
- Every failure to open or map the file becomes one ``CaptureError``.
- ``load`` brings the file into memory a ``LOAD_CHUNK`` at a time (the disk reads a
  capture's first pass would otherwise make in one long, silent page-fault storm), telling
  its progress after each chunk; without it, files under 2 GiB are pre-faulted at ``mmap``.
- Only regular files are read: a named pipe, a device (``/dev/zero``), a directory or a
  socket is refused before any read, and opening never blocks (``O_NONBLOCK``), so a
  FIFO with no writer cannot hang the reader (see ``open_regular``).
"""

from __future__ import annotations

import mmap
import os
import stat
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from core.errors import CaptureError
from core.progress import Progress
from core.text import counted

U8 = np.ndarray[Any, np.dtype[np.uint8]]
I64 = np.ndarray[Any, np.dtype[np.int64]]

#: Files above this size are refused rather than indexed (the index costs ~1/10 of it).
DEFAULT_MAX_BYTES = 64 * 1024**3
_POPULATE_BELOW = 2 * 1024**3
#: Bytes ``Source.load`` brings in between two progress calls.
LOAD_CHUNK = 16 * 1024**2
#: Rows ``gather_rows`` gathers between two checks.
GATHER_CHUNK = 1 << 17
#: Linux's madvise(2) MADV_POPULATE_READ (5.14+; the mmap module has no name for it).
_MADV_POPULATE_READ = 22


class Source:
    """A capture file mapped read-only; use as a context manager."""

    def __init__(self, path: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 populate: bool = True) -> None:
        """``populate=False``: map only; ``load`` brings the bytes in later."""
        self.path = path
        fd = open_regular(path)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                raise CaptureError(path, 0, "the file is empty")
            if size > max_bytes:
                raise CaptureError(path, 0, f"the file is {counted(size, 'byte')}, over the "
                                            f"{max_bytes}-byte limit")
            self._map = _map_file(fd, size, populate)
        except OSError as exc:
            raise CaptureError(path, 0, f"cannot read the file: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)
        self.size = len(self._map)
        self.buf: U8 = np.frombuffer(self._map, dtype=np.uint8)

    def load(self, progress: Progress) -> None:
        """Bring the file into memory a ``LOAD_CHUNK`` at a time: ``progress(bytes, size)``
        at the start and after each chunk (it may raise ``Cancelled``). Where the kernel
        cannot populate a range, the pages fault in later, as they are read."""
        progress(0, self.size)
        advise = getattr(self._map, "madvise", None)
        advice = _MADV_POPULATE_READ if sys.platform.startswith("linux") else \
            getattr(mmap, "MADV_WILLNEED", None)
        for start in range(0, self.size, LOAD_CHUNK):
            length = min(LOAD_CHUNK, self.size - start)
            if advise is not None and advice is not None:
                try:
                    advise(advice, start, length)
                except (OSError, ValueError):     # an older kernel: fault in as read
                    advice = None
            progress(start + length, self.size)

    @property
    def raw(self) -> mmap.mmap:
        return self._map

    def error(self, offset: int, problem: str) -> CaptureError:
        return CaptureError(self.path, offset, problem)

    def close(self) -> None:
        # Views into the map must be gone before it can close; if some survive, let the
        # garbage collector close it later rather than fail.
        self.buf = np.zeros(0, np.uint8)
        try:
            self._map.close()
        except BufferError:
            pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def open_regular(path: str) -> int:
    """A read-only descriptor of ``path``, which must be a regular file.

    The open never blocks (``O_NONBLOCK``: a FIFO without a writer would otherwise wait
    forever); anything but a regular file is closed again and refused with a
    ``CaptureError`` naming what it is. The caller closes the descriptor.
    """
    if not path:
        raise CaptureError(path, 0, "the file name is empty")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise CaptureError(path, 0, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise CaptureError(path, 0, f"cannot read the file: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(mode)), "not a plain file")
        raise CaptureError(path, 0, f"not a regular file: it is {kind}; a capture must "
                                    "be a regular pcap or pcapng file")
    return fd


def _map_file(fileno: int, size: int, populate: bool) -> mmap.mmap:
    """Map read-only; pre-fault the pages of files that fit easily in memory (Linux)."""
    flag = getattr(mmap, "MAP_POPULATE", 0)
    if populate and flag and size <= _POPULATE_BELOW:
        return mmap.mmap(fileno, 0, flags=mmap.MAP_SHARED | flag, prot=mmap.PROT_READ)
    return mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)


def gather_rows(buf: U8, offsets: I64, width: int,
                check: Callable[[], None] | None = None) -> U8:
    """``width`` bytes starting at each offset, as an (n, width) array (zero past the end);
    with ``check``, a ``GATHER_CHUNK`` of rows at a time, calling it after each."""
    rows_n = offsets.shape[0]
    if check is None or rows_n <= GATHER_CHUNK:
        return _gather(buf, offsets, width)
    out = np.empty((rows_n, width), np.uint8)
    for start in range(0, rows_n, GATHER_CHUNK):
        out[start:start + GATHER_CHUNK] = _gather(buf, offsets[start:start + GATHER_CHUNK],
                                                  width)
        check()
    return out


def _gather(buf: U8, offsets: I64, width: int) -> U8:
    n = buf.shape[0]
    rows_n = offsets.shape[0]
    limit = n - width
    if limit >= 0:
        view = as_strided(buf, shape=(limit + 1, width), strides=(1, 1), writeable=False)
        if rows_n == 0 or int(offsets.max()) <= limit:
            return view[offsets]
        out = np.zeros((rows_n, width), np.uint8)
        inside = offsets <= limit
        out[inside] = view[offsets[inside]]
        rest = np.flatnonzero(~inside)
    else:
        out = np.zeros((rows_n, width), np.uint8)
        rest = np.arange(rows_n)
    for r in rest.tolist():
        start = int(offsets[r])
        chunk = buf[start:start + width]
        out[r, :chunk.shape[0]] = chunk
    return out


def be16(rows: U8, col: int) -> np.ndarray[Any, np.dtype[np.uint16]]:
    """Big-endian 16-bit values at column ``col`` of every row."""
    high = rows[:, col].astype(np.uint16) << np.uint16(8)
    return np.asarray(high | rows[:, col + 1], dtype=np.uint16)


def _word(rows: U8, col: int, dtype: str) -> np.ndarray[Any, np.dtype[np.uint32]]:
    part = rows[:, col:col + 4]
    if part.strides[1] != 1:
        part = np.ascontiguousarray(part)
    return np.asarray(part.view(dtype)[:, 0], dtype=np.uint32)


def be32(rows: U8, col: int) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """Big-endian 32-bit values at columns ``col..col+3`` of every row."""
    return _word(rows, col, ">u4")


def le32(rows: U8, col: int) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """Little-endian 32-bit values at columns ``col..col+3`` of every row."""
    return _word(rows, col, "<u4")


def u32(rows: U8, col: int, big: bool) -> np.ndarray[Any, np.dtype[np.uint32]]:
    return be32(rows, col) if big else le32(rows, col)
