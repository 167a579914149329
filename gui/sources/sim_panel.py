"""The simulation panel: pick a scenario, read why it matters, edit its parameters, run it.

Rules:
1. The panel only formats and forwards: the scenarios, their explanations, the parameter
   schema and every check of a value come from ``core.simulate``; a run is
   ``Scenario.run(overrides)`` and its Timeline is handed on unchanged.
2. Picking a scenario, Run and Reset run at once; an edited value runs ``DEBOUNCE_MS``
   after the last edit. Nothing runs before the first pick (the window keeps its demo).
3. Runs take a few ms with the defaults, but some values take seconds (``mss=1``: 0.4 s;
   idle keep-alive probes every 10 ms: minutes), so they run in daemon threads that touch
   no Qt object but their job's relay. Only the newest request's result is shown; core
   cannot stop a run, so a superseded one finishes unseen, at most ``WORKERS`` run at
   once and the newest waiting request starts when one ends. Daemon threads never hold
   up quitting.
4. A value core refuses (``ParameterError``) is checked before the run and shown in red
   under the form, and ``run_failed`` carries the message; so does a failed run.
5. The list is for choosing: each scenario is two lines, its name and its summary elided
   to one line (the whole summary is the tooltip and heads the explanation), so a short
   dock still shows several; the list, the explanation and the form share the height
   ``LIST_SHARE`` : 2 : 4 and each can be dragged smaller, down to ``PART_MIN`` px.

Signals:
    timeline_built(object): the Timeline of the newest run.
    run_failed(str): a value was refused or the run failed (core's message).
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Sequence
from itertools import count
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.errors import ParameterError, SynAckError
from core.simulate.params import build_configs
from core.simulate.scenarios import SCENARIOS, Scenario
from core.text import counted
from core.trace import Timeline
from gui.sources.param_form import ParamForm

_log = logging.getLogger(__name__)

DEBOUNCE_MS = 250
WORKERS = 2
ERROR_COLOR = "#B2182B"
MUTED = "#5F5F5F"
NAME_ROLE = Qt.ItemDataRole.UserRole
SUMMARY_ROLE = Qt.ItemDataRole.UserRole + 1
LIST_SHARE = 5
PART_MIN = 48


class _ScenarioDelegate(QStyledItemDelegate):
    """Draws a scenario as its name in bold over its summary on one line, elided, in
    muted ink (rule 5)."""

    PAD = 4

    def _texts(self, index: QModelIndex | QPersistentModelIndex) -> tuple[str, str]:
        return str(index.data(NAME_ROLE)), str(index.data(SUMMARY_ROLE))

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        bold = QFont(option.font)
        bold.setBold(True)
        return bold, QFont(option.font)

    def _width(self, option: QStyleOptionViewItem) -> int:
        view = self.parent()
        width = view.viewport().width() if isinstance(view, QListWidget) else 300
        return max(80, width - 2 * self.PAD)

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        bold, plain = self._fonts(option)
        high = QFontMetrics(bold).height() + QFontMetrics(plain).height()
        return QSize(self._width(option), high + 2 * self.PAD + 1)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        name, summary = self._texts(index)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        palette = opt.palette
        ink = palette.highlightedText().color() if selected else palette.text().color()
        muted = ink if selected else QColor(MUTED)
        bold, plain = self._fonts(option)
        rect = opt.rect.adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        painter.save()
        painter.setFont(bold)
        painter.setPen(ink)
        fm_bold = QFontMetrics(bold)
        painter.drawText(rect.x(), rect.y() + fm_bold.ascent(),
                         fm_bold.elidedText(name, Qt.TextElideMode.ElideRight, rect.width()))
        painter.setFont(plain)
        painter.setPen(muted)
        fm = QFontMetrics(plain)
        painter.drawText(rect.x(), rect.y() + fm_bold.height() + fm.ascent(),
                         fm.elidedText(summary, Qt.TextElideMode.ElideRight, rect.width()))
        painter.restore()


class _Relay(QObject):
    """A job's only Qt object: made in the GUI thread; ``finished`` arrives queued."""

    finished = Signal(int, object, str)  # job, Timeline or None, failure message


def _simulate(job: int, scenario: Scenario, overrides: dict[str, Any], relay: _Relay) -> None:
    """The worker (rule 3): runs in its own daemon thread."""
    try:
        timeline = scenario.run(overrides)
    except SynAckError as exc:
        relay.finished.emit(job, None, str(exc))
    except Exception as exc:  # the window must survive whatever a run raises
        _log.exception("scenario %s failed", scenario.name)
        relay.finished.emit(job, None, f"{scenario.name}: the run failed "
                                       f"({type(exc).__name__}: {exc})")
    else:
        relay.finished.emit(job, timeline, "")


class SimulationPanel(QWidget):
    """Scenario list, explanation, parameter form and run controls (module rules).

    Signals:
        timeline_built(object): the Timeline of the newest run.
        run_failed(str): a refused value or a failed run, with core's message.
    """

    timeline_built = Signal(object)
    run_failed = Signal(str)

    def __init__(self, scenarios: Sequence[Scenario] = SCENARIOS,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scenarios = {s.name: s for s in scenarios}
        self._jobs = count(1)
        self._job = 0
        self._running: dict[int, _Relay] = {}
        self._waiting: tuple[int, Scenario, dict[str, Any]] | None = None
        self.scenario_list = QListWidget()
        self.scenario_list.setUniformItemSizes(True)
        self.scenario_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scenario_list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        for scenario in scenarios:
            item = QListWidgetItem(scenario.name)
            item.setData(NAME_ROLE, scenario.name)
            item.setData(SUMMARY_ROLE, scenario.summary)
            item.setToolTip(scenario.summary)
            self.scenario_list.addItem(item)
        self.scenario_list.setItemDelegate(_ScenarioDelegate(self.scenario_list))
        # a pick is a selection: the view making an item current on focus is not one
        self.scenario_list.itemSelectionChanged.connect(self._on_picked)
        self.explanation = QTextBrowser()
        self.explanation.setOpenLinks(False)
        self.explanation.setPlaceholderText("Pick a scenario: its explanation shows here.")
        self.form = ParamForm()
        self.form.edited.connect(self._on_edited)
        hint = QLabel("Short times in ms, long ones in s, chances in %; <code>--set</code> "
                      "takes units too (50ms, 5%). Hover a name for its meaning.")
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        hint.setStyleSheet(f"color: {MUTED};")
        self.hint = hint
        form_box = QWidget()
        box = QVBoxLayout(form_box)
        box.setContentsMargins(8, 6, 8, 6)
        box.addWidget(hint)
        box.addWidget(self.form)
        for widget in (hint, self.form):
            widget.setVisible(False)   # shown with the first scenario
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll_area.setWidget(form_box)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the scenario with these values now")
        self.run_button.clicked.connect(self.run)
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.clicked.connect(self._on_reset)
        for button in (self.run_button, self.reset_button):
            button.setEnabled(False)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run)
        self._build_layout()

    def _build_layout(self) -> None:
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        parts = ((self.scenario_list, LIST_SHARE), (self.explanation, 2), (self.scroll_area, 4))
        for widget, stretch in parts:
            widget.setMinimumHeight(PART_MIN)
            split.addWidget(widget)
            split.setStretchFactor(split.count() - 1, stretch)
        split.setSizes([100 * stretch for _, stretch in parts])
        self.splitter = split
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.run_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split, 1)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ API
    @property
    def scenario(self) -> Scenario | None:
        return self.form.scenario

    @property
    def busy(self) -> bool:
        """The newest run has not reported yet."""
        return self._job in self._running or self._waiting is not None

    def select(self, name: str) -> None:
        """Show scenario ``name`` at its defaults and run it (``ParameterError`` if unknown)."""
        if name not in self.scenarios:
            raise ParameterError(f"unknown scenario {name!r}; known: {', '.join(self.scenarios)}")
        for row in range(self.scenario_list.count()):
            if self.scenario_list.item(row).data(NAME_ROLE) == name:
                if self.scenario_list.item(row).isSelected():
                    self._show(self.scenarios[name])
                else:
                    self.scenario_list.setCurrentRow(row)
                return

    def current_overrides(self) -> dict[str, Any]:
        """The form's values that differ from the scenario's defaults, in core's keys and
        units (``{"loss": 0.05, "server.mss": 500}``); raises ``ParameterError`` for text
        that does not parse."""
        return self.form.overrides()

    def run(self) -> None:
        """Check the form's values and run the scenario with them (rules 3 and 4)."""
        self._debounce.stop()
        scenario = self.scenario
        if scenario is None:
            return
        try:
            overrides = self.current_overrides()
            build_configs(scenario.params(overrides))
        except ParameterError as exc:
            self._job = next(self._jobs)   # a result still to come is no longer wanted
            self._waiting = None
            self._fail(str(exc))
            return
        self.error.setVisible(False)
        self.status.setText("Running\u2026")
        self._job = job = next(self._jobs)
        self._waiting = (job, scenario, overrides)
        self._start_waiting()

    # ------------------------------------------------------------- running
    def _start_waiting(self) -> None:
        if self._waiting is None or len(self._running) >= WORKERS:
            return
        job, scenario, overrides = self._waiting
        self._waiting = None
        relay = _Relay()
        relay.finished.connect(self._on_job_finished)
        self._running[job] = relay
        threading.Thread(target=_simulate, args=(job, scenario, overrides, relay),
                         name=f"simulate-{scenario.name}", daemon=True).start()

    @Slot(int, object, str)
    def _on_job_finished(self, job: int, timeline: object, message: str) -> None:
        self._running.pop(job, None)
        self._start_waiting()
        if job != self._job:
            return
        if isinstance(timeline, Timeline):
            self.error.setVisible(False)
            self.status.setText(_summary(timeline))
            self.timeline_built.emit(timeline)
        else:
            self._fail(message)

    def _fail(self, message: str) -> None:
        self.status.setText("")
        self.error.setText(message)
        self.error.setVisible(True)
        self.run_failed.emit(message)

    # --------------------------------------------------------------- slots
    def _show(self, scenario: Scenario) -> None:
        self.form.set_scenario(scenario)
        for widget in (self.hint, self.form):
            widget.setVisible(True)
        self.explanation.setHtml(f"<p><b>{html.escape(scenario.summary)}</b></p>"
                                 f"<p>{html.escape(scenario.explanation)}</p>")
        for button in (self.run_button, self.reset_button):
            button.setEnabled(True)
        self.run()

    def _on_picked(self) -> None:
        items = self.scenario_list.selectedItems()
        if items:
            self._show(self.scenarios[str(items[0].data(NAME_ROLE))])

    def _on_edited(self) -> None:
        self._debounce.start()

    def _on_reset(self) -> None:
        self.form.reset()
        self.run()


def _summary(timeline: Timeline) -> str:
    lost = sum(1 for r in timeline.segments if r.lost)
    text = counted(len(timeline), "segment")
    if lost:
        text += f", {lost} lost"
    text += f", {timeline.end - timeline.start:.3g} s"
    return text + ("; " + " ".join(timeline.notes) if timeline.notes else "")
