"""``StreamsPanel``: columns, numeric sorting, filter, selection, ``stream_chosen``, and the
final states and labels filled in the background (rows in view first, cancelled by a new
table), on tables of a few rows and of a million."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush
from pytestqt.qtbot import QtBot

from core.capture import read_capture
from core.replay.outcomes import Outcome
from core.replay.report import stream_rows
from core.streams.stream_table import TABLE_DTYPE, StreamTable, stream_table
from core.tcp.states import TcpState
from gui.diagram import style
from gui.sources.streams_panel import (
    BYTES,
    CLIENT,
    CLIENT_STATE,
    COLUMNS,
    DURATION,
    FLAGS,
    OTHER,
    PACKETS,
    RETRANSMISSIONS,
    SERVER_STATE,
    SORT_ROLE,
    STREAM,
    STREAM_ROLE,
    StreamsModel,
    StreamsPanel,
)
from tests.capture import builders as b

TIMEOUT = 60_000
ADDRESSES = ["10.0.0.2", "10.0.0.9", "10.0.0.10", "10.0.0.100", "10.0.1.80"]


def _table(specs: list[tuple[int, int]]) -> StreamTable:
    """(client address id, packets) per stream; the server is 10.0.1.80:80."""
    rows = np.zeros(len(specs), TABLE_DTYPE)
    rows["stream"] = np.arange(len(specs))
    rows["client"] = [c for c, _ in specs]
    rows["client_port"] = 40000
    rows["server"], rows["server_port"] = 4, 80
    rows["packets"] = [n for _, n in specs]
    rows["client_packets"] = rows["packets"] // 2
    rows["bytes"] = rows["packets"].astype(np.int64) * 1000
    rows["first_ns"] = np.arange(len(specs)) * 500_000_000
    rows["last_ns"] = rows["first_ns"] + rows["packets"].astype(np.int64) * 1_000_000_000
    rows["client_syn"] = rows["server_syn_ack"] = 1
    rows["client_fin"] = 1
    return StreamTable(rows=rows, addresses=ADDRESSES, start_ns=0)


def _outcome(stream: int, client: str = "ESTABLISHED", **labels: int) -> Outcome:
    return Outcome(stream, TcpState(client), TcpState.CLOSE_WAIT, labels)


def _panel(qtbot: QtBot, table: StreamTable | None, name: str = "test.pcap",
           warnings: tuple[str, ...] = (), model: StreamsModel | None = None) -> StreamsPanel:
    panel = StreamsPanel(model)
    qtbot.add_widget(panel)
    panel.set_rows(table, name, warnings)
    panel.resize(600, 300)
    return panel


def _column(panel: StreamsPanel, column: int, role: int = STREAM_ROLE) -> list[Any]:
    model = panel.model
    return [model.index(r, column).data(role) for r in range(model.rowCount())]


TABLE = _table([(2, 9), (1, 100), (3, 10), (0, 1000)])        # clients .10 .9 .100 .2
OUTCOMES = [_outcome(0), _outcome(1), _outcome(2),
            _outcome(3, "TIME_WAIT", retransmission=3, fast_retransmission=1,
                     duplicate_ack=7)]


def test_columns_show_core_rows(qtbot: QtBot) -> None:
    panel = _panel(qtbot, TABLE)
    model = panel.model
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))][:4] \
        == ["Stream", "Client", "Server", "Packets"]
    text = [model.index(3, c).data() for c in range(len(COLUMNS))]
    assert text[STREAM] == "3" and text[CLIENT] == "10.0.0.2:40000"
    assert text[PACKETS] == "1\u2009000" and text[BYTES] == "1.0 MB"
    assert text[DURATION] == "1000.000 s" and text[FLAGS] == "S F | SA"
    assert text[CLIENT_STATE] == text[RETRANSMISSIONS] == text[OTHER] == "…"  # not yet
    assert "not replayed yet" in model.index(3, CLIENT_STATE).data(Qt.ItemDataRole.ToolTipRole)
    assert not panel.states.isVisibleTo(panel)        # a table without an index: no filling
    model.set_outcomes(OUTCOMES)
    text = [model.index(3, c).data() for c in range(len(COLUMNS))]
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


def test_outcomes_announce_their_rows(qtbot: QtBot) -> None:
    panel = _panel(qtbot, TABLE)
    panel.table.sortByColumn(PACKETS, Qt.SortOrder.DescendingOrder)    # rows 3, 1, 2, 0
    with qtbot.wait_signal(panel.model.dataChanged) as blocker:
        panel.model.set_outcomes([OUTCOMES[1], OUTCOMES[2]])
    top, bottom = blocker.args[:2]
    assert (top.row(), bottom.row()) == (1, 2)
    assert (top.column(), bottom.column()) == (CLIENT_STATE, OTHER)


def test_first_stream_is_selected_without_a_signal(qtbot: QtBot) -> None:
    panel = StreamsPanel()
    qtbot.add_widget(panel)
    with qtbot.assert_not_emitted(panel.stream_chosen):
        panel.set_rows(TABLE, "test.pcap")
        assert panel.selected_stream() == 0
        assert panel.select_stream(1) and panel.selected_stream() == 1
    assert not panel.select_stream(42)


@pytest.mark.parametrize(("column", "order", "streams"), [
    (PACKETS, Qt.SortOrder.DescendingOrder, [3, 1, 2, 0]),
    (PACKETS, Qt.SortOrder.AscendingOrder, [0, 2, 1, 3]),
    (CLIENT, Qt.SortOrder.AscendingOrder, [3, 1, 0, 2]),     # .2, .9, .10, .100
    (RETRANSMISSIONS, Qt.SortOrder.DescendingOrder, [3, 0, 1, 2]),   # ties in stream order
    (CLIENT_STATE, Qt.SortOrder.DescendingOrder, [3, 0, 1, 2]),
    (STREAM, Qt.SortOrder.DescendingOrder, [3, 2, 1, 0]),
    (DURATION, Qt.SortOrder.AscendingOrder, [0, 2, 1, 3]),
])
def test_sorting_is_numeric(qtbot: QtBot, column: int, order: Qt.SortOrder,
                            streams: list[int]) -> None:
    panel = _panel(qtbot, TABLE)
    panel.model.set_outcomes(OUTCOMES)
    panel.table.sortByColumn(column, order)
    assert _column(panel, STREAM) == streams
    keys = _column(panel, column, SORT_ROLE)
    assert keys == sorted(keys, reverse=order == Qt.SortOrder.DescendingOrder)


def test_sorting_keeps_the_selection(qtbot: QtBot) -> None:
    panel = _panel(qtbot, TABLE)
    assert panel.select_stream(2)
    panel.table.sortByColumn(PACKETS, Qt.SortOrder.DescendingOrder)
    assert panel.selected_stream() == 2
    assert panel.table.currentIndex().row() == 2


def test_a_sort_on_states_is_redone_as_they_arrive(qtbot: QtBot) -> None:
    panel = _panel(qtbot, TABLE)
    panel.table.sortByColumn(CLIENT_STATE, Qt.SortOrder.DescendingOrder)
    assert _column(panel, STREAM) == [0, 1, 2, 3]               # none known: stream order
    with qtbot.wait_signal(panel.model.layoutChanged, timeout=TIMEOUT):
        panel.model.set_outcomes([OUTCOMES[3]])
    assert _column(panel, STREAM) == [3, 0, 1, 2]


def test_click_and_enter_choose_the_row_under_them(qtbot: QtBot) -> None:
    panel = _panel(qtbot, TABLE)
    panel.show()
    qtbot.wait_exposed(panel)
    table = panel.table
    table.sortByColumn(PACKETS, Qt.SortOrder.DescendingOrder)   # rows no longer = streams
    rect = table.visualRect(panel.model.index(2, PACKETS))
    with qtbot.wait_signal(panel.stream_chosen) as blocker:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [2]
    assert panel.selected_stream() == 2
    panel.select_stream(0)
    with qtbot.wait_signal(panel.stream_chosen) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert blocker.args == [0]


def test_filter_keeps_matching_rows(qtbot: QtBot) -> None:
    panel = _panel(qtbot, TABLE)
    panel.model.set_outcomes(OUTCOMES)
    panel.filter.setText("time_wait")
    assert _column(panel, STREAM) == [3]
    panel.filter.setText("10.0.0.10:")
    assert _column(panel, STREAM) == [0]
    panel.filter.setText("DUP ack")
    assert _column(panel, STREAM) == [3]
    panel.filter.setText("3")                       # the stream number, nothing else
    assert _column(panel, STREAM) == [3]
    panel.filter.setText("no such thing")
    assert _column(panel, STREAM) == [] and panel.pages.currentWidget() is panel.table
    panel.filter.clear()
    assert panel.model.rowCount() == 4


def test_filter_on_states_fills_in_as_they_arrive(qtbot: QtBot) -> None:
    panel = _panel(qtbot, TABLE)
    panel.filter.setText("time_wait")
    assert _column(panel, STREAM) == []
    with qtbot.wait_signal(panel.model.layoutChanged, timeout=TIMEOUT):
        panel.model.set_outcomes(OUTCOMES)
    assert _column(panel, STREAM) == [3]


def test_no_streams(qtbot: QtBot) -> None:
    empty = StreamTable(rows=np.zeros(0, TABLE_DTYPE), addresses=[], start_ns=0)
    panel = _panel(qtbot, empty, "udp-only.pcap", ("at byte 24: something odd",))
    assert panel.pages.currentWidget() is panel.empty
    assert panel.empty.text() == "No TCP streams in this capture"
    assert panel.title.text() == "udp-only.pcap · 0 TCP streams"
    assert panel.warning.isVisibleTo(panel) and "something odd" in panel.warning.text()
    assert panel.selected_stream() is None and not panel.filter.isEnabled()
    panel.set_rows(TABLE, "again.pcap")
    assert panel.pages.currentWidget() is panel.table and panel.filter.isEnabled()


# ----- filled from a capture, in the background ----------------------------------------------
def _capture(tmp_path: Path, streams: int, name: str = "many.pcap") -> Path:
    frames: list[bytes] = []
    for k in range(streams):
        frames += b.handshake(client=f"10.0.{k // 200}.{k % 200 + 1}",
                              cport=40000 + k)[:3 + k % 3]
    path = tmp_path / name
    path.write_bytes(b.pcap(frames))
    return path


def _filled(qtbot: QtBot, panel: StreamsPanel) -> None:
    if panel.model.known < panel.model.rowCount():
        with qtbot.wait_signal(panel.filler.finished, timeout=TIMEOUT):
            pass


def test_many_streams_fill_in(qtbot: QtBot, tmp_path: Path) -> None:
    path = _capture(tmp_path, 422)
    index = read_capture(path)
    panel = _panel(qtbot, stream_table(index), path.name)
    assert panel.model.rowCount() == 422
    assert panel.title.text() == "many.pcap · 422 TCP streams"
    _filled(qtbot, panel)
    assert panel.model.known == 422 and not panel.states.isVisibleTo(panel)
    expected = stream_rows(index)
    model = panel.model
    assert [model.index(r, CLIENT_STATE).data() for r in range(422)] == \
        [row["final"]["client"] for row in expected]
    panel.table.sortByColumn(PACKETS, Qt.SortOrder.DescendingOrder)
    packets = _column(panel, PACKETS, SORT_ROLE)
    assert packets == sorted(packets, reverse=True) and packets[0] == 5
    assert panel.select_stream(421)
    assert not panel.grab().isNull()


def test_rows_in_view_come_first(qtbot: QtBot, tmp_path: Path) -> None:
    path = _capture(tmp_path, 600)
    panel = StreamsPanel()
    qtbot.add_widget(panel)
    panel.resize(600, 300)
    panel.show()
    qtbot.wait_exposed(panel)
    batches: list[list[int]] = []
    panel.filler.computed.connect(lambda outcomes: batches.append([o.stream for o in outcomes]))
    table = stream_table(read_capture(path))
    panel.model.set_table(table, path.name)       # rows shown, no filling yet
    panel.table.sortByColumn(STREAM, Qt.SortOrder.DescendingOrder)
    first, last = panel.visible_rows()
    in_view = {599 - r for r in range(first, last + 1)}
    assert 0 < len(in_view) < 100
    panel.set_rows(table, path.name)
    _filled(qtbot, panel)
    seen = [s for batch in batches for s in batch]
    assert sorted(seen) == list(range(600))
    assert set(seen[:len(in_view)]) == in_view


def test_a_new_table_cancels_the_filling(qtbot: QtBot, tmp_path: Path) -> None:
    big = stream_table(read_capture(_capture(tmp_path, 2000, "big.pcap")))
    small_index = read_capture(_capture(tmp_path, 30, "small.pcap"))
    panel = _panel(qtbot, big, "big.pcap")
    with qtbot.wait_signal(panel.filler.computed, timeout=TIMEOUT):
        pass
    panel.set_rows(stream_table(small_index), "small.pcap")
    _filled(qtbot, panel)
    assert panel.filler.wait(TIMEOUT)
    assert panel.model.known == 30
    expected = stream_rows(small_index)
    assert [panel.model.index(r, CLIENT_STATE).data() for r in range(30)] == \
        [row["final"]["client"] for row in expected]


def test_deleting_the_panel_stops_the_filling(qtbot: QtBot, tmp_path: Path) -> None:
    big = stream_table(read_capture(_capture(tmp_path, 3000, "big.pcap")))
    panel = StreamsPanel()
    panel.set_rows(big, "big.pcap")
    with qtbot.wait_signal(panel.filler.computed, timeout=TIMEOUT):
        pass
    stop = panel.filler._stop
    with qtbot.wait_signal(panel.destroyed, timeout=TIMEOUT):
        panel.deleteLater()
    assert stop.is_set()


def test_corpus_capture(qtbot: QtBot, corpus: Path) -> None:
    path = corpus / "kernel" / "loss5_delay20_bulk_server.pcap"
    index = read_capture(path)
    panel = _panel(qtbot, stream_table(index), path.name)
    _filled(qtbot, panel)
    rows = stream_rows(index)
    model = panel.model
    assert model.index(0, RETRANSMISSIONS).data() == str(rows[0]["analysis"]["retransmission"])
    assert "dup ACK×102" in model.index(0, OTHER).data()
    assert model.index(0, CLIENT_STATE).data() == rows[0]["final"]["client"]
    assert panel.selected_stream() == 0
    assert model.rowCount(model.index(0, STREAM)) == 0         # a flat table


# ----- a million rows --------------------------------------------------------------------------
class _Counting(StreamsModel):
    """Counts the rows ``data`` is asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[int] = set()

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        self.asked.add(index.row())
        return super().data(index, role)


def _million() -> StreamTable:
    n = 1_000_000
    rnd = np.random.default_rng(5)
    rows = np.zeros(n, TABLE_DTYPE)
    rows["stream"] = np.arange(n)
    rows["client"] = rnd.integers(0, 1000, n)
    rows["client_port"] = rnd.integers(1024, 65535, n)
    rows["server"], rows["server_port"] = 1000, 443
    rows["packets"] = rnd.integers(1, 5000, n)
    rows["bytes"] = rows["packets"].astype(np.int64) * 700
    rows["first_ns"] = np.sort(rnd.integers(0, 10**12, n))
    rows["last_ns"] = rows["first_ns"] + rnd.integers(0, 10**10, n)
    rows["client_syn"] = 1
    addresses = [f"10.0.{k // 256}.{k % 256}" for k in range(1000)] + ["192.0.2.1"]
    return StreamTable(rows=rows, addresses=addresses, start_ns=0)


def test_a_million_rows_sort_filter_and_scroll_lazily(qtbot: QtBot) -> None:
    table = _million()
    model = _Counting()
    panel = _panel(qtbot, table, "million.pcap", model=model)
    panel.resize(900, 600)
    panel.show()
    qtbot.wait_exposed(panel)
    assert model.rowCount() == 1_000_000
    assert panel.title.text() == "million.pcap · 1\u2009000\u2009000 TCP streams"
    panel.table.sortByColumn(PACKETS, Qt.SortOrder.DescendingOrder)
    packets = table.rows["packets"]
    top = [model.index(r, PACKETS).data(SORT_ROLE) for r in range(50)]
    assert top == np.sort(packets)[::-1][:50].tolist()
    panel.table.scrollToBottom()
    qtbot.wait(50)
    bottom = model.index(999_999, PACKETS).data(SORT_ROLE)
    assert bottom == int(packets.min())
    panel.filter.setText("10.0.3.7:")                        # address id 3 * 256 + 7
    assert model.rowCount() == int(np.count_nonzero(table.rows["client"] == 775)) > 0
    assert all(model.index(r, CLIENT).data().startswith("10.0.3.7:")
               for r in range(model.rowCount()))
    shown = _column(panel, PACKETS, SORT_ROLE)
    assert shown == sorted(shown, reverse=True)
    panel.filter.clear()
    assert model.rowCount() == 1_000_000
    panel.table.sortByColumn(CLIENT, Qt.SortOrder.AscendingOrder)
    panel.table.scrollTo(model.index(500_000, 0))
    qtbot.wait(50)
    assert not panel.grab().isNull()
    assert len(model.asked) < 5_000, len(model.asked)   # only rows drawn or measured


@pytest.mark.parametrize("high", [3, 1 << 20, 1 << 62])
def test_the_fast_stable_order_is_argsorts(high: int) -> None:
    from gui.sources.streams_model import _stable_order
    rnd = np.random.default_rng(high % 1000)
    for size in (1, 2, 1000, 50_000):
        key = rnd.integers(-high, high, size, dtype=np.int64)
        assert np.array_equal(_stable_order(key), np.argsort(key, kind="stable"))
