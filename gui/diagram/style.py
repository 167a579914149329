"""Colours, pens and fonts of the diagram: one place, the same everywhere.

Rules:
- Every colour the GUI draws comes from here, so the diagram, the legend, the status
  bar and exported PNGs agree.
- Phases and flag kinds only *group* facts core already decided (a state, a segment's
  flags) for colouring; nothing here decides TCP semantics.
- The palette is Okabe-Ito based (readable with the common colour-vision deficiencies):
  a segment's flag kind reuses the colour of the phase it belongs to (SYN = opening,
  data = established, FIN = closing), ACK is neutral, RST is the alarm colour.
- Fonts are sized in pixels so exported PNGs look the same on every machine; families
  are generic, and Qt's own fallback supplies CJK glyphs when a CJK font is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from PySide6.QtGui import QColor, QFont

from core.tcp.segment import Flag, Segment
from core.tcp.states import TcpState


class Phase(Enum):
    """Colour groups of the eleven TCP states."""

    OPENING = "opening"
    ESTABLISHED = "established"
    CLOSING = "closing"
    TIME_WAIT = "TIME_WAIT"
    CLOSED = "closed"


_PHASE_OF: dict[TcpState, Phase] = {
    TcpState.CLOSED: Phase.CLOSED,
    TcpState.LISTEN: Phase.OPENING,
    TcpState.SYN_SENT: Phase.OPENING,
    TcpState.SYN_RECEIVED: Phase.OPENING,
    TcpState.ESTABLISHED: Phase.ESTABLISHED,
    TcpState.FIN_WAIT_1: Phase.CLOSING,
    TcpState.FIN_WAIT_2: Phase.CLOSING,
    TcpState.CLOSE_WAIT: Phase.CLOSING,
    TcpState.CLOSING: Phase.CLOSING,
    TcpState.LAST_ACK: Phase.CLOSING,
    TcpState.TIME_WAIT: Phase.TIME_WAIT,
}


def phase_of(state: TcpState) -> Phase:
    """The colour group of ``state``."""
    return _PHASE_OF[state]


class FlagKind(Enum):
    """Colour groups of segments, by their most telling flag."""

    SYN = "SYN"
    DATA = "data"
    ACK = "ACK"
    FIN = "FIN"
    RST = "RST"


def flag_kind(segment: Segment) -> FlagKind:
    """RST beats SYN beats FIN beats data beats a bare ACK."""
    if segment.has(Flag.RST):
        return FlagKind.RST
    if segment.has(Flag.SYN):
        return FlagKind.SYN
    if segment.has(Flag.FIN):
        return FlagKind.FIN
    if segment.length:
        return FlagKind.DATA
    return FlagKind.ACK


# Okabe-Ito hues; "ink" variants are darkened for lines and text on white.
_PHASE_HEX: dict[Phase, str] = {
    Phase.OPENING: "#009E73",
    Phase.ESTABLISHED: "#0072B2",
    Phase.CLOSING: "#E69F00",
    Phase.TIME_WAIT: "#CC79A7",
    Phase.CLOSED: "#8C8C8C",
}
_KIND_HEX: dict[FlagKind, str] = {
    FlagKind.SYN: "#007A5A",
    FlagKind.DATA: "#0072B2",
    FlagKind.ACK: "#4D4D4D",
    FlagKind.FIN: "#B87A00",
    FlagKind.RST: "#D55E00",
}

BACKGROUND = QColor("#FFFFFF")
INK = QColor("#1A1A1A")          # titles, labels, badge text
MUTED = QColor("#6B6B6B")        # axis, addresses, ghost labels
GRID = QColor("#E6E6E6")         # faint row guides
LOST = QColor("#D55E00")         # the cross on a lost segment
ANOMALY = QColor("#A03C00")      # analysis labels (retransmission, dup ACK, ...)
CURSOR = QColor("#C2185B")       # the playback cursor and the segment in flight
SELECTED = QColor("#FFD54F")     # the selected arrow's highlight
FUTURE_ALPHA = 55                # arrows not yet sent at the cursor are this faint


@dataclass(frozen=True, slots=True)
class Mark:
    """A glyph on an arrow for a family of labels (explained in the legend).

    Marks follow SynAck's verdict (the segment's labels, :mod:`core.analysis.verdict`),
    not tshark's labels where the two differ."""

    letter: str
    meaning: str
    color: QColor
    labels: tuple[str, ...]     # label names (core.analysis.verdict vocabulary)
    shape: str = "circle"       # "circle" or "square"
    hollow: bool = False        # outline and letter in the colour, white inside


MARK_SIZE = 15.0
MARKS: tuple[Mark, ...] = (
    # first: a spurious retransmission also carries "retransmission"
    Mark("S", "spurious retransmission", QColor("#D55E00"), ("spurious_retransmission",),
         hollow=True),
    Mark("R", "retransmission", QColor("#D55E00"),
         ("retransmission", "fast_retransmission")),
    Mark("D", "duplicate ACK", QColor("#7B3294"), ("duplicate_ack",)),
    Mark("O", "out of order", QColor("#8C510A"), ("out_of_order",)),
    Mark("Z", "zero window", QColor("#B2182B"),
         ("zero_window", "zero_window_probe", "zero_window_probe_ack")),
    Mark("W", "window full", QColor("#01665E"), ("window_full",), shape="square"),
)
#: Not a label's mark: arrows and states the capture cannot decide (Timeline.uncertain);
#: the details pane and ``synack trace`` say "either ... or ...".
UNCERTAIN = Mark("?", "uncertain (either ... or ...)", QColor("#B8860B"), (), hollow=True)


def mark_of(labels: tuple[str, ...]) -> Mark | None:
    """The first mark whose family includes one of ``labels`` (a label's first word)."""
    names = {label.split(" ", 1)[0] for label in labels}
    for mark in MARKS:
        if names.intersection(mark.labels):
            return mark
    return None


def phase_color(phase: Phase) -> QColor:
    """Line colour of a phase (lifelines, badge borders)."""
    return QColor(_PHASE_HEX[phase])


def phase_fill(phase: Phase) -> QColor:
    """Badge fill of a phase: the phase colour tinted towards white, so dark text reads."""
    base = QColor(_PHASE_HEX[phase])
    tint = 0.22
    return QColor(round(255 - (255 - base.red()) * tint),
                  round(255 - (255 - base.green()) * tint),
                  round(255 - (255 - base.blue()) * tint))


def state_color(state: TcpState) -> QColor:
    return phase_color(phase_of(state))


def kind_color(kind: FlagKind) -> QColor:
    """Arrow and flag-text colour of a segment kind."""
    return QColor(_KIND_HEX[kind])


def _font(pixel_size: int, *, bold: bool = False, mono: bool = False) -> QFont:
    font = QFont()
    if mono:
        font.setFamilies(["DejaVu Sans Mono", "Menlo", "Consolas", "monospace"])
        font.setStyleHint(QFont.StyleHint.TypeWriter)
    font.setPixelSize(pixel_size)
    font.setBold(bold)
    return font


def title_font() -> QFont:
    return _font(16, bold=True)


def heading_font() -> QFont:
    """Lane headings (role)."""
    return _font(14, bold=True)


def text_font() -> QFont:
    """Addresses, legend, axis captions."""
    return _font(12)


def label_font() -> QFont:
    """Segment labels: monospace, tcpdump style."""
    return _font(12, mono=True)


def badge_font() -> QFont:
    return _font(11, bold=True)


def axis_font() -> QFont:
    return _font(11)


# ---------------------------------------------------------------- window bars
# Send space left to right: acknowledged | in flight | usable | beyond the window; the
# receive buffer: buffered (waiting for the application) | free (the advertised window).
# Usable and free share a colour: the receiver's free space is what the sender may use.
WINDOW_ACKED = QColor("#C9C9C9")
WINDOW_IN_FLIGHT = QColor("#0072B2")
WINDOW_USABLE = QColor("#8ED0BC")
WINDOW_BEYOND = QColor("#ECECEC")
WINDOW_BUFFERED = QColor("#E69F00")
WINDOW_FREE = WINDOW_USABLE
ZERO_WINDOW = QColor("#B2182B")  # outline and text of a zero window
