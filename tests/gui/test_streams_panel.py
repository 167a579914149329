"""``StreamsPanel``: columns, numeric sorting, filter, selection and ``stream_chosen``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from pytestqt.qtbot import QtBot

from core.capture import read_capture
from core.replay.report import stream_rows
from core.states import TcpState
from gui import style
from gui.streams_panel import (
    BYTES,
    CLIENT,
    CLIENT_STATE,
    COLUMNS,
    DURATION,
    OTHER,
    PACKETS,
    RETRANSMISSIONS,
    SERVER_STATE,
    STREAM,
    STREAM_ROLE,
    StreamsPanel,
)
from tests.capture import builders as b


def _row(stream: int, packets: int, *, host: int = 1, port: int = 40000,
         labels: dict[str, int] | None = None, final: str = "ESTABLISHED") -> dict[str, Any]:
    """A row in the ``stream_rows`` schema."""
    return {"stream": stream, "client": {"address": f"10.0.0.{host}", "port": port},
            "server": {"address": "10.0.1.80", "port": 80}, "packets": packets,
            "bytes": packets * 1000, "first": 0.5 * stream, "last": 0.5 * stream + packets,
            "final": {"client": final, "server": "CLOSE_WAIT"},
            "analysis": labels or {}}


def _panel(qtbot: QtBot, rows: list[dict[str, Any]], name: str = "test.pcap",
           warnings: tuple[str, ...] = ()) -> StreamsPanel:
    panel = StreamsPanel()
    qtbot.add_widget(panel)
    panel.set_rows(rows, name, warnings)
    panel.resize(600, 300)
    return panel


def _column(panel: StreamsPanel, column: int, role: int = STREAM_ROLE) -> list[Any]:
    proxy = panel.proxy
    return [proxy.index(r, column).data(role) for r in range(proxy.rowCount())]


ROWS = [_row(0, 9, host=10), _row(1, 100, host=9), _row(2, 10, host=100),
        _row(3, 1000, host=2, labels={"retransmission": 3, "fast_retransmission": 1,
                                      "duplicate_ack": 7}, final="TIME_WAIT")]


def test_columns_show_core_rows(qtbot: QtBot) -> None:
    panel = _panel(qtbot, ROWS)
    model = panel.model
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))][:4] \
        == ["Stream", "Client", "Server", "Packets"]
    text = [model.index(3, c).data() for c in range(len(COLUMNS))]
    assert text[STREAM] == "3" and text[CLIENT] == "10.0.0.2:40000"
    assert text[PACKETS] == "1\u2009000" and text[BYTES] == "1.0 MB"
    assert text[DURATION] == "1000.000 s"
    assert text[CLIENT_STATE] == "TIME_WAIT" and text[SERVER_STATE] == "CLOSE_WAIT"
    assert text[RETRANSMISSIONS] == "3"
    assert text[OTHER] == "fast retr×1, dup ACK×7"
    tip = model.index(3, OTHER).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.splitlines() == ["retransmission: 3", "fast_retransmission: 1",
                                "duplicate_ack: 7"]
    brush = model.index(3, CLIENT_STATE).data(Qt.ItemDataRole.BackgroundRole)
    assert isinstance(brush, QBrush)
    assert brush.color() == style.phase_fill(style.phase_of(TcpState.TIME_WAIT))
    assert model.index(0, OTHER).data() == "" and model.index(0, RETRANSMISSIONS).data() == "0"
    assert panel.title.text() == "test.pcap · 4 TCP streams"
    assert not panel.warning.isVisibleTo(panel)


def test_first_stream_is_selected_without_a_signal(qtbot: QtBot) -> None:
    panel = StreamsPanel()
    qtbot.add_widget(panel)
    with qtbot.assert_not_emitted(panel.stream_chosen):
        panel.set_rows(ROWS[::-1], "test.pcap")
        assert panel.selected_stream() == 3          # the first row core gave
        assert panel.select_stream(1) and panel.selected_stream() == 1
    assert not panel.select_stream(42)


@pytest.mark.parametrize(("column", "order", "streams"), [
    (PACKETS, Qt.SortOrder.DescendingOrder, [3, 1, 2, 0]),
    (PACKETS, Qt.SortOrder.AscendingOrder, [0, 2, 1, 3]),
    (CLIENT, Qt.SortOrder.AscendingOrder, [3, 1, 0, 2]),     # .2, .9, .10, .100
    (RETRANSMISSIONS, Qt.SortOrder.DescendingOrder, [3, 0, 1, 2]),
    (STREAM, Qt.SortOrder.DescendingOrder, [3, 2, 1, 0]),
])
def test_sorting_is_numeric(qtbot: QtBot, column: int, order: Qt.SortOrder,
                            streams: list[int]) -> None:
    panel = _panel(qtbot, ROWS)
    panel.table.sortByColumn(column, order)
    assert _column(panel, STREAM) == streams


def test_click_and_enter_choose_the_row_under_them(qtbot: QtBot) -> None:
    panel = _panel(qtbot, ROWS)
    panel.show()
    qtbot.wait_exposed(panel)
    table = panel.table
    table.sortByColumn(PACKETS, Qt.SortOrder.DescendingOrder)   # rows no longer = streams
    rect = table.visualRect(panel.proxy.index(2, PACKETS))
    with qtbot.wait_signal(panel.stream_chosen) as blocker:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [2]
    assert panel.selected_stream() == 2
    panel.select_stream(0)
    with qtbot.wait_signal(panel.stream_chosen) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert blocker.args == [0]


def test_filter_keeps_matching_rows(qtbot: QtBot) -> None:
    panel = _panel(qtbot, ROWS)
    panel.filter.setText("time_wait")
    assert _column(panel, STREAM) == [3]
    panel.filter.setText("10.0.0.10:")
    assert _column(panel, STREAM) == [0]
    panel.filter.clear()
    assert panel.proxy.rowCount() == 4


def test_no_streams(qtbot: QtBot) -> None:
    panel = _panel(qtbot, [], "udp-only.pcap", ("at byte 24: something odd",))
    assert panel.pages.currentWidget() is panel.empty
    assert panel.empty.text() == "No TCP streams in this capture"
    assert panel.title.text() == "udp-only.pcap · 0 TCP streams"
    assert panel.warning.isVisibleTo(panel) and "something odd" in panel.warning.text()
    assert panel.selected_stream() is None and not panel.filter.isEnabled()
    panel.set_rows(ROWS, "again.pcap")
    assert panel.pages.currentWidget() is panel.table and panel.filter.isEnabled()


def test_many_streams(qtbot: QtBot, tmp_path: Path) -> None:
    frames: list[bytes] = []
    for k in range(422):
        frames += b.handshake(client=f"10.0.{k // 200}.{k % 200 + 1}", cport=40000 + k)[:3 + k % 3]
    path = tmp_path / "many.pcap"
    path.write_bytes(b.pcap(frames))
    rows = stream_rows(read_capture(path))
    panel = _panel(qtbot, rows, path.name)
    assert panel.proxy.rowCount() == 422
    assert panel.title.text() == "many.pcap · 422 TCP streams"
    panel.table.sortByColumn(PACKETS, Qt.SortOrder.DescendingOrder)
    packets = [panel.proxy.index(r, PACKETS).data(Qt.ItemDataRole.UserRole)
               for r in range(422)]
    assert packets == sorted(packets, reverse=True) and packets[0] == 5
    assert panel.select_stream(421)
    assert not panel.grab().isNull()


def test_corpus_capture(qtbot: QtBot, corpus: Path) -> None:
    path = corpus / "kernel" / "loss5_delay20_bulk_server.pcap"
    rows = stream_rows(read_capture(path))
    panel = _panel(qtbot, rows, path.name)
    model = panel.model
    assert model.index(0, RETRANSMISSIONS).data() == str(rows[0]["analysis"]["retransmission"])
    assert "dup ACK×102" in model.index(0, OTHER).data()
    assert model.index(0, CLIENT_STATE).data() == rows[0]["final"]["client"]
    assert panel.selected_stream() == 0
    assert model.rowCount(model.index(0, STREAM)) == 0         # a flat table
