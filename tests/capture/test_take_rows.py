"""``take_rows`` (np.take) gives what numpy's fancy indexing of the index gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.capture import read_capture
from core.capture.index import PACKET_DTYPE, take_rows


def test_take_rows_is_fancy_indexing(corpus: Path) -> None:
    index = read_capture(str(corpus / "kernel" / "loss5_delay20_bulk_client.pcap"))
    p = index.packets
    rng = np.random.default_rng(7)
    for rows in (np.arange(len(p)), rng.integers(0, len(p), 500), np.arange(len(p))[::-3],
                 np.zeros(0, np.int64), np.array([len(p) - 1, 0, 0, -1])):
        taken = take_rows(p, rows)
        assert taken.dtype == PACKET_DTYPE
        assert np.array_equal(taken, p[rows])
