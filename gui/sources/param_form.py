"""The parameter form of one scenario, built from core's schema (``core.simulate.params``).

Rules:
1. Every editor holds a value in the unit the schema shows (``ms`` for short times, ``%``
   for probabilities); :meth:`ParamForm.overrides` hands core's units back (seconds,
   probabilities), as ``--set`` takes bare numbers. An optional key's editor has one extra step
   below its range that means ``None`` (its text is the schema's ``off``).
2. The defaults are the scenario's effective values (``describe(scenario.params())``:
   preset, scenario defaults and the base ISNs); ``overrides`` lists only what differs
   from them, so an untouched form runs the scenario exactly as defined.
3. An endpoint key has one editor for both sides, or one per side when the defaults
   differ or the row's ``C/S`` button is on; a shared change is the plain key
   (``mss``), a per-side one ``client.mss``/``server.mss``.
4. Changing the preset moves every untouched value to the new preset's default.
5. Only the user's edits emit ``edited``; filling the form from code emits nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.simulate.link import DropRule
from core.simulate.params import COMMON, SCHEMA, ParamInfo, describe, parse_assignment
from core.simulate.scenarios import HORIZON, Scenario

SIDES = ("client", "server")
SHARED = ""
#: decimals a float editor shows, per unit shown
_DECIMALS = {"ms": 1, "%": 2, "s": 3}
_SUFFIX = {"ms": " ms", "%": " %", "s": " s", "octets": " B", "octets/s": " B/s"}
Values = dict[str, object]  # "" (shared or not per side), "client", "server" -> core value


def effective_values(scenario: Scenario, preset: str | None = None) -> dict[str, Values]:
    """Every schema key's effective value for ``scenario`` (per side for endpoint keys)."""
    params = scenario.params({"preset": preset} if preset else None)
    described = cast(dict[str, dict[str, object]], describe(params))
    out: dict[str, Values] = {}
    for key, info in SCHEMA.items():
        if info.per_side:
            out[key] = {side: described[side][key] for side in SIDES}
        elif info.scope == "link":
            out[key] = {SHARED: described["link"][key]}
        elif key == "until":
            out[key] = {SHARED: float(params.get("until", scenario.until or HORIZON))}  # type: ignore[arg-type]
        elif key == "drop" and isinstance(params.get("drop"), tuple):
            rules: tuple[DropRule, ...] = params["drop"]  # type: ignore[assignment]
            out[key] = {SHARED: ",".join(f"{r.sender.value}:{r.nth}" for r in rules)}
        else:
            out[key] = {SHARED: str(params.get(key, "linux" if key == "preset" else ""))}
    return out


class _Number(QDoubleSpinBox):
    """A double spin box that drops trailing zeros (``30 s``, ``10 ms``, ``12.5 %``)."""

    def textFromValue(self, value: float) -> str:
        text = f"{value:.{self.decimals()}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text


class _Editor:
    """One value editor: converts between core's unit and the unit shown (rule 1)."""

    def __init__(self, info: ParamInfo, changed: Callable[[], None]) -> None:
        self.info = info
        self.widget: QWidget
        if info.kind is bool:
            box = QCheckBox("on")
            box.toggled.connect(changed)
            self.widget = box
        elif info.choices:
            combo = QComboBox()
            combo.addItems(list(info.choices))
            combo.currentTextChanged.connect(changed)
            self.widget = combo
        elif info.kind is str or info.words:
            line = QLineEdit()
            line.setPlaceholderText("none" if info.kind is str else " or ".join(info.words))
            line.textEdited.connect(changed)
            self.widget = line
        else:
            self.widget = self._spin(info, changed)
        self.widget.setToolTip(_tooltip(info))

    @staticmethod
    def _spin(info: ParamInfo, changed: Callable[[], None]) -> QWidget:
        assert info.minimum is not None and info.maximum is not None
        low, high = info.minimum * info.factor, info.maximum * info.factor
        spin: QSpinBox | QDoubleSpinBox
        if info.kind is int:
            spin = QSpinBox()
        else:
            spin = _Number()
            spin.setDecimals(_DECIMALS.get(info.shown_in, 0))
        if info.off is not None:  # rule 1: one step below the range means None
            low = low - 1 if low <= 0 else 0
            spin.setSpecialValueText(info.off)
        spin.setRange(low, high)  # type: ignore[arg-type]
        spin.setSuffix(_SUFFIX.get(info.shown_in, ""))
        spin.setAccelerated(True)
        spin.valueChanged.connect(changed)
        return spin

    def normal(self, value: object) -> object:
        """``value`` as this editor would give it back (rounded to what it shows)."""
        if isinstance(value, float) and isinstance(self.widget, QDoubleSpinBox):
            return round(value * self.info.factor, self.widget.decimals()) / self.info.factor
        if isinstance(self.widget, QLineEdit):
            return str(value)
        return value

    def value(self) -> object:
        """The core value (line edits: the stripped text, parsed by ``overrides``)."""
        w = self.widget
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QLineEdit):
            return w.text().strip()
        assert isinstance(w, QSpinBox | QDoubleSpinBox)
        if self.info.off is not None and w.value() == w.minimum():
            return None
        if isinstance(w, QSpinBox):
            return w.value()
        return w.value() / self.info.factor

    def set_value(self, value: object) -> None:
        w = self.widget
        if isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QComboBox):
            w.setCurrentText(str(value))
        elif isinstance(w, QLineEdit):
            w.setText(str(value))
        elif isinstance(w, QSpinBox):
            w.setValue(w.minimum() if value is None else int(value))  # type: ignore[call-overload]
        else:
            assert isinstance(w, QDoubleSpinBox)
            w.setValue(w.minimum() if value is None
                       else float(value) * self.info.factor)  # type: ignore[arg-type]


def _tooltip(info: ParamInfo) -> str:
    lines = [f"<b>{info.key}</b>: {info.text}."]
    if info.factor != 1.0:
        example, bare = ("40ms", "seconds") if info.unit == "s" else ("5%", "a fraction (0..1)")
        lines.append(f"Shown in {info.shown_in}; <code>--set {info.key}=</code> takes a unit "
                     f"({example}) or a bare number in {bare}.")
    elif info.unit:
        lines.append(f"In {info.unit}.")
    if info.per_side:
        lines.append("Per side: <code>client.</code>/<code>server.</code> prefix, or the "
                     "C/S button.")
    return "<br>".join(lines)


class _Row:
    """One key: its label, one shared editor or one per side, and its defaults."""

    def __init__(self, info: ParamInfo, defaults: Values, changed: Callable[[], None]) -> None:
        self.info = info
        self.defaults = defaults
        self.label = QLabel(info.key)
        self.label.setToolTip(_tooltip(info))
        self.field = QWidget()
        grid = QGridLayout(self.field)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        self.editors: dict[str, _Editor] = {}
        self.side_labels: list[QLabel] = []
        names = (SHARED, *SIDES) if info.per_side else (SHARED,)
        for line, name in enumerate(names):
            editor = self.editors[name] = _Editor(info, changed)
            if name:
                side = QLabel(name)
                self.side_labels.append(side)
                grid.addWidget(side, line, 0)
            grid.addWidget(editor.widget, line, 1)
        grid.setColumnStretch(1, 1)
        self.split = QToolButton()
        self.split.setText("C/S")
        self.split.setCheckable(True)
        self.split.setAutoRaise(True)
        self.split.setToolTip("Set the client's and the server's value separately")
        keep = self.split.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # every row's editors end at the same place
        self.split.setSizePolicy(keep)
        self.split.setVisible(info.per_side)
        self.split.toggled.connect(self._on_split)
        self.split.toggled.connect(changed)
        grid.addWidget(self.split, 0, 2, Qt.AlignmentFlag.AlignTop)
        self.reset()

    def reset(self) -> None:
        sides = [self.defaults[s] for s in SIDES] if self.info.per_side else []
        self.split.setChecked(bool(sides) and sides[0] != sides[1])
        self._show_split(self.split.isChecked())
        for name, editor in self.editors.items():
            editor.set_value(self.defaults[name or SIDES[0]] if self.info.per_side
                             else self.defaults[name])

    def _show_split(self, split: bool) -> None:
        for name, editor in self.editors.items():
            editor.widget.setVisible(bool(name) == split)
        for label in self.side_labels:
            label.setVisible(split)

    def _on_split(self, split: bool) -> None:
        if split:  # both sides start at the shared value
            for side in SIDES:
                self.editors[side].set_value(self.editors[SHARED].value())
        else:
            self.editors[SHARED].set_value(self.editors[SIDES[0]].value())
        self._show_split(split)

    @property
    def is_split(self) -> bool:
        return self.split.isChecked()

    def differences(self) -> list[tuple[str, object]]:
        """(core key, value as edited) for every value that differs from its default."""
        key, out = self.info.key, list[tuple[str, object]]()
        if not self.info.per_side:
            names: list[tuple[str, str, str]] = [(SHARED, key, SHARED)]
        elif self.is_split:
            names = [(side, f"{side}.{key}", side) for side in SIDES]
        else:
            names = [(SHARED, key, side) for side in SIDES]
        for editor_name, core_key, default_name in names:
            editor = self.editors[editor_name]
            value = editor.value()
            if value != editor.normal(self.defaults[default_name]) and \
                    all(k != core_key for k, _ in out):
                out.append((core_key, value))
        return out

    def overrides(self) -> dict[str, object]:
        """What differs from the defaults, as core keys and values (rule 3); raises
        ``ParameterError`` for text that does not parse."""
        text = isinstance(self.editors[SHARED].widget, QLineEdit)
        return {k: parse_assignment(f"{k}={v}")[1] if text else v
                for k, v in self.differences()}


class ParamForm(QWidget):
    """Editors for every schema key of one scenario (module rules).

    Signals:
        edited(): the user changed a value (or a row's C/S button).
    """

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scenario: Scenario | None = None
        self.rows: dict[str, _Row] = {}
        #: the keys shown up front: ``COMMON`` and the scenario's own defaults
        self.first: tuple[str, ...] = ()
        self._quiet = False
        self.common = QFormLayout()
        self.more = QFormLayout()
        for form in (self.common, self.more):
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
            form.setVerticalSpacing(5)
        self.expander = QToolButton()
        self.expander.setText("All parameters")
        self.expander.setCheckable(True)
        self.expander.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.expander.setArrowType(Qt.ArrowType.RightArrow)
        self.expander.setAutoRaise(True)
        self.expander.toggled.connect(self._on_expanded)
        self.more_box = QWidget()
        self.more_box.setLayout(self.more)
        self.more.setContentsMargins(0, 0, 0, 0)
        self.more_box.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.common)
        layout.addWidget(self.expander)
        layout.addWidget(self.more_box)
        layout.addStretch(1)

    def set_scenario(self, scenario: Scenario) -> None:
        """Rebuild the rows for ``scenario``, at its defaults; emits nothing."""
        self.scenario = scenario
        for form in (self.common, self.more):
            while form.rowCount():
                form.removeRow(0)
        own = [k.split(".", 1)[-1] for k in scenario.defaults]
        self.first = first = tuple(k for k in SCHEMA if k in COMMON or k in own)
        defaults = effective_values(scenario)
        self.rows = {}
        self._quiet = True
        for key, info in SCHEMA.items():
            row = self.rows[key] = _Row(info, defaults[key], self._on_changed)
            (self.common if key in first else self.more).addRow(row.label, row.field)
        self._quiet = False
        bold = QFont(self.font())
        bold.setBold(True)
        width = max(QFontMetrics(bold).horizontalAdvance(key) for key in SCHEMA) + 4
        for row in self.rows.values():  # both sections' editors start at the same place
            row.label.setMinimumWidth(width)
        self._mark()

    def editor(self, key: str) -> QWidget:
        """The editor of ``key`` (``delay``, ``client.mss``: the shared one or a side's)."""
        side, _, base = key.rpartition(".")
        return self.rows[base].editors[side].widget

    def set_split(self, key: str, split: bool) -> None:
        self.rows[key].split.setChecked(split)

    def overrides(self) -> dict[str, Any]:
        """What differs from the scenario's defaults, in core's keys and units (rule 2).

        Raises ``ParameterError`` for text that does not parse (``iss=abc``)."""
        out: dict[str, Any] = {}
        for row in self.rows.values():
            out.update(row.overrides())
        return out

    def reset(self) -> None:
        """Every value back to the scenario's default; emits nothing."""
        if self.scenario is not None:
            self._set_defaults(effective_values(self.scenario), everything=True)

    def _set_defaults(self, defaults: Mapping[str, Values], *, everything: bool) -> None:
        self._quiet = True
        try:
            for key, row in self.rows.items():
                untouched = everything or not row.differences()
                if key != "preset" or everything:
                    row.defaults = dict(defaults[key])
                if untouched:
                    row.reset()
        finally:
            self._quiet = False
        self._mark()

    def _mark(self) -> None:
        """Labels of changed values in bold."""
        for row in self.rows.values():
            font = QFont(row.label.font())
            font.setBold(bool(row.differences()))
            row.label.setFont(font)

    def _on_changed(self, *_: object) -> None:
        if self._quiet:
            return
        preset = self.rows.get("preset")
        if (self.scenario is not None and preset is not None
                and self.sender() is preset.editors[SHARED].widget):
            self._set_defaults(effective_values(self.scenario, str(preset.editors[SHARED].value())),
                               everything=False)
        self._mark()
        self.edited.emit()

    def _on_expanded(self, shown: bool) -> None:
        self.expander.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.more_box.setVisible(shown)
