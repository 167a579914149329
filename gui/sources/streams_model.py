"""The stream list's table model: numpy columns, sorted and filtered with numpy.

Rules:
1. The model shows a :class:`core.streams.stream_table.StreamTable` as core made it, plus the
   :class:`core.replay.outcomes.Outcome` of each stream once it is known
   (``set_outcomes``); it only formats and never decides TCP facts. Until a stream's
   outcome is known its state and label cells read ``…`` ("not replayed yet").
2. Nothing is made per row up front: cells are formatted in ``data`` for the rows the
   view asks for; the model holds numpy arrays (the table, the outcome codes, the order
   of the rows shown). A million streams cost a few tens of MB and no Python object
   each.
3. ``sort`` and ``set_filter`` reorder ``view`` (the stream shown in each row) with
   numpy; both keep the selection (``layoutChanged`` with the persistent indexes moved).
   Sorting is stable with ties in stream order, both ways, as Qt's proxy sorts. Every
   column sorts as a number: endpoints by address then port (``10.0.0.9`` before
   ``10.0.0.10``, IPv4 before IPv6), states by name, not-yet-known values first.
4. The filter is one case-insensitive substring, matched against the stream number, the
   client and server ``address:port``, both states and the label names (tshark's and the
   short ones shown); numbers such as packets or bytes are not matched. When outcomes
   arrive while the sort column or the filter depends on them, ``refresh_due`` is
   emitted; ``refresh`` applies sort and filter again.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QWidget

from core.analysis.labels import LABELS
from core.replay.outcomes import Outcome
from core.streams.stream_table import FLAGS as FLAG_NAMES
from core.streams.stream_table import StreamTable
from core.tcp.states import TcpState
from gui.diagram import style

Arr = np.ndarray[Any, np.dtype[Any]]
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
    ("Flags", "flags each side sent, client | server: S SYN, SA SYN+ACK, F FIN, R RST"),
    ("Client state", "the client's state after the stream's last packet (… until the "
                     "stream is replayed, in the background)"),
    ("Server state", "the server's state after the stream's last packet (… until the "
                     "stream is replayed)"),
    ("Retrans.", "retransmissions (fast and spurious ones included)"),
    ("Other labels", "the other analysis labels, with their counts"),
)
STREAM, CLIENT, SERVER, PACKETS, BYTES, DURATION, FLAGS, CLIENT_STATE, SERVER_STATE, \
    RETRANSMISSIONS, OTHER = range(len(COLUMNS))
#: Columns known only once a stream's outcome is.
LAZY = frozenset({CLIENT_STATE, SERVER_STATE, RETRANSMISSIONS, OTHER})
_RIGHT = {STREAM, PACKETS, BYTES, DURATION, RETRANSMISSIONS}
UNKNOWN = "…"

SHORT = {
    "fast_retransmission": "fast retr", "spurious_retransmission": "spurious retr",
    "duplicate_ack": "dup ACK", "out_of_order": "out-of-order", "lost_segment": "lost",
    "ack_lost_segment": "ACKed unseen", "zero_window": "zero win",
    "zero_window_probe": "ZW probe", "zero_window_probe_ack": "ZW probe ACK",
    "window_update": "win update", "window_full": "win full", "keep_alive": "keep-alive",
    "keep_alive_ack": "keep-alive ACK", "reused_ports": "port reuse", "tfo_syn": "TFO SYN",
    "tfo_ack": "TFO ACK",
}
_THIN = "\u2009"
_STATES = tuple(TcpState)
_STATE_CODE = {s: k for k, s in enumerate(_STATES)}
#: sort rank of each state code (by name), -1 for "not known yet" (code -1 -> index 0)
_STATE_RANK = np.array([-1] + [sorted(s.value for s in _STATES).index(s.value)
                               for s in _STATES], np.int64)
_LABEL_BIT = {name: 1 << k for k, name in enumerate(LABELS)}


def count_text(n: int) -> str:
    return f"{n:,}".replace(",", _THIN)


def size_text(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def duration_text(seconds: float) -> str:
    digits = 3 if seconds >= 0.01 or seconds == 0 else 6
    return f"{seconds:.{digits}f} s"


@cache
def _port_texts() -> tuple[str, ...]:
    return tuple(str(p) for p in range(1 << 16))


def _stable_order(key: Arr) -> Arr:
    """``np.argsort(key, kind="stable")``, four times faster where the key and the
    position fit in 63 bits together: one plain sort of ``key << bits | position``."""
    low = int(key.min())
    span = int(key.max()) - low
    bits = max(1, (key.size - 1).bit_length())
    if span.bit_length() + bits > 63:
        return np.argsort(key, kind="stable")
    packed = (key - low) << bits
    packed |= np.arange(key.size, dtype=np.int64)
    packed.sort()
    packed &= (1 << bits) - 1
    return packed


def _align(column: int) -> int:
    side = Qt.AlignmentFlag.AlignRight if column in _RIGHT else Qt.AlignmentFlag.AlignLeft
    return int(side | Qt.AlignmentFlag.AlignVCenter)


def _state_brush(code: int) -> QBrush | None:
    if code < 0:
        return None
    return QBrush(style.phase_fill(style.phase_of(_STATES[code])))


class StreamsModel(QAbstractTableModel):
    """One row per TCP stream of a capture; read-only (module rules).

    Signals:
        refresh_due(): outcomes arrived that the current sort or filter depends on.
    """

    refresh_due = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_name = ""
        self.warnings: tuple[str, ...] = ()
        self._sort = (STREAM, Qt.SortOrder.AscendingOrder)
        self._needle = ""
        self._load(None)

    # ----- content ------------------------------------------------------------------------
    def _load(self, table: StreamTable | None) -> None:
        self.table = table
        n = len(table) if table is not None else 0
        self._n = n
        self._client_state = np.full(n, -1, np.int8)
        self._server_state = np.full(n, -1, np.int8)
        self._retrans = np.full(n, -1, np.int64)
        self._others = np.full(n, -1, np.int64)
        self._label_bits = np.zeros(n, np.int64)
        self._labels: dict[int, dict[str, int]] = {}
        self.known = 0
        self._texts: dict[str, Arr] = {}
        self._hosts: list[str] | None = None
        self._keys: dict[int, Arr] = {}
        self._arranged = False
        self.view: Arr = np.arange(n, dtype=np.intp)
        self._row_of: Arr = self.view.copy()

    def set_table(self, table: StreamTable | None, source_name: str,
                  warnings: Sequence[str] = ()) -> None:
        """Show ``table`` (its outcomes not known yet), filtered and sorted as before."""
        self.beginResetModel()
        self._load(table)
        self.source_name = source_name
        self.warnings = tuple(warnings)
        self._arrange()
        self.endResetModel()

    def set_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Fill in the outcomes of some streams (``dataChanged`` for their rows)."""
        if not outcomes:
            return
        streams = np.array([o.stream for o in outcomes], np.intp)
        if streams.max(initial=-1) >= self._n:
            return
        fresh = int(np.count_nonzero(self._client_state[streams] < 0))
        self._client_state[streams] = [_STATE_CODE[o.client] for o in outcomes]
        self._server_state[streams] = [_STATE_CODE[o.server] for o in outcomes]
        for o in outcomes:
            labels = dict(o.analysis)
            retrans = labels.pop("retransmission", 0)
            self._retrans[o.stream] = retrans
            self._others[o.stream] = sum(labels.values())
            self._label_bits[o.stream] = sum(_LABEL_BIT[k] for k in o.analysis)
            if o.analysis:
                self._labels[o.stream] = dict(o.analysis)
        self.known += fresh
        for column in LAZY:
            self._keys.pop(column, None)
        rows = self._row_of[streams]
        rows = rows[rows >= 0]
        if rows.size:
            self.dataChanged.emit(self.index(int(rows.min()), CLIENT_STATE),
                                  self.index(int(rows.max()), OTHER))
        if self._sort[0] in LAZY or self._filter_is_lazy():
            self.refresh_due.emit()

    def outcome_known(self, stream: int) -> bool:
        return bool(self._client_state[stream] >= 0)

    def stream_at(self, row: int) -> int:
        return int(self.view[row])

    def row_of(self, stream: int) -> int | None:
        """The row showing ``stream``; None when it is not listed or filtered out."""
        if not 0 <= stream < self._n:
            return None
        row = int(self._row_of[stream])
        return row if row >= 0 else None

    def streams_in_rows(self, first: int, last: int) -> list[int]:
        """The streams shown in rows ``first..last`` whose outcome is not known yet."""
        shown = self.view[max(0, first):max(0, last + 1)]
        return [int(s) for s in shown[self._client_state[shown] < 0]]

    # ----- sort and filter ----------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if (column, order) == self._sort and self._arranged:
            return          # QTableView.sortByColumn asks twice (itself and its header)
        self._sort = (column, order)
        self._relayout()

    def set_filter(self, text: str) -> None:
        self._needle = text.strip().lower()
        self._relayout()

    def refresh(self) -> None:
        """Sort and filter again (outcomes that they depend on arrived)."""
        self._arranged = False
        self._relayout()

    def _relayout(self) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        streams = [int(self.view[i.row()]) if 0 <= i.row() < self.view.size else -1
                   for i in old]
        self._arrange()
        new = []
        for i, stream in zip(old, streams, strict=True):
            row = self.row_of(stream) if stream >= 0 else None
            new.append(QModelIndex() if row is None else self.index(row, i.column()))
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _arrange(self) -> None:
        """``view`` from the filter and the sort (rule 3)."""
        shown = np.flatnonzero(self._matches()) if self._needle else np.arange(self._n)
        column, order = self._sort
        if shown.size and column != STREAM:
            key = self._key(column)[shown]
            if order == Qt.SortOrder.DescendingOrder:
                key = -key
            shown = shown[_stable_order(key)]
        elif order == Qt.SortOrder.DescendingOrder:
            shown = shown[::-1]
        self.view = shown.astype(np.intp, copy=False)
        self._row_of = np.full(self._n, -1, np.intp)
        self._row_of[self.view] = np.arange(self.view.size)
        self._arranged = True

    def _key(self, column: int) -> Arr:
        if column not in self._keys:
            self._keys[column] = self.sort_key(column)
        return self._keys[column]

    def sort_key(self, column: int) -> Arr:
        """A number per stream that sorts ``column`` (rule 3)."""
        r = self.table.rows if self.table is not None else None
        if r is None:
            return np.zeros(0, np.int64)
        if column in (CLIENT, SERVER):
            side = "client" if column == CLIENT else "server"
            endpoint: Arr = (r[side].astype(np.int64) << 16) | r[f"{side}_port"]
            return endpoint
        if column == DURATION:
            span: Arr = np.maximum(r["last_ns"] - r["first_ns"], 0)
            return span
        if column == FLAGS:
            key = np.zeros(self._n, np.int64)
            for name in ("rst", "fin", "syn_ack", "syn"):
                for side in ("client", "server"):
                    key = (key << 7) | np.minimum(r[f"{side}_{name}"], 127)
            return key
        if column in (CLIENT_STATE, SERVER_STATE):
            codes = self._client_state if column == CLIENT_STATE else self._server_state
            return _STATE_RANK[codes.astype(np.intp) + 1]
        if column == RETRANSMISSIONS:
            return self._retrans
        if column == OTHER:
            return self._others
        name = {STREAM: "stream", PACKETS: "packets", BYTES: "bytes"}[column]
        return r[name].astype(np.int64)

    def _filter_is_lazy(self) -> bool:
        needle = self._needle
        return bool(needle) and (any(needle in s.value.lower() for s in _STATES)
                                 or any(needle in n for n in _LABEL_BIT)
                                 or any(needle in s.lower() for s in SHORT.values()))

    def _matches(self) -> Arr:
        """Rule 4, per stream."""
        needle = self._needle
        out = np.zeros(self._n, bool)
        if self.table is None or not self._n:
            return out
        try:
            raw = needle.encode("ascii")
        except UnicodeEncodeError:
            raw = b""
        if raw:
            out |= np.strings.find(self._stream_text(), raw) >= 0
            for side in ("client", "server"):
                out |= self._endpoint_matches(side, needle)
        codes = [k for k, s in enumerate(_STATES) if needle in s.value.lower()]
        if codes:
            out |= np.isin(self._client_state, codes) | np.isin(self._server_state, codes)
        bits = sum(bit for name, bit in _LABEL_BIT.items()
                   if needle in name or needle in SHORT.get(name, name).lower())
        if bits:
            out |= (self._label_bits & bits) != 0
        return out

    def _stream_text(self) -> Arr:
        """The stream numbers as bytes (made once per table)."""
        if "stream" not in self._texts:
            assert self.table is not None
            self._texts["stream"] = self.table.rows["stream"].astype("S10")
        return self._texts["stream"]

    def _endpoint_matches(self, side: str, needle: str) -> Arr:
        """Per stream: is ``needle`` in ``side``'s ``address:port`` text? Decided per
        address and per port, then looked up per row (no text per row)."""
        assert self.table is not None
        if self._hosts is None:
            self._hosts = [(f"[{a}]" if ":" in a else a).lower() for a in self.table.addresses]
        hosts, ports = self._hosts, _port_texts()
        ids = self.table.rows[side]
        port = self.table.rows[f"{side}_port"]
        out: Arr = (np.array([needle in h for h in hosts] or [False])[ids]
                    | np.array([needle in p for p in ports])[port])
        for at, char in enumerate(needle):
            if char == ":":                      # the needle spans host, ':' and port
                head, tail = needle[:at], needle[at + 1:]
                ends = np.array([h.endswith(head) for h in hosts] or [False])
                starts = np.array([p.startswith(tail) for p in ports])
                if ends.any() and starts.any():
                    out |= ends[ids] & starts[port]
        return out

    # ----- Qt -----------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else int(self.view.size)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.table is None:
            return None
        stream, column = int(self.view[index.row()]), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(stream, column)
        if role == SORT_ROLE:
            return self._key(column)[stream].item()
        if role == STREAM_ROLE:
            return stream
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(stream, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _align(column)
        if role == Qt.ItemDataRole.BackgroundRole and column in (CLIENT_STATE, SERVER_STATE):
            codes = self._client_state if column == CLIENT_STATE else self._server_state
            return _state_brush(int(codes[stream]))
        if role == Qt.ItemDataRole.ForegroundRole:
            if column in LAZY and self._client_state[stream] < 0:
                return QBrush(style.MUTED)
            if column == RETRANSMISSIONS:
                return QBrush(style.ANOMALY if self._retrans[stream] > 0 else style.MUTED)
        return None

    def _display(self, stream: int, column: int) -> str:
        assert self.table is not None
        r = self.table.rows[stream]
        if column == STREAM:
            return str(stream)
        if column in (CLIENT, SERVER):
            return self.table.endpoint(stream, "client" if column == CLIENT else "server")
        if column == PACKETS:
            return count_text(int(r["packets"]))
        if column == BYTES:
            return size_text(int(r["bytes"]))
        if column == DURATION:
            return duration_text(max(0, int(r["last_ns"]) - int(r["first_ns"])) / 1e9)
        if column == FLAGS:
            return (f"{self.table.flags_text(stream, 'client')} | "
                    f"{self.table.flags_text(stream, 'server')}")
        if self._client_state[stream] < 0:
            return UNKNOWN
        if column in (CLIENT_STATE, SERVER_STATE):
            codes = self._client_state if column == CLIENT_STATE else self._server_state
            state: TcpState = _STATES[int(codes[stream])]
            return state.value
        if column == RETRANSMISSIONS:
            return count_text(int(self._retrans[stream]))
        labels = self._labels.get(stream, {})
        return ", ".join(f"{SHORT.get(k, k.replace('_', ' '))}×{v}"
                         for k, v in labels.items() if k != "retransmission")

    def _tooltip(self, stream: int, column: int) -> str | None:
        assert self.table is not None
        r = self.table.rows[stream]
        if column == BYTES:
            n = int(r["bytes"])
            return (f"{count_text(n)} byte{'' if n == 1 else 's'} (client "
                    f"{count_text(int(r['client_bytes']))}, server "
                    f"{count_text(n - int(r['client_bytes']))})")
        if column == PACKETS:
            return (f"client sent {count_text(int(r['client_packets']))}, server "
                    f"{count_text(int(r['packets']) - int(r['client_packets']))}")
        if column == DURATION:
            start = (int(r["first_ns"]) - self.table.start_ns) / 1e9
            end = (int(r["last_ns"]) - self.table.start_ns) / 1e9
            return f"{start:.6f} s to {end:.6f} s"
        if column == FLAGS:
            return "\n".join(f"{side}: " + ", ".join(
                f"{name} {int(r[f'{side}_{name}'])}" for name in FLAG_NAMES)
                for side in ("client", "server"))
        if column in LAZY and self._client_state[stream] < 0:
            return "not replayed yet: computed in the background, visible rows first"
        if column in (RETRANSMISSIONS, OTHER) and stream in self._labels:
            return "\n".join(f"{k}: {v}" for k, v in self._labels[stream].items())
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
