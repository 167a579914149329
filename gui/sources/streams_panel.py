"""The stream list of an open capture, in the spirit of Wireshark's Conversations.

Rules:
- The table is a :class:`gui.sources.streams_model.StreamsModel` (numpy columns, sorted and
  filtered with numpy: a million streams stay smooth); it only formats what core made.
- The index-only columns show at once; each stream's final states and labels are filled
  in by an :class:`gui.sources.stream_states.OutcomeFiller` in the background, the rows in view
  first (asked again ``WANT_DELAY_MS`` after each scroll, sort, filter or resize). A new
  ``set_rows`` stops the filling of the table before.
- A click or Enter on a row is the only thing that emits ``stream_chosen``; selecting
  from code (``set_rows`` selects the first stream, ``select_stream``) emits nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.streams.stream_table import StreamTable
from gui.diagram import style
from gui.sources.stream_states import OutcomeFiller
from gui.sources.streams_model import (
    BYTES,
    CLIENT,
    CLIENT_STATE,
    COLUMNS,
    DURATION,
    FLAGS,
    OTHER,
    PACKETS,
    RETRANSMISSIONS,
    SERVER,
    SERVER_STATE,
    SORT_ROLE,
    STREAM,
    STREAM_ROLE,
    StreamsModel,
    count_text,
)

__all__ = ["BYTES", "CLIENT", "CLIENT_STATE", "COLUMNS", "DURATION", "FLAGS", "OTHER",
           "PACKETS", "RETRANSMISSIONS", "SERVER", "SERVER_STATE", "SORT_ROLE", "STREAM",
           "STREAM_ROLE", "StreamsModel", "StreamsPanel"]

#: How long after a scroll (sort, filter, resize) the rows in view are asked for.
WANT_DELAY_MS = 80
#: How long after outcomes arrive a sort or filter that depends on them is redone.
REFRESH_DELAY_MS = 700


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
        self.filler = OutcomeFiller(self)
        self.filler.computed.connect(self.model.set_outcomes)
        self.filler.computed.connect(self._on_outcomes)
        self.filler.finished.connect(self._on_outcomes)

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        # neither label may widen the panel: the title is cut (its tooltip has it all),
        # the progress line wraps
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.states = QLabel()
        self.states.setWordWrap(True)
        self.states.setStyleSheet(f"color: {style.MUTED.name()}")
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {style.ANOMALY.name()}")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: address, port, stream, state, label…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._on_filter_changed)
        self.table = self._make_table()
        self.empty = QLabel("No TCP streams in this capture")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {style.MUTED.name()}")
        self.pages = QStackedWidget()
        self.pages.addWidget(self.table)
        self.pages.addWidget(self.empty)
        self._want_timer = self._timer(WANT_DELAY_MS, self._on_want_due)
        self._refresh_timer = self._timer(REFRESH_DELAY_MS, self._on_refresh_due)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        for widget in (self.title, self.states, self.warning, self.filter, self.pages):
            layout.addWidget(widget)
        self.model.modelReset.connect(self._on_model_reset)
        self.model.layoutChanged.connect(self._want_timer.start)
        self.model.refresh_due.connect(self._on_refresh_asked)
        self.table.verticalScrollBar().valueChanged.connect(self._want_timer.start)
        self._on_model_reset()

    def _timer(self, msecs: int, slot: object) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(msecs)
        timer.timeout.connect(slot)
        return timer

    def _make_table(self) -> _Table:
        table = _Table()
        table.setModel(self.model)
        table.setSortingEnabled(True)
        table.sortByColumn(STREAM, Qt.SortOrder.AscendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        rows = table.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(table.fontMetrics().height() + 6)
        header = table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setResizeContentsPrecision(100)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        table.clicked.connect(self._on_clicked)
        table.confirmed.connect(self._on_confirmed)
        return table

    # ----- API -----------------------------------------------------------------------------
    def set_rows(self, table: StreamTable | None, source_name: str,
                 warnings: Iterable[str] = ()) -> None:
        """Show ``table`` of ``source_name`` and select its first row; the final states
        and labels of its streams are filled in from ``table.index`` in the background
        (none for a table without an index)."""
        self.filler.cancel()
        self.model.set_table(table, source_name, tuple(warnings))
        if table is not None and table.index is not None and len(table):
            # after the caller's own work in this event (the first stream's replay)
            QTimer.singleShot(0, self, lambda: self._start_filling(table))

    def select_stream(self, stream: int) -> bool:
        """Select and show ``stream`` (no signal); False if it is not listed or filtered."""
        row = self.model.row_of(stream)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        return True

    def selected_stream(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return int(rows[0].data(STREAM_ROLE)) if rows else None

    def visible_rows(self) -> tuple[int, int]:
        """The first and last table rows in view (-1, -1 when none)."""
        viewport = self.table.viewport()
        first = self.table.rowAt(0)
        if first < 0:
            return -1, -1
        last = self.table.rowAt(viewport.height() - 1)
        return first, last if last >= 0 else self.model.rowCount() - 1

    # ----- slots ---------------------------------------------------------------------------
    def _start_filling(self, table: StreamTable) -> None:
        if self.model.table is table and table.index is not None:   # not replaced since
            self.filler.start(table.index, self._streams_in_view())

    def _streams_in_view(self) -> list[int]:
        first, last = self.visible_rows()
        return self.model.streams_in_rows(first, last) if first >= 0 else []

    def _on_model_reset(self) -> None:
        count = len(self.model.table) if self.model.table is not None else 0
        name = self.model.source_name
        plural = "" if count == 1 else "s"
        self.title.setText(f"{name} · {count_text(count)} TCP stream{plural}" if name else
                           f"{count_text(count)} TCP stream{plural}")
        self.title.setToolTip(name)
        warnings = self.model.warnings
        self.warning.setVisible(bool(warnings))
        if warnings:
            more = f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""
            self.warning.setText(f"⚠ {warnings[0]}{more}")
            self.warning.setToolTip("\n".join(warnings))
        self.pages.setCurrentWidget(self.table if count else self.empty)
        self.filter.setEnabled(bool(count))
        self._on_outcomes()
        if self.model.rowCount():
            self.table.resizeColumnsToContents()
            self.select_stream(self.model.stream_at(0))

    def _on_outcomes(self, *_: object) -> None:
        table = self.model.table
        total = len(table) if table is not None else 0
        known = self.model.known
        waiting = table is not None and table.index is not None and 0 < total and known < total
        self.states.setVisible(waiting)
        if waiting:
            self.states.setText(f"States and labels: {count_text(known)} of "
                                f"{count_text(total)} streams replayed…")

    def _on_want_due(self) -> None:
        self.filler.want(self._streams_in_view())

    def _on_refresh_asked(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _on_refresh_due(self) -> None:
        self.model.refresh()

    def _on_filter_changed(self, text: str) -> None:
        self.model.set_filter(text)

    def _on_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.stream_chosen.emit(int(index.data(STREAM_ROLE)))

    def _on_confirmed(self) -> None:
        self._on_clicked(self.table.currentIndex())
