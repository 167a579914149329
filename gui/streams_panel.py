"""The stream list of an open capture, in the spirit of Wireshark's Conversations.

Rules:
- The model shows ``core.replay.report.stream_rows`` as core made them; it only formats
  (numbers, short label names, the state colours of ``gui.style``) and never decides TCP
  facts. Retransmissions are core's ``retransmission`` count (fast and spurious ones
  included); every other label is summed in "other labels", listed in full in a tooltip.
- Every column sorts on ``SORT_ROLE``: numbers as numbers, endpoints by address bytes
  then port, so ``10.0.0.9`` comes before ``10.0.0.10``.
- Cells are formatted once, in ``set_rows``; ``data`` only looks them up.
- A click or Enter on a row is the only thing that emits ``stream_chosen``; selecting
  from code (``set_rows`` selects the first stream, ``select_stream``) emits nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.states import TcpState
from gui import style

SORT_ROLE = Qt.ItemDataRole.UserRole
STREAM_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex

#: (header, header tooltip) per column.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Stream", "tcp.stream number, as in Wireshark"),
    ("Client", "the side that opened the connection (address:port)"),
    ("Server", "the side that was connected to (address:port)"),
    ("Packets", "packets of the stream in the capture"),
    ("Bytes", "TCP payload bytes, both directions"),
    ("Duration", "seconds from the stream's first to its last packet"),
    ("Client state", "the client's state after the stream's last packet"),
    ("Server state", "the server's state after the stream's last packet"),
    ("Retrans.", "retransmissions (fast and spurious ones included)"),
    ("Other labels", "the other analysis labels, with their counts"),
)
STREAM, CLIENT, SERVER, PACKETS, BYTES, DURATION, CLIENT_STATE, SERVER_STATE, \
    RETRANSMISSIONS, OTHER = range(len(COLUMNS))
_RIGHT = {STREAM, PACKETS, BYTES, DURATION, RETRANSMISSIONS}

_SHORT = {
    "fast_retransmission": "fast retr", "spurious_retransmission": "spurious retr",
    "duplicate_ack": "dup ACK", "out_of_order": "out-of-order", "lost_segment": "lost",
    "ack_lost_segment": "ACKed unseen", "zero_window": "zero win",
    "zero_window_probe": "ZW probe", "zero_window_probe_ack": "ZW probe ACK",
    "window_update": "win update", "window_full": "win full", "keep_alive": "keep-alive",
    "keep_alive_ack": "keep-alive ACK", "reused_ports": "port reuse", "tfo_syn": "TFO SYN",
    "tfo_ack": "TFO ACK",
}
_THIN = "\u2009"


def endpoint_text(endpoint: dict[str, Any]) -> str:
    """``10.0.0.1:80``, ``[2001:db8::1]:80`` (as ``synack streams`` prints them)."""
    address = str(endpoint["address"])
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{endpoint['port']}"


def _endpoint_key(endpoint: dict[str, Any]) -> str:
    try:
        ip = ipaddress.ip_address(str(endpoint["address"]))
        head = f"{ip.version}{ip.packed.hex()}"
    except ValueError:
        head = f"9{endpoint['address']}"
    return f"{head}:{int(endpoint['port']):05d}"


def _count(n: int) -> str:
    return f"{n:,}".replace(",", _THIN)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _duration(seconds: float) -> str:
    digits = 3 if seconds >= 0.01 or seconds == 0 else 6
    return f"{seconds:.{digits}f} s"


def _align(column: int) -> Qt.AlignmentFlag:
    side = Qt.AlignmentFlag.AlignRight if column in _RIGHT else Qt.AlignmentFlag.AlignLeft
    return side | Qt.AlignmentFlag.AlignVCenter


def _state_brush(value: str) -> QBrush | None:
    try:
        return QBrush(style.phase_fill(style.phase_of(TcpState(value))))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Row:
    stream: int
    text: tuple[str, ...]
    keys: tuple[int | float | str, ...]
    tips: dict[int, str]
    retransmissions: int


def _row(row: dict[str, Any]) -> _Row:
    labels: dict[str, int] = dict(row.get("analysis", {}))
    retransmissions = labels.pop("retransmission", 0)
    other = ", ".join(f"{_SHORT.get(k, k.replace('_', ' '))}×{v}" for k, v in labels.items())
    duration = max(0.0, float(row["last"]) - float(row["first"]))
    client, server = row["final"]["client"], row["final"]["server"]
    text = (str(row["stream"]), endpoint_text(row["client"]), endpoint_text(row["server"]),
            _count(row["packets"]), _size(row["bytes"]), _duration(duration), client, server,
            _count(retransmissions), other)
    keys = (int(row["stream"]), _endpoint_key(row["client"]), _endpoint_key(row["server"]),
            int(row["packets"]), int(row["bytes"]), duration, client, server,
            int(retransmissions), sum(labels.values()))
    tips = {BYTES: f"{_count(row['bytes'])} byte{'' if row['bytes'] == 1 else 's'}",
            DURATION: f"{float(row['first']):.6f} s to {float(row['last']):.6f} s"}
    full = dict(row.get("analysis", {}))
    if full:
        tips[OTHER] = tips[RETRANSMISSIONS] = "\n".join(f"{k}: {v}" for k, v in full.items())
    return _Row(int(row["stream"]), text, keys, tips, int(retransmissions))


class StreamsModel(QAbstractTableModel):
    """One row per TCP stream of a capture (``stream_rows`` dicts); read-only.

    Signals: those of ``QAbstractTableModel`` (``set_rows`` resets the model).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._where: dict[int, int] = {}
        self.source_name = ""
        self.warnings: tuple[str, ...] = ()

    def set_rows(self, rows: Sequence[dict[str, Any]], source_name: str,
                 warnings: Iterable[str] = ()) -> None:
        self.beginResetModel()
        self._rows = [_row(r) for r in rows]
        self._where = {r.stream: i for i, r in enumerate(self._rows)}
        self.source_name = source_name
        self.warnings = tuple(warnings)
        self.endResetModel()

    def stream_at(self, row: int) -> int:
        return self._rows[row].stream

    def row_of(self, stream: int) -> int | None:
        return self._where.get(stream)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.text[column]
        if role == SORT_ROLE:
            return row.keys[column]
        if role == STREAM_ROLE:
            return row.stream
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tips.get(column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_align(column))
        if role == Qt.ItemDataRole.BackgroundRole and column in (CLIENT_STATE, SERVER_STATE):
            return _state_brush(row.text[column])
        if role == Qt.ItemDataRole.ForegroundRole and column == RETRANSMISSIONS:
            return QBrush(style.ANOMALY if row.retransmissions else style.MUTED)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section][1]
        return None


class _Table(QTableView):
    """The table; Enter and Return on a row are announced.

    Signals: confirmed(): Enter or Return was pressed.
    """

    confirmed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.confirmed.emit()
            return
        super().keyPressEvent(event)


class StreamsPanel(QWidget):
    """The list of streams: a title line, a filter, the sortable table.

    Signals:
        stream_chosen(int): a stream was clicked or Enter was pressed on it.
    """

    stream_chosen = Signal(int)

    def __init__(self, model: StreamsModel | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model if model is not None else StreamsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {style.ANOMALY.name()}")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: address, port, state, label…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._on_filter_changed)
        self.table = self._make_table()
        self.empty = QLabel("No TCP streams in this capture")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {style.MUTED.name()}")
        self.pages = QStackedWidget()
        self.pages.addWidget(self.table)
        self.pages.addWidget(self.empty)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        for widget in (self.title, self.warning, self.filter, self.pages):
            layout.addWidget(widget)
        self.model.modelReset.connect(self._on_model_reset)
        self._on_model_reset()

    def _make_table(self) -> _Table:
        table = _Table()
        table.setModel(self.proxy)
        table.setSortingEnabled(True)
        table.sortByColumn(STREAM, Qt.SortOrder.AscendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
        header = table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setResizeContentsPrecision(200)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        table.clicked.connect(self._on_clicked)
        table.confirmed.connect(self._on_confirmed)
        return table

    # ----- API -----------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[dict[str, Any]], source_name: str,
                 warnings: Iterable[str] = ()) -> None:
        """Show ``rows`` (``stream_rows`` dicts) of ``source_name``; selects the first."""
        self.model.set_rows(rows, source_name, warnings)

    def select_stream(self, stream: int) -> bool:
        """Select and show ``stream`` (no signal); False if it is not listed or filtered."""
        row = self.model.row_of(stream)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        return True

    def selected_stream(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return int(rows[0].data(STREAM_ROLE)) if rows else None

    # ----- slots ---------------------------------------------------------------------------
    def _on_model_reset(self) -> None:
        count = self.model.rowCount()
        name = self.model.source_name
        plural = "" if count == 1 else "s"
        self.title.setText(f"{name} · {_count(count)} TCP stream{plural}" if name else
                           f"{_count(count)} TCP stream{plural}")
        self.title.setToolTip(name)
        warnings = self.model.warnings
        self.warning.setVisible(bool(warnings))
        if warnings:
            more = f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""
            self.warning.setText(f"⚠ {warnings[0]}{more}")
            self.warning.setToolTip("\n".join(warnings))
        self.pages.setCurrentWidget(self.table if count else self.empty)
        self.filter.setEnabled(bool(count))
        if count:
            self.table.resizeColumnsToContents()
            self.select_stream(self.model.stream_at(0))

    def _on_filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)

    def _on_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.stream_chosen.emit(int(index.data(STREAM_ROLE)))

    def _on_confirmed(self) -> None:
        self._on_clicked(self.table.currentIndex())
