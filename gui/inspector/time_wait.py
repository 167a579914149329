"""The TIME_WAIT countdown: the 2MSL timer of each side draining at the playback cursor.

Rules:
- The countdown has no clock of its own: it shows :func:`core.cursor.time_wait_at` for the
  time the playback controller gives to :meth:`TimeWaitCountdown.set_time`, so it runs at
  the playback speed and stops when playback pauses.
- Past the deadline the side is CLOSED (core decides that, even when the Timeline has no
  event for it); past the last captured packet the widget says the capture does not show
  the end of TIME_WAIT.
- With no side in TIME_WAIT the widget shows one quiet line.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from core.cursor import Countdown, Cursor
from core.tcp.states import Side, TcpState
from core.trace import Timeline
from gui.diagram import style

STEPS = 1000                      # progress bar resolution
QUIET = "No side is in TIME_WAIT."


def seconds_text(seconds: float) -> str:
    """``60 s``, ``41.3 s``, ``7.66 s``: at most two decimals, whole numbers bare."""
    text = f"{seconds:.2f}".rstrip("0").rstrip(".")
    return f"{text} s"


def countdown_text(countdown: Countdown) -> str:
    """One line: ``client TIME_WAIT 41.3 s of 2MSL = 60 s left (MSL 30 s)``, or CLOSED."""
    side = countdown.side.value
    msl = countdown.msl
    total = seconds_text(countdown.total)
    if msl is not None and abs(countdown.total - 2 * msl) < 1e-9:
        length, unit = f"2MSL = {total}", f"MSL {seconds_text(msl)}"
    elif msl is not None:
        length, unit = f"{total}", f"MSL {seconds_text(msl)}, 2MSL = {seconds_text(2 * msl)}"
    else:
        length, unit = f"{total}", "MSL not known"
    if countdown.expired:
        text = (f"{side} CLOSED: TIME_WAIT ({length}) ended at "
                f"{seconds_text(countdown.deadline)} ({unit})")
    else:
        text = (f"{side} TIME_WAIT {countdown.remaining:.1f} s of {length} left ({unit})")
    if countdown.restarted:
        text += f" · timer restarted at {seconds_text(countdown.started)}"
    return text


def capture_text(countdown: Countdown, *, simulated: bool = False) -> str:
    """The note for a Timeline that ends before TIME_WAIT does (a capture, usually)."""
    source = "The simulation stops" if simulated else "The capture ends"
    return (f"{source} at {seconds_text(countdown.timeline_end)}; it does not show "
            f"the end of TIME_WAIT.")


class _Row(QWidget):
    """One side's line of text and its draining bar."""

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel()
        self.label.setFont(style.text_font())
        self.label.setStyleSheet(f"color: {style.INK.name()}")
        self.bar = QProgressBar()
        self.bar.setRange(0, STEPS)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 2)
        layout.setSpacing(2)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self._expired: bool | None = None

    def show_countdown(self, countdown: Countdown) -> None:
        self.label.setText(countdown_text(countdown))
        fraction = countdown.remaining / countdown.total if countdown.total > 0 else 0.0
        self.bar.setValue(round(fraction * STEPS))
        if countdown.expired is not self._expired:
            self._expired = countdown.expired
            phase = style.phase_of(TcpState.CLOSED if countdown.expired else TcpState.TIME_WAIT)
            color = style.phase_color(phase).name()
            self.bar.setStyleSheet(
                f"QProgressBar {{ border: 1px solid {style.MUTED.name()}; border-radius: 3px;"
                f" background: {style.BACKGROUND.name()}; }}"
                f" QProgressBar::chunk {{ background: {color}; border-radius: 2px; }}")


class TimeWaitCountdown(QWidget):
    """Each side's TIME_WAIT countdown at the playback cursor.

    Signals:
        expired(Side): the cursor moved forward across that side's TIME_WAIT deadline;
            from there on the side is CLOSED.
    """

    expired = Signal(object)

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timeline = timeline
        self._cursor = Cursor(timeline)
        self._time: float | None = None
        self._countdowns: dict[Side, Countdown | None] = {side: None for side in Side}
        self._quiet = QLabel(QUIET)
        self._quiet.setFont(style.text_font())
        self._quiet.setStyleSheet(f"color: {style.MUTED.name()}")
        self._rows = {side: _Row() for side in Side}
        self._capture = QLabel()
        self._capture.setFont(style.text_font())
        self._capture.setStyleSheet(f"color: {style.ANOMALY.name()}")
        self._capture.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        layout.addWidget(self._quiet)
        for row in self._rows.values():
            layout.addWidget(row)
        layout.addWidget(self._capture)
        layout.addStretch(1)
        self.set_time(timeline.start)

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    def countdown(self, side: Side) -> Countdown | None:
        """What the widget shows for ``side`` (None: not in TIME_WAIT)."""
        return self._countdowns[side]

    def text(self, side: Side) -> str:
        """The line shown for ``side`` ('' when it is not in TIME_WAIT)."""
        return self._rows[side].label.text() if self._countdowns[side] is not None else ""

    def capture_note(self) -> str:
        """The note about the capture ending first ('' when none is shown)."""
        return self._capture.text() if not self._capture.isHidden() else ""

    def quiet(self) -> bool:
        """True when no side is in TIME_WAIT (only the quiet line shows)."""
        return not self._quiet.isHidden()

    def set_time(self, t: float) -> None:
        """Show both countdowns at cursor time ``t``; emits ``expired`` on crossing."""
        previous, self._time = self._time, t
        crossed: list[Side] = []
        beyond: Countdown | None = None
        for side in Side:
            countdown = self._cursor.time_wait_at(side, t)
            self._countdowns[side] = countdown
            row = self._rows[side]
            row.setHidden(countdown is None)
            if countdown is None:
                continue
            row.show_countdown(countdown)
            if countdown.beyond_capture and not countdown.end_shown:
                beyond = countdown
            if (countdown.expired and previous is not None
                    and previous < countdown.deadline <= t):
                crossed.append(side)
        self._quiet.setHidden(any(c is not None for c in self._countdowns.values()))
        self._capture.setHidden(beyond is None)
        # a Timeline that records its windows is a simulation's (core.cursor, rule 2)
        simulated = self._cursor.buffers_known
        self._capture.setText("" if beyond is None else capture_text(beyond, simulated=simulated))
        for side in crossed:
            self.expired.emit(side)
