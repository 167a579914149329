"""Walking pcap records without a Python step per record: guess, walk in parallel, verify.

The record chain of a pcap file is sequential (each header says where the next one is),
so a Python loop costs ~0.3 us a record. Here the file is cut into blocks; in each block
a likely record start is guessed (a header whose fields look like this file's headers,
followed by two more such headers); all blocks are then walked in lock-step with numpy,
one record per step for every block at once.

Invariants (why the result is exactly the sequential walk, ``records.walk_records``):
- Chain 0 starts at the true first record. A guessed start is used only if the chain
  before it, itself verified, lands exactly on it; the sequential walk visits every
  offset that verified chain visits, so from there the guessed chain is the true one.
- When a guess is not confirmed, the walk goes on sequentially from where the verified
  chain left off, until it lands exactly on a later guess or reaches the end.
- Guesses only affect speed: any file, even one full of fake headers, gives the same
  offsets and the same stop position as the sequential walk.
- ``progress(done, size)`` hears the bytes walked so far (every chain's) at the start,
  after the guesses, every ``_TELL`` lock steps, every ``SEQUENTIAL`` bytes of a
  sequential walk and at the end; it may raise (``Cancelled``), which stops the walk.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

from core.capture.records import walk_records
from core.capture.source import gather_rows
from core.progress import Progress, ignore

Arr = np.ndarray[Any, np.dtype[Any]]

BLOCK = 256 * 1024          # bytes per speculative chain
WINDOW = 2048               # candidate record starts looked at per block
MIN_SIZE = 8 * BLOCK        # below this the sequential walk is as fast
_ROUNDS = 4                 # candidates tried per block
_DEPTH = 3                  # plausible headers in a row needed for a guess
_TELL = 64                  # lock steps between two progress calls
SEQUENTIAL = 8 * 1024**2    # bytes a sequential walk covers between two progress calls


def walk_pcap(raw: Any, buf: Arr, start: int, size: int, big: bool, nano: bool,
              limit: int, progress: Progress = ignore) -> tuple[Arr, int]:
    """Offsets of every pcap record header from ``start``, and where the walk stopped."""
    progress(start, size)
    if size - start < MIN_SIZE:
        offsets, stop = walk_records(raw, start, size, big)
        progress(size, size)
        return _as_array(offsets), stop
    word = np.dtype(">u4" if big else "<u4")
    sec0 = int(buf[start:start + 4].view(word)[0])
    fraction_max = 1_000_000_000 if nano else 1_000_000

    sec_low = np.uint32((sec0 - (1 << 20)) % (1 << 32))
    sec_span = np.uint32((1 << 28) + (1 << 20))

    def plausible(sec: Arr, frac: Arr, incl: Arr, orig: Arr) -> Arr:
        """Header fields (uint32) that look like this file's: a cheap, imperfect test."""
        ok: Arr = frac < fraction_max
        ok &= incl <= limit
        ok &= incl <= orig
        ok &= orig <= 1 << 24
        ok &= (sec - sec_low) <= sec_span          # wraps: one test for a range
        return ok

    high = start

    def tell(done: int) -> None:
        nonlocal high
        high = max(high, min(done, size))
        progress(high, size)

    starts = _guess_starts(buf, start, size, word, plausible, lambda: tell(start))
    pos, chain, step, ends = _lockstep(buf, starts, size, word, tell)
    counts = np.bincount(chain, minlength=starts.size)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    ordered = np.empty(pos.size, np.int64)
    ordered[first[chain] + step] = pos

    pieces: list[Arr] = []
    j, k = 0, starts.size
    while True:
        pieces.append(ordered[first[j]:first[j] + counts[j]])
        off = int(ends[j])
        j += 1
        if j < k and off == int(starts[j]):
            continue
        # No (confirmed) next chain: go on sequentially until a later guess is hit.
        walked: array[int] = array("q")
        while True:
            while j < k and int(starts[j]) < off:
                j += 1
            if j < k and int(starts[j]) == off:
                break
            target = min(int(starts[j]) if j < k else size, off + SEQUENTIAL)
            segment, off = walk_records(raw, off, size, big, stop_at=target)
            walked.extend(segment)
            tell(off)
            if off > size - 16:
                pieces.append(_as_array(walked))
                tell(size)
                return np.concatenate(pieces), off
        pieces.append(_as_array(walked))


def _as_array(walked: array[int]) -> Arr:
    return np.frombuffer(walked, np.int64) if len(walked) else np.zeros(0, np.int64)


def _guess_starts(buf: Arr, start: int, size: int, word: np.dtype[Any],
                  plausible: Any, check: Callable[[], None]) -> Arr:
    """Chain starts: the true first record, then one guessed record start per block
    (``check()`` between the array passes)."""
    nominal = np.arange(start + BLOCK, size - WINDOW - 64, BLOCK, dtype=np.int64)
    if nominal.size == 0:
        return np.array([start], np.int64)
    rows = gather_rows(buf, nominal, WINDOW + 16)
    check()
    fields = [np.ndarray(shape=(nominal.size, WINDOW), dtype=word, buffer=rows, offset=4 * k,
                         strides=(WINDOW + 16, 1)) for k in range(4)]
    ok: Arr = plausible(*fields)
    found = np.full(nominal.size, -1, np.int64)
    for _ in range(_ROUNDS):
        check()
        todo = np.flatnonzero((found < 0) & ok.any(axis=1))
        if todo.size == 0:
            break
        column = np.argmax(ok[todo], axis=1)
        cand = nominal[todo] + column
        good = np.ones(todo.size, bool)
        at = cand.copy()
        for _depth in range(_DEPTH):
            inside = at + 16 <= size
            head = gather_rows(buf, np.where(inside, at, 0), 16).view(word)
            good &= plausible(head[:, 0], head[:, 1], head[:, 2], head[:, 3]) & inside
            at = at + 16 + head[:, 2].astype(np.int64)
        found[todo[good]] = cand[good]
        ok[todo[~good], column[~good]] = False
    return np.concatenate([[start], found[found >= 0]]).astype(np.int64)


def _lockstep(buf: Arr, starts: Arr, size: int, word: np.dtype[Any],
              tell: Callable[[int], None]) -> tuple[Arr, Arr, Arr, Arr]:
    """Walk all chains one record per step; chain j stops at or past ``starts[j+1]``
    (``tell`` hears the bytes every chain walked, every ``_TELL`` steps)."""
    lengths = np.ndarray(shape=(size - 11,), dtype=word, buffer=buf, offset=8, strides=(1,))
    stop = np.minimum(np.append(starts[1:], size), size - 15)
    here = starts.copy()
    ids = np.arange(starts.size)
    ends = np.full(starts.size, size, np.int64)
    pos_parts: list[Arr] = []
    chain_parts: list[Arr] = []
    sizes: list[int] = []
    while ids.size:
        live = here < stop
        if not live.all():
            ends[ids[~live]] = here[~live]
            here, stop, ids = here[live], stop[live], ids[live]
            if ids.size == 0:
                break
        pos_parts.append(here)
        chain_parts.append(ids)
        sizes.append(ids.size)
        here = here + 16 + lengths[here]
        if len(sizes) % _TELL == 0:
            ended = ~np.isin(np.arange(starts.size), ids)
            done = int((ends[ended] - starts[ended]).sum() + (here - starts[ids]).sum())
            tell(int(starts[0]) + done)
    if not pos_parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, ends
    step = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    return np.concatenate(pos_parts), np.concatenate(chain_parts), step, ends
