"""Lazy views that let a replayed Timeline hold 100,000 segments without building them.

Invariants:
- Each view is an immutable ``Sequence``: element ``i`` is built on first access from
  plain columns and never changes; slices give lists.
- ``LazySegments`` reads the capture file in blocks of ``BLOCK`` packets and keeps at most
  ``KEEP`` blocks, so memory stays bounded however long the stream.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, overload

import numpy as np

from core.capture.index import CaptureIndex
from core.capture.segments import segments_of
from core.gcpause import paused
from core.progress import Progress, ignore
from core.replay.infer import ARRIVED, SENT, SPARSE
from core.tcp.segment import Segment
from core.tcp.states import Side, TcpState
from core.trace import (
    Event,
    Row,
    SegmentArrived,
    SegmentLost,
    SegmentRecord,
    SegmentSent,
    WindowSeries,
    WindowSnapshot,
)
from core.trace_columns import SegmentColumns

T = TypeVar("T")
BLOCK = 512
KEEP = 64


class _Lazy(Sequence[T]):
    """A sequence whose items come from ``self._make(i)``."""

    _length: int

    def __len__(self) -> int:
        return self._length

    def _make(self, i: int) -> T:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._make(j) for j in range(*i.indices(self._length))]
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError(i)
        return self._make(i)

    def __iter__(self) -> Iterator[T]:
        for i in range(self._length):
            yield self._make(i)


class LazySegments(_Lazy[SegmentRecord]):
    """Timeline segments of a replay: packet rows, times, fates and labels as columns."""

    def __init__(self, index: CaptureIndex, rows: np.ndarray[Any, Any], from_client: list[bool],
                 send: list[float], arrive: list[float | None], frames: list[int],
                 labels: Callable[[int], tuple[str, ...]]) -> None:
        self._index = index
        self._rows = rows
        self._from_client = from_client
        self._send = send
        self._arrive = arrive
        self._frames = frames
        self._labels = labels
        self._length = len(send)
        self._blocks: OrderedDict[int, list[Segment]] = OrderedDict()

    def segment(self, i: int) -> Segment:
        block = i // BLOCK
        segs = self._blocks.get(block)
        if segs is None:
            start = block * BLOCK
            segs = segments_of(self._index, self._rows[start:start + BLOCK])
            self._blocks[block] = segs
            if len(self._blocks) > KEEP:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(block)
        return segs[i % BLOCK]

    def columns(self) -> SegmentColumns:
        """Senders and times of every segment as arrays (no segment is built)."""
        arrive = np.array([np.nan if a is None else a for a in self._arrive], dtype=np.float64)
        return SegmentColumns(from_client=np.array(self._from_client, dtype=bool),
                              sent=np.array(self._send, dtype=np.float64), arrived=arrive)

    def _make(self, i: int) -> SegmentRecord:
        return SegmentRecord(index=i, sender=Side.CLIENT if self._from_client[i] else Side.SERVER,
                             segment=self.segment(i), sent=self._send[i],
                             arrived=self._arrive[i], frame=self._frames[i],
                             labels=self._labels(i))


class LazyEvents(_Lazy[Event]):
    """The time-ordered events: segment events from columns, the rest given as objects
    (``kinds``, ``refs`` and ``times`` as :class:`core.replay.infer.Inference` has them)."""

    def __init__(self, kinds: np.ndarray[Any, Any], refs: np.ndarray[Any, Any],
                 times: np.ndarray[Any, Any], from_client: list[bool],
                 sparse: list[Event]) -> None:
        self._kinds = kinds
        self._refs = refs
        self._times = times
        self._from_client = from_client
        self._sparse = sparse
        self._length = len(kinds)

    def _make(self, i: int) -> Event:
        kind, ref = int(self._kinds[i]), int(self._refs[i])
        time = float(self._times[i])
        if kind == SPARSE:
            return self._sparse[ref]
        sender = Side.CLIENT if self._from_client[ref] else Side.SERVER
        if kind == SENT:
            return SegmentSent(time=time, side=sender, index=ref)
        if kind == ARRIVED:
            return SegmentArrived(time=time, side=sender.peer, index=ref)
        return SegmentLost(time=time, side=sender.peer, index=ref,
                           reason="not seen arriving: sent again before any ACK covered it")


class LazySnapshots(_Lazy[WindowSnapshot | None]):
    """One side's bookkeeping series as snapshots, built on access."""

    def __init__(self, side: Side, values: list[tuple[int | None, ...]]) -> None:
        self._side = side
        self._values = values
        self._length = len(values)

    def _make(self, i: int) -> WindowSnapshot | None:
        return _snapshot(self._side, self._values[i])


Series = tuple[tuple[list[float], list[tuple[int | None, ...]]],
               tuple[list[float], list[tuple[int | None, ...]]]]
#: per row, the client's numbers and the server's (``Inference.client_windows``, ...)
RowWindows = tuple[list[tuple[int | None, ...]], list[tuple[int | None, ...]]]


class LazyWindowSeries(WindowSeries):
    """A replay's :class:`core.trace.WindowSeries`, made on first use by ``make`` (a walk
    of the stream that keeps ``Inference.series`` and each row's numbers): tracing and
    listing streams never pay for it; the window bars do, once (the GUI's loader asks
    in its worker). The rows' numbers (``row_windows``) come from the same walk."""

    __slots__ = ("_make_series", "_ready", "_rows")

    def __init__(self, make: Callable[[Progress], tuple[Series, RowWindows]]) -> None:
        super().__init__({}, {})
        self._make_series: Callable[[Progress], tuple[Series, RowWindows]] | None = make
        self._ready = False
        self._rows: RowWindows = ([], [])

    @property
    def ready(self) -> bool:
        """The series is made (``prepare`` costs nothing any more)."""
        return self._ready

    def prepare(self, progress: Progress = ignore) -> None:
        if self._ready:
            return
        assert self._make_series is not None
        with paused():              # a walk of small tuples, as the replay's own
            ((c_times, c_values), (s_times, s_values)), self._rows = self._make_series(
                progress)
        self._times = {Side.CLIENT: c_times, Side.SERVER: s_times}
        self._values = {Side.CLIENT: LazySnapshots(Side.CLIENT, c_values),
                        Side.SERVER: LazySnapshots(Side.SERVER, s_values)}
        self._make_series = None
        self._ready = True

    def at(self, side: Side, time: float) -> tuple[float, WindowSnapshot] | None:
        self.prepare()
        return super().at(side, time)

    def row_windows(self) -> RowWindows:
        """Per row, both sides' numbers once its segment took effect (made with the
        series)."""
        self.prepare()
        return self._rows


class LazyRows(_Lazy[Row]):
    """Both sides' state and window bookkeeping after each segment; the states are
    given, the numbers made on the first row asked for (``windows()``: they cost a walk
    of their own, see :class:`LazyWindowSeries`)."""

    def __init__(self, client: list[TcpState], server: list[TcpState],
                 windows: Callable[[], RowWindows]) -> None:
        self._client = client
        self._server = server
        self._windows = windows
        self._length = len(client)

    def states(self) -> tuple[list[TcpState], list[TcpState]]:
        """Both sides' states after every segment, as the lists they are (no row made)."""
        return self._client, self._server

    def _make(self, i: int) -> Row:
        client, server = self._windows()
        return Row(client=self._client[i], server=self._server[i],
                   client_window=_snapshot(Side.CLIENT, client[i]),
                   server_window=_snapshot(Side.SERVER, server[i]))


def _snapshot(side: Side, values: tuple[int | None, ...]) -> WindowSnapshot | None:
    """A window snapshot from ``core.replay.infer.snapshot`` values (None: not known)."""
    if not values or values[2] is None:
        return None
    iss, irs, una, nxt, snd_wnd, rcv_nxt, rcv_wnd = values
    assert una is not None
    return WindowSnapshot(side=side, iss=una if iss is None else iss, irs=irs, snd_una=una,
                          snd_nxt=una if nxt is None else nxt, snd_wnd=snd_wnd or 0,
                          snd_queued=0, rcv_nxt=rcv_nxt or 0, rcv_wnd=rcv_wnd or 0,
                          rcv_buffered=0)
