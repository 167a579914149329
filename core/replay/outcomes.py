"""Each stream's final states and tshark label counts, any streams, a batch at a time.

    outcomes = StreamOutcomes(index)        # one sort of the stream ids
    outcomes.compute([7, 3, 12])            # -> [Outcome, Outcome, Outcome]
    for outcome in outcomes.each(range(len(outcomes))): ...   # one at a time

Rules:
1. An ``Outcome`` is what ``synack streams --states`` adds to a row of
   :mod:`core.streams.stream_table`: both sides' states after the stream's last packet (its
   replay's ``Timeline.states_after``) and how many packets carry each tshark label
   (``StreamAnalysis.counts``, zero counts left out, ``LABELS`` order).
2. ``compute`` gives the same outcome for a stream whatever else is in the batch and in
   whatever order streams are asked for: it is the replay of that stream, with the
   analysis :func:`core.analysis.analyze_streams` makes for it (the same as
   ``analyze_capture``'s and ``analyze_stream``'s). Finding a stream's packets costs
   no scan of the index (one stable sort is made up front), and the batch's TCP
   options are read in one pass over the file. ``each`` analyses ``BATCH_STREAMS``
   streams or ``BATCH_PACKETS`` packets at a time (whichever comes first), so its
   memory stays bounded whatever the capture, and yields after each replay.
3. Nothing here holds a thread or a clock: the GUI calls ``compute`` from a worker,
   with batches small enough to stop soon after it is told to.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analysis.api import analyze_streams, reused_endpoints
from core.capture.index import CaptureIndex
from core.errors import SynAckError
from core.replay import replay_stream
from core.tcp.states import TcpState

Arr = np.ndarray[Any, np.dtype[Any]]
#: ``each`` analyses at most this many streams, or packets, together (rule 2).
BATCH_STREAMS = 256
BATCH_PACKETS = 200_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """One stream's final states and nonzero tshark label counts (rule 1)."""

    stream: int
    client: TcpState
    server: TcpState
    analysis: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The ``final`` and ``analysis`` keys of a ``synack streams --states`` row."""
        return {"final": {"client": self.client.value, "server": self.server.value},
                "analysis": dict(self.analysis)}


class StreamOutcomes:
    """Outcomes of the streams of one index, computed on demand (module rules)."""

    def __init__(self, index: CaptureIndex) -> None:
        self.index = index
        stream = index.packets["stream"]
        self._order = np.argsort(stream, kind="stable")
        sizes = np.bincount(stream) if stream.size else np.zeros(0, np.int64)
        self._bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        heads = index.packets[self._order[self._bounds[:-1]]]
        self._reused = reused_endpoints(heads) if len(heads) else np.zeros(0, bool)

    def __len__(self) -> int:
        return int(self._bounds.shape[0]) - 1

    def packets(self, stream: int) -> int:
        """How many packets ``stream`` has (to size batches)."""
        return int(self.rows(stream).shape[0])

    def rows(self, stream: int) -> Arr:
        """The index rows of ``stream``, frame order."""
        if not 0 <= stream < len(self):
            raise SynAckError(f"{self.index.path}: no TCP stream {stream}")
        return self._order[self._bounds[stream]:self._bounds[stream + 1]]

    def compute(self, streams: Sequence[int]) -> list[Outcome]:
        """The outcome of each of ``streams``, in that order, analysed together."""
        return list(self._batch([int(s) for s in streams]))

    def each(self, streams: Iterable[int]) -> Iterator[Outcome]:
        """The outcome of each of ``streams`` in that order, one replay at a time."""
        batch: list[int] = []
        packets = 0
        for stream in streams:
            size = self.packets(int(stream))
            if batch and (len(batch) >= BATCH_STREAMS or packets + size > BATCH_PACKETS):
                yield from self._batch(batch)
                batch, packets = [], 0
            batch.append(int(stream))
            packets += size
        yield from self._batch(batch)

    def _batch(self, streams: list[int]) -> Iterator[Outcome]:
        analyses = analyze_streams(self.index, streams, [self.rows(s) for s in streams],
                                   [bool(self._reused[s]) for s in streams])
        for stream, analysis in zip(streams, analyses, strict=True):
            tl = replay_stream(self.index, stream, analysis).timeline
            client, server = tl.states_after(len(tl) - 1)
            counts = {k: v for k, v in analysis.counts().items() if v}
            yield Outcome(stream, client, server, counts)
