"""Transport controls for a :class:`~gui.playback.playback.PlaybackController`.

Rules:
- The bar only forwards the user's wishes to the controller and shows its state; it
  keeps no cursor of its own. Keyboard shortcuts live on the window's actions.
- The scrubber has ``SCRUB_STEPS`` positions over the whole animation on the
  controller's scale (idle stretches and a TIME_WAIT tail compressed, so the segments
  fill the bar); dragging it seeks.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QToolButton,
    QWidget,
)

from core.trace import Timeline
from gui.diagram.labels import time_text
from gui.playback.playback import SPEEDS, Pacing, PlaybackController

SCRUB_STEPS = 10_000


def speed_text(factor: float) -> str:
    return f"{factor:g}\u00d7"


class TransportBar(QWidget):
    """Play/pause, step, start/end, speed, pacing, scrubber and the time.

    Signals: none (it calls the controller directly).
    """

    def __init__(self, controller: PlaybackController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        icons = self.style()
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)

        def button(icon: QStyle.StandardPixmap, tip: str) -> QToolButton:
            b = QToolButton(self)
            b.setIcon(icons.standardIcon(icon))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            row.addWidget(b)
            return b

        self.start_button = button(QStyle.StandardPixmap.SP_MediaSkipBackward, "Start (Home)")
        self.back_button = button(QStyle.StandardPixmap.SP_MediaSeekBackward,
                                  "Step back one event (Left)")
        self.play_button = button(QStyle.StandardPixmap.SP_MediaPlay, "Play / pause (Space)")
        self.forward_button = button(QStyle.StandardPixmap.SP_MediaSeekForward,
                                     "Step forward one event (Right)")
        self.end_button = button(QStyle.StandardPixmap.SP_MediaSkipForward, "End (End)")
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, SCRUB_STEPS)
        self.slider.setToolTip("Drag to move the playback cursor. Long idle stretches "
                               "and the TIME_WAIT wait at the end take less room here "
                               "than their time, so every segment is in reach.")
        row.addWidget(self.slider, 1)
        self.time_label = QLabel(self)
        self.time_label.setMinimumWidth(140)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.time_label)
        self.speed_box = QComboBox(self)
        for factor in SPEEDS:
            self.speed_box.addItem(speed_text(factor), factor)
        self.speed_box.setToolTip("Playback speed ([ slower, ] faster)")
        row.addWidget(self.speed_box)
        self.pacing_box = QComboBox(self)
        for pacing in Pacing:
            self.pacing_box.addItem(pacing.value, pacing)
        self.pacing_box.setToolTip("Real time: the clock runs at the speed factor. "
                                   "One segment per step: one event per second at 1\u00d7.")
        row.addWidget(self.pacing_box)

        c = controller
        self.start_button.clicked.connect(c.to_start)
        self.back_button.clicked.connect(c.step_back)
        self.play_button.clicked.connect(c.toggle)
        self.forward_button.clicked.connect(c.step_forward)
        self.end_button.clicked.connect(c.to_end)
        self.slider.valueChanged.connect(self._on_slider)
        self.speed_box.currentIndexChanged.connect(self._on_speed_box)
        self.pacing_box.currentIndexChanged.connect(self._on_pacing_box)
        c.moved.connect(self._on_moved)
        c.started.connect(self._on_play_state)
        c.paused.connect(self._on_play_state)
        c.speed_changed.connect(self._on_speed)
        c.pacing_changed.connect(self._on_pacing)
        self._on_speed(c.speed)
        self._on_moved(c.time)

    @property
    def timeline(self) -> Timeline:
        return self._controller.timeline

    def _on_slider(self, value: int) -> None:
        # only the user moves it: _on_moved sets it with its signals blocked
        self._controller.seek_fraction(value / SCRUB_STEPS)

    def _on_moved(self, time: float) -> None:
        c = self._controller
        self.slider.blockSignals(True)
        self.slider.setValue(round(c.fraction() * SCRUB_STEPS))
        self.slider.blockSignals(False)
        start = c.start_time
        self.time_label.setText(f"{time_text(time - start)} / {time_text(c.end_time - start)} ms")

    def _on_play_state(self) -> None:
        icon = (QStyle.StandardPixmap.SP_MediaPause if self._controller.playing
                else QStyle.StandardPixmap.SP_MediaPlay)
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _on_speed_box(self, index: int) -> None:
        self._controller.set_speed(float(self.speed_box.itemData(index)))

    def _on_speed(self, factor: float) -> None:
        index = self.speed_box.findData(factor)
        if index < 0:
            self.speed_box.addItem(speed_text(factor), factor)
            index = self.speed_box.count() - 1
        self.speed_box.blockSignals(True)
        self.speed_box.setCurrentIndex(index)
        self.speed_box.blockSignals(False)

    def _on_pacing_box(self, index: int) -> None:
        pacing = self.pacing_box.itemData(index)
        if isinstance(pacing, Pacing):
            self._controller.set_pacing(pacing)

    def _on_pacing(self, pacing: object) -> None:
        index = self.pacing_box.findData(pacing)
        self.pacing_box.blockSignals(True)
        self.pacing_box.setCurrentIndex(max(index, 0))
        self.pacing_box.blockSignals(False)
