"""Every stream of every corpus capture draws: layout, a painted frame with the cursor
mid-stream, the details of its middle segment, and a page of export."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from pytestqt.qtbot import QtBot

from core.capture import list_streams, read_capture
from core.details import ReplaySource, segment_details
from core.errors import SynAckError
from core.replay import replay_stream
from gui.diagram.diagram_layout import DiagramLayout
from gui.diagram.diagram_painter import DiagramPainter

STREAMS_PER_FILE = 4


@pytest.mark.corpus
def test_every_corpus_stream_draws(qtbot: QtBot, corpus: Path) -> None:
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".pcap", ".pcapng"))
    assert len(files) > 20
    drawn = 0
    for path in files:
        try:
            index = read_capture(str(path))
        except SynAckError:
            continue                      # the corpus's deliberately broken files
        for row in list_streams(index)[:STREAMS_PER_FILE]:
            replay = replay_stream(index, int(row["stream"]))
            timeline = replay.timeline
            for compact in (False, True):
                layout = DiagramLayout(timeline, compact=compact)
                mid = len(timeline) // 2
                cols = layout.cols
                arrow = layout.arrow(mid)
                image = QImage(int(layout.width), 600, QImage.Format.Format_RGB32)
                painter = QPainter(image)
                top = max(0.0, arrow.y0 - 300)
                painter.translate(0, -top)
                DiagramPainter(layout).paint(painter, QRectF(0, top, layout.width, 600),
                                             cursor=float(cols.sent[mid]), selected=mid)
                painter.end()
                assert layout.hit((arrow.x0 + arrow.x1) / 2, (arrow.y0 + arrow.y1) / 2) \
                    is not None, path.name
            details = segment_details(timeline, mid,
                                      capture=ReplaySource(index=index, replay=replay))
            assert details.tcpdump
            drawn += 1
    assert drawn > 30
