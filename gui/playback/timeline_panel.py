"""The bottom panel of one Timeline: transport controls, window bars, TIME_WAIT countdown.

Rules:
- One panel per Timeline: it creates the :class:`~gui.playback.playback.PlaybackController` and
  every view under it subscribes to the controller's ``moved`` signal here, so the
  cursor, the bars and the countdown never disagree.
- As tall as its content and no taller (the window bars' height): the space goes to the
  diagram. The countdown takes a column of ``COUNTDOWN_WIDTH`` beside the bars; when its
  lines need more height than the bars (a narrow window), it scrolls rather than push
  the diagram up or cut a line off.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from core.trace import Timeline
from gui.inspector.time_wait import TimeWaitCountdown
from gui.inspector.window_bars import WindowBars
from gui.playback.playback import PlaybackController
from gui.playback.transport import TransportBar

COUNTDOWN_WIDTH = (200, 420)   # least and most


class TimelinePanel(QWidget):
    """Transport bar on top; window bars and the countdown side by side below.

    Signals: none (see ``controller``).
    """

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = PlaybackController(timeline, self)
        self.transport = TransportBar(self.controller, self)
        self.bars = WindowBars(timeline, self)
        self.countdown = TimeWaitCountdown(timeline, self)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.transport)
        scroll = QScrollArea(self)
        scroll.setWidget(self.countdown)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(COUNTDOWN_WIDTH[0])
        scroll.setMaximumWidth(COUNTDOWN_WIDTH[1])
        scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        row = QHBoxLayout()
        row.setSpacing(0)
        row.addWidget(self.bars, 3)
        row.addWidget(scroll, 1)
        column.addLayout(row)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.controller.moved.connect(self.bars.set_time)
        self.controller.moved.connect(self.countdown.set_time)
        self.bars.set_time(self.controller.time)
        self.countdown.set_time(self.controller.time)
