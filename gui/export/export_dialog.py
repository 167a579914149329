"""File > Export PNG: the whole diagram at a chosen scale, or the current view.

Rules:
- The dialog only collects choices and calls :mod:`gui.export.export`; rendering happens there.
- A tall diagram becomes several pages (``OUT.png``, ``OUT-2.png``, ...); the dialog
  says so before writing, with the number of pages and each page's size, computed by
  the code that paints them (:func:`gui.export.export.page_sizes`,
  :func:`gui.export.export.view_size`), so what it announces is what is written.
- The file is named after what is shown (``gui.export.export.export_name``), in the folder of
  the last export (``QSettings`` key ``export/folder`` when the window has settings),
  else the current folder.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QWidget,
)

from core.errors import SynAckError
from core.text import counted
from gui.diagram.diagram_layout import DiagramLayout
from gui.diagram.sequence_view import SequenceView
from gui.export.export import (
    FORMATS,
    MAX_SCALE,
    MIN_SCALE,
    export_name,
    image_format,
    iter_pages,
    page_sizes,
    render_view,
    save_images,
    view_size,
)


class ExportDialog(QDialog):
    """Choose what to export, the scale and the file; writes on OK.

    Signals: none (``QDialog.accepted`` after a successful write).
    """

    def __init__(self, view: SequenceView, parent: QWidget | None = None, *,
                 folder: str | None = None) -> None:
        """``folder``: where the file goes (default: the current folder)."""
        super().__init__(parent)
        self.setWindowTitle("Export PNG")
        self._view = view
        self._export_layout: DiagramLayout | None = None
        self.written: list[tuple[str, int, int]] = []
        form = QFormLayout(self)
        self.whole = QRadioButton("The whole diagram (every row)")
        self.current = QRadioButton("The current view")
        self.whole.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.whole)
        group.addButton(self.current)
        form.addRow("Export", self.whole)
        form.addRow("", self.current)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(MIN_SCALE * 100, MAX_SCALE * 100)
        self.scale.setSingleStep(25)
        self.scale.setDecimals(0)
        self.scale.setSuffix(" %")
        self.scale.setValue(100)
        form.addRow("Scale", self.scale)
        self.path = QLineEdit(os.path.join(folder or os.getcwd(),
                                           export_name(view.timeline.title)))
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._on_browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("File", row)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        form.addRow(self.summary)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        for signal in (self.whole.toggled, self.scale.valueChanged):
            signal.connect(self._on_changed)
        self._on_changed()

    def _on_browse(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export diagram", self.path.text(),
            "PNG images (*.png);;JPEG images (*.jpg *.jpeg)")
        if path:
            known = os.path.splitext(path)[1].lower() in FORMATS
            self.path.setText(path if known else path + (".jpg" if "JPEG" in chosen
                                                         else ".png"))

    def _layout(self) -> DiagramLayout:
        """The exported layout (built once: the scale does not change it)."""
        if self._export_layout is None:
            v = self._view
            self._export_layout = DiagramLayout(v.timeline, show_title=True, compact=v.compact,
                                                absolute=v.absolute)
        return self._export_layout

    def estimate(self) -> list[tuple[int, int]]:
        """(width, height) of every image the current choices write (``ValueError`` when
        the scale makes pages too short)."""
        scale = self.scale.value() / 100
        if self.current.isChecked():
            v = self._view
            return [view_size(v.diagram_layout(), v.visible_rect(), scale=scale)]
        return page_sizes(self._layout(), scale)

    def _on_changed(self, *_: object) -> None:
        try:
            sizes = self.estimate()
        except ValueError as exc:
            self.summary.setText(str(exc))
            return
        if len(sizes) == 1:
            width, height = sizes[0]
            self.summary.setText(f"One image of {width:,} \u00d7 {height:,} px.")
            return
        width = sizes[0][0]
        tall = sum(h for _, h in sizes)
        self.summary.setText(f"{counted(len(sizes), 'page')} of {width:,} px wide, "
                             f"{tall:,} px in all (the last {sizes[-1][1]:,} px tall): "
                             "NAME.png, NAME-2.png, \u2026")

    def export(self) -> list[tuple[str, int, int]]:
        """Render and write with the current choices (raises SynAckError)."""
        scale = self.scale.value() / 100
        v = self._view
        image_format(self.path.text())       # an unknown suffix fails before rendering
        try:
            if self.current.isChecked():
                return save_images([render_view(v.diagram_layout(), v.visible_rect(),
                                                scale=scale, cursor=v.cursor_time,
                                                selected=v.selected)], self.path.text())
            # the whole diagram: each page painted, written and dropped before the next
            return save_images(iter_pages(self._layout(), scale=scale), self.path.text())
        except ValueError as exc:
            raise SynAckError(f"cannot render the diagram: {exc}") from exc

    def _on_save(self) -> None:
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.written = self.export()
        except SynAckError as exc:
            QGuiApplication.restoreOverrideCursor()
            QMessageBox.critical(self, "Export failed", str(exc))
            return
        QGuiApplication.restoreOverrideCursor()
        parent = self.parentWidget()
        if parent is not None and hasattr(parent, "statusBar"):
            first = self.written[0]
            more = f" and {len(self.written) - 1} more pages" if len(self.written) > 1 else ""
            parent.statusBar().showMessage(
                f"Wrote {first[0]} ({first[1]}\u00d7{first[2]}){more}", 10_000)
        self.accept()
