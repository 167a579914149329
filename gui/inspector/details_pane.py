"""The details pane: everything about the selected segment, as core computed it.

Rules:
- The pane only lays out a :class:`core.details.SegmentDetails`; every value, note and
  sentence comes from core (``segment_details``), nothing is decided here.
- ``None`` shows the placeholder (:data:`PLACEHOLDER`); a new value replaces everything.
- Selecting a field that covers bytes of the frame highlights them in the hex dump (the
  dump's layout comes from ``core.details.hex_cell``).
- Colours and fonts come from :mod:`gui.diagram.style`: labels in the anomaly colour, the
  tcpdump line and the hex dump in the monospace label font.
- The labels are SynAck's verdict; where tshark's differ, "tshark says" and "SynAck
  says" come first, with core's sentences on why.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import (
    QFont,
    QFontMetrics,
    QGuiApplication,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.details import HEX_WIDTH, SegmentDetails, hex_cell, hex_line_length
from gui.diagram import style

PLACEHOLDER = "Click an arrow to see its segment"
_SPAN = Qt.ItemDataRole.UserRole
_NOTE = Qt.ItemDataRole.UserRole + 1
_HEX_LINES = 14
#: The labels' box (tshark's labels, SynAck's verdict, doubts) takes at most this share of
#: the pane's height; longer text scrolls.
LABELS_SHARE = 0.3
_FIELD_HINT = "Select a field to see what it means and its bytes."


class DetailsPane(QWidget):
    """Header fields, options, times, labels, the tcpdump line and the hex dump of one segment.

    Takes the details to show (or None) in the constructor; ``show_details`` changes them.

    Signals:
        copied(str): the tcpdump line was copied to the clipboard.
    """

    copied = Signal(str)

    def __init__(self, details: SegmentDetails | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._details: SegmentDetails | None = None
        self._width = HEX_WIDTH
        self._stack = QStackedWidget(self)
        self._placeholder = QLabel(PLACEHOLDER)
        self._placeholder.setObjectName("placeholder")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)
        self._placeholder.setFont(style.text_font())
        self._placeholder.setStyleSheet(f"color: {style.MUTED.name()};")
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(self._build_content())
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._stack)
        self.show_details(details)

    # ----- construction ------------------------------------------------------------------
    def _build_content(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        self._title = QLabel()
        self._title.setFont(style.heading_font())
        self._title.setWordWrap(True)
        self._title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self._title)

        line_row = QHBoxLayout()
        self._line = QLabel()
        self._line.setObjectName("tcpdumpLine")
        self._line.setFont(style.label_font())
        self._line.setWordWrap(True)
        self._line.setTextFormat(Qt.TextFormat.PlainText)
        self._line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                           | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self._line.setFrameShape(QFrame.Shape.StyledPanel)
        self._line.setMargin(4)
        self._line.setToolTip("The segment as tcpdump prints it (relative numbers)")
        self._copy = QToolButton()
        self._copy.setObjectName("copyButton")
        self._copy.setText("Copy")
        self._copy.setToolTip("Copy the tcpdump line to the clipboard")
        self._copy.clicked.connect(self._on_copy_clicked)
        line_row.addWidget(self._line, 1)
        line_row.addWidget(self._copy, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(line_row)

        self._labels = QLabel()
        self._labels.setObjectName("labels")
        self._labels.setWordWrap(True)
        self._labels.setFont(style.text_font())
        self._labels.setTextFormat(Qt.TextFormat.RichText)
        self._labels.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # a long verdict or doubt scrolls instead of squeezing the field tree
        self._labels_box = QScrollArea()
        self._labels_box.setWidget(self._labels)
        self._labels_box.setWidgetResizable(True)
        self._labels_box.setFrameShape(QFrame.Shape.NoFrame)
        self._labels_box.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._labels_box.setMinimumHeight(0)
        self._labels_box.setVisible(False)         # until a segment with labels is shown
        layout.addWidget(self._labels_box)

        self._tree = QTreeWidget()
        self._tree.setColumnCount(2)
        self._tree.setHeaderLabels(["Field", "Value"])
        self._tree.setFont(style.text_font())
        self._tree.setAlternatingRowColors(True)
        self._tree.setUniformRowHeights(True)
        self._tree.currentItemChanged.connect(self._on_current_item_changed)
        self._note = QLabel(_FIELD_HINT)
        self._note.setObjectName("fieldNote")
        self._note.setWordWrap(True)
        self._note.setFont(style.text_font())
        self._note.setStyleSheet(f"color: {style.MUTED.name()};")
        fields = QWidget()
        fields_layout = QVBoxLayout(fields)
        fields_layout.setContentsMargins(0, 0, 0, 0)
        fields_layout.addWidget(self._tree, 1)
        fields_layout.addWidget(self._note)

        self._bytes_caption = QLabel()
        self._bytes_caption.setWordWrap(True)
        self._bytes_caption.setFont(style.text_font())
        self._bytes_caption.setStyleSheet(f"color: {style.MUTED.name()};")
        self._hex = QPlainTextEdit()
        self._hex.setObjectName("hexDump")
        self._hex.setReadOnly(True)
        self._hex.setFont(style.label_font())
        self._hex.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._hex.viewport().installEventFilter(self)
        hex_box = QWidget()
        hex_layout = QVBoxLayout(hex_box)
        hex_layout.setContentsMargins(0, 0, 0, 0)
        hex_layout.addWidget(self._bytes_caption)
        hex_layout.addWidget(self._hex, 1)

        self._splitter = splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(fields)
        splitter.addWidget(hex_box)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        layout.addWidget(splitter, 1)
        return page

    # ----- public API --------------------------------------------------------------------
    @property
    def details(self) -> SegmentDetails | None:
        return self._details

    def show_details(self, details: SegmentDetails | None) -> None:
        """Show ``details``, or the placeholder for ``None``."""
        self._details = details
        if details is None:
            self._stack.setCurrentWidget(self._placeholder)
            return
        self._title.setText(details.title)
        self._line.setText(details.tcpdump)
        self._labels.setText(self._labels_html(details))
        shown = bool(details.labels) or details.verdict is not None or bool(details.doubts)
        self._labels.setVisible(shown)
        self._labels_box.setVisible(shown)
        self._fit_labels()
        kept = self._current_path()
        self._bytes_caption.setText(f"Bytes: {details.bytes_note}")
        self._fill_tree(details)
        self._fill_hex()
        self._select_path(kept)
        self._on_current_item_changed(self._tree.currentItem(), None)
        self._stack.setCurrentIndex(1)

    def _fit_labels(self) -> None:
        """The labels' box as tall as its text, but at most ``LABELS_SHARE`` of the pane."""
        # before the box is laid out its viewport is tiny: take the pane's width then
        width = max(self._labels_box.viewport().width(), self.width() - 20, 100)
        want = self._labels.heightForWidth(width)
        if want < 0:
            want = self._labels.sizeHint().height()
        cap = max(self._labels.fontMetrics().lineSpacing() * 3,
                  int(self.height() * LABELS_SHARE))
        self._labels_box.setFixedHeight(min(want + 2, cap))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._labels_box.isVisible():
            self._fit_labels()

    def tree(self) -> QTreeWidget:
        return self._tree

    def hex_text(self) -> str:
        return self._hex.toPlainText()

    def labels_text(self) -> str:
        return self._labels.text()

    def tcpdump_text(self) -> str:
        return self._line.text()

    def placeholder_shown(self) -> bool:
        return self._stack.currentWidget() is self._placeholder

    def copy_line(self) -> None:
        """Copy the tcpdump line to the clipboard (what the Copy button does)."""
        self._on_copy_clicked()

    # ----- filling -----------------------------------------------------------------------
    @staticmethod
    def _labels_html(details: SegmentDetails) -> str:
        colour = style.ANOMALY.name()
        items = [f'<p style="margin: 0 0 4px 0;"><b style="color: {style.UNCERTAIN.color.name()};">'
                 f"? uncertain</b> — {html.escape(text)}</p>" for text in details.doubts]
        verdict = details.verdict
        if verdict is not None:
            why = " ".join(verdict.why)
            items.append(f'<p style="margin: 0 0 4px 0;">tshark says: <b>'
                         f"{html.escape(verdict.tshark)}</b><br>SynAck says: "
                         f'<b style="color: {colour};">{html.escape(verdict.synack)}</b>'
                         f" — {html.escape(why)}</p>")
        items += [f'<p style="margin: 0 0 4px 0;"><b style="color: {colour};">'
                  f"{html.escape(label.text)}</b> — {html.escape(label.sentence)}</p>"
                  for label in details.labels]
        return "".join(items)

    def _fill_tree(self, details: SegmentDetails) -> None:
        tree = self._tree
        tree.clear()
        bold = QFont(style.text_font())
        bold.setBold(True)
        for section in details.sections:
            top = QTreeWidgetItem([section.title, ""])
            top.setFont(0, bold)
            top.setFirstColumnSpanned(True)
            tree.addTopLevelItem(top)
            parent: QTreeWidgetItem | None = None
            for field in section.fields:
                item = QTreeWidgetItem([field.name, field.value])
                item.setData(0, _SPAN, field.span)
                item.setData(0, _NOTE, field.note)
                tip = f"{field.value}\n{field.note}" if field.note else field.value
                item.setToolTip(0, field.note or field.name)
                item.setToolTip(1, tip)
                if field.depth and parent is not None:
                    parent.addChild(item)
                else:
                    top.addChild(item)
                    parent = item
            if not section.fields:
                top.addChild(QTreeWidgetItem(["(none)", ""]))
            top.setExpanded(True)
        for t in range(tree.topLevelItemCount()):
            heading = tree.topLevelItem(t)
            for i in range(heading.childCount() if heading is not None else 0):
                child = heading.child(i) if heading is not None else None
                if child is not None:
                    child.setExpanded(child.childCount() <= 3)  # flag bits stay folded
        tree.resizeColumnToContents(0)
        half = max(120, tree.viewport().width() // 2)
        tree.setColumnWidth(0, min(tree.columnWidth(0) + 8, half))

    def _hex_width(self) -> int:
        """16 bytes a line when they fit the hex box, else 8 (a narrow pane)."""
        total = len(self._details.frame) if self._details is not None else 0
        metrics = QFontMetrics(self._hex.font())
        need = metrics.horizontalAdvance("0" * hex_line_length(total, HEX_WIDTH)) + 8
        return HEX_WIDTH if need <= self._hex.viewport().width() else HEX_WIDTH // 2

    def _fill_hex(self) -> None:
        details = self._details
        self._width = self._hex_width()
        lines = details.hex_lines(self._width) if details is not None else []
        self._hex.setPlainText("\n".join(lines) or "(no bytes)")
        self._size_hex(len(lines))
        self._hex.setExtraSelections([])
        item = self._tree.currentItem()
        if item is not None:
            self._on_current_item_changed(item, None)

    def _size_hex(self, lines: int) -> None:
        """Give the dump the height of its lines (at most ``_HEX_LINES`` and a third of the
        room: the fields come first), the rest to the tree."""
        spacing = QFontMetrics(self._hex.font()).lineSpacing()
        want = (self._bytes_caption.sizeHint().height() + 2 * self._hex.frameWidth() + 16
                + spacing * max(2, min(lines, _HEX_LINES)))
        total = sum(self._splitter.sizes()) or self._splitter.height()
        self._splitter.setSizes([max(total - want, total - total // 3),
                                 min(want, total // 3)])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if (watched is self._hex.viewport() and event.type() == QEvent.Type.Resize
                and self._details is not None and self._hex_width() != self._width):
            self._fill_hex()
        return super().eventFilter(watched, event)

    def _current_path(self) -> tuple[str, ...]:
        """The selected row as (section, field[, part]) names, to keep it across segments."""
        path: list[str] = []
        item = self._tree.currentItem()
        while item is not None:
            path.insert(0, item.text(0))
            item = item.parent()
        return tuple(path)

    def _select_path(self, path: tuple[str, ...]) -> None:
        """Select the row at ``path`` if the new segment has it."""
        tree = self._tree
        level = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
        item: QTreeWidgetItem | None = None
        for name in path:
            item = next((it for it in level if it is not None and it.text(0) == name), None)
            if item is None:
                return
            level = [item.child(i) for i in range(item.childCount())]
        if item is not None:
            tree.setCurrentItem(item)

    # ----- slots -------------------------------------------------------------------------
    def _on_copy_clicked(self) -> None:
        text = self._line.text()
        QGuiApplication.clipboard().setText(text)
        self.copied.emit(text)

    def _on_current_item_changed(self, current: QTreeWidgetItem | None,
                                 _previous: QTreeWidgetItem | None) -> None:
        if current is None or current.parent() is None:  # nothing, or a section heading
            self._note.setText(_FIELD_HINT)
        else:
            note = current.data(0, _NOTE)
            text = f"<b>{html.escape(current.text(0))}</b>: {html.escape(current.text(1))}"
            self._note.setText(text + (f" — {html.escape(str(note))}" if note else ""))
        span = current.data(0, _SPAN) if current is not None else None
        self._highlight(tuple(span) if span else None)

    def _highlight(self, span: tuple[int, int] | None) -> None:
        details = self._details
        if span is None or details is None or not details.frame:
            self._hex.setExtraSelections([])
            return
        start, end = span
        total = len(details.frame)
        end = min(end, total)
        fmt = QTextCharFormat()
        fmt.setBackground(style.phase_fill(style.Phase.ESTABLISHED))
        selections = []
        doc = self._hex.document()
        for offset in range(start, end):
            line, hex_col, ascii_col = hex_cell(offset, total, self._width)
            block = doc.findBlockByNumber(line)
            for col, width in ((hex_col, 2), (ascii_col, 1)):
                cursor = QTextCursor(block)
                cursor.setPosition(block.position() + col)
                cursor.setPosition(block.position() + col + width,
                                   QTextCursor.MoveMode.KeepAnchor)
                sel = QTextEdit.ExtraSelection()
                sel.cursor = cursor
                sel.format = fmt
                selections.append(sel)
        self._hex.setExtraSelections(selections)
        first_line = hex_cell(start, total, self._width)[0]
        self._hex.setTextCursor(QTextCursor(doc.findBlockByNumber(first_line)))
        self._hex.ensureCursorVisible()

    def highlighted_bytes(self) -> int:
        """How many byte cells (hex and ASCII) are highlighted, for tests."""
        return len(self._hex.extraSelections()) // 2
