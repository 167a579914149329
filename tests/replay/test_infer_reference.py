"""The walk's inline paths (core.replay.infer) find what its readable definitions find.

``infer`` does the common sends and data inline and finds the rows after the walk from
the steps of the flush points and state changes; ``infer(reference=True)`` sends every
segment through ``Run.sent`` and ``Run.take_data`` and keeps both states at each flush
point as it is made. Every walk a replay makes (the explanation's, the other readings',
the window walk) is run both ways here, on every corpus stream and on impaired
simulated exchanges captured at every tap, and must give the same inference.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import core.replay as replay_module
from core.capture import read_capture
from core.errors import SynAckError
from core.replay import replay_stream
from core.replay.infer import infer
from core.replay.sides import Inference
from core.simulate.scenarios import get
from tests.conftest import CORPUS
from tests.fidelity.harness import TAPS, generate, write_capture

_FILES = (sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.pcap*"))
          if CORPUS.is_dir() else ["(no corpus)"])


def _same(fast: Inference, slow: Inference) -> None:
    for field in dataclasses.fields(Inference):
        mine, theirs = getattr(fast, field.name), getattr(slow, field.name)
        if isinstance(mine, np.ndarray):
            assert np.array_equal(mine, theirs), field.name
        else:
            assert mine == theirs, field.name


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every walk of the replays made meanwhile also runs as the reference (with and
    without the window series); yields the count of walks compared."""
    count = [0]

    def both(**kwargs: Any) -> Inference:
        fast = infer(**kwargs)
        quiet = {**kwargs, "progress": lambda done, total: None}
        _same(fast, infer(**quiet, reference=True))
        _same(infer(**{**quiet, "series": True}),
              infer(**{**quiet, "series": True}, reference=True))
        count[0] += 1
        return fast
    monkeypatch.setattr(replay_module, "infer", both)
    yield count


@pytest.mark.corpus
@pytest.mark.parametrize("name", _FILES)
def test_corpus_walks_equal_the_reference(corpus: Path, name: str,
                                          walks: list[int]) -> None:
    try:
        index = read_capture(str(corpus / name))
    except Exception:               # a broken file: tested elsewhere, no walk to compare
        return
    for stream in sorted(set(index.packets["stream"].tolist())):
        replay_stream(index, stream)


def test_impaired_exchanges_walk_as_the_reference(walks: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for number, case in enumerate(generate(20261203, 40)):
            try:
                timeline = get(case.scenario).run(case.overrides())
            except SynAckError:
                continue
            for tap in TAPS:
                suffix = "pcapng" if tap == "both" else "pcap"
                path = str(Path(folder) / f"{number}-{tap.replace(':', '_')}.{suffix}")
                if not write_capture(timeline, path, tap):
                    continue
                index = read_capture(path)
                for stream in sorted(set(index.packets["stream"].tolist())):
                    replay_stream(index, stream)
    assert walks[0] > 100
