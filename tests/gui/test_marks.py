"""Marks on arrows follow SynAck's verdict, and every family has its own glyph and legend
entry (window full is no longer a zero window)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from core.details import segment_details
from core.simulate.scenarios import get
from gui.diagram import style
from gui.diagram.diagram_layout import DiagramLayout
from gui.inspector.details_pane import DetailsPane
from tests.core.test_details_verdict import dsack_details


def test_each_mark_is_distinct() -> None:
    glyphs = [(m.letter, m.shape, m.hollow) for m in style.MARKS]
    assert len(set(glyphs)) == len(glyphs)
    assert len({m.meaning for m in style.MARKS}) == len(style.MARKS)
    families = [set(m.labels) for m in style.MARKS]
    assert all(not a & b for i, a in enumerate(families) for b in families[i + 1:])


def test_marks_of_labels() -> None:
    def letter(*labels: str) -> str | None:
        mark = style.mark_of(labels)
        return None if mark is None else mark.letter
    assert letter("window_full") == "W"
    assert letter("zero_window") == letter("zero_window_probe") == "Z"
    assert letter("retransmission") == letter("retransmission", "fast_retransmission") == "R"
    assert letter("retransmission", "spurious_retransmission") == "S"
    assert letter("duplicate_ack #2 of frame 7") == "D"
    assert letter("fin_reack") is None and letter("simultaneous_open") is None
    assert letter("window_update") is None


def test_legend_lists_window_full_apart(qtbot: QtBot) -> None:
    layout = DiagramLayout(get("flow_control").run())
    entries = {mark.letter: mark.meaning for _, mark in layout.legend_marks}
    assert entries["W"] == "window full" and entries["Z"] == "zero window"
    assert entries["S"] == "spurious retransmission"
    xs = [x for x, _ in layout.legend_marks]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_marks_follow_the_verdict_not_tshark() -> None:
    # the re-ACK of the repeated FIN: tshark says duplicate_ack (D); SynAck says fin_reack
    timeline = get("time_wait_lost_ack").run()
    assert style.mark_of(timeline.segments[12].labels) is None
    # the simultaneous open's SYN+ACKs: tshark says retransmission (R); no mark now
    opened = get("simultaneous_open").run()
    assert [style.mark_of(r.labels) for r in opened.segments[2:4]] == [None, None]


def test_details_pane_shows_tshark_and_synack(qtbot: QtBot, tmp_path: Path) -> None:
    pane = DetailsPane(dsack_details(tmp_path, 6))
    qtbot.add_widget(pane)
    text = pane.labels_text()
    assert "tshark says: <b>retransmission</b>" in text
    assert "SynAck says:" in text and "retransmission, spurious_retransmission" in text
    assert "D-SACK (RFC 2883)" in text
    assert text.index("tshark says") < text.index("spurious_retransmission</b> —")
    agree = DetailsPane(segment_details(get("hello_ok").run(), 0))
    qtbot.add_widget(agree)
    assert "tshark says" not in agree.labels_text()


def test_uncertain_arrows_and_states_are_marked(qtbot: QtBot, tmp_path: Path) -> None:
    """The lost-last-ACK scenario captured next to the server without timestamps (with
    them, the client's re-ACK decides): the FIN and its resend carry ?, so does the
    client's next state, the legend explains ?, and the details pane says 'either ...
    or ...'."""
    from core.capture import read_capture
    from core.capture.taps import TapPoint, write_capture
    from core.details import ReplaySource
    from core.replay import replay_stream
    from core.tcp.states import Side
    from gui.diagram.diagram_painter import DiagramPainter
    path = tmp_path / "twl.pcap"
    write_capture(get("time_wait_lost_ack").run({"timestamps": False}), str(path),
                  TapPoint.server())
    index = read_capture(str(path))
    replay = replay_stream(index, 0)
    tl = replay.timeline
    # the FIN or its ACK; and the server's ACK before its FIN (see tests/replay/test_doubts)
    (doubt,) = [u for u in tl.uncertain if u.text.startswith("either this FIN")]
    layout = DiagramLayout(tl)
    assert style.UNCERTAIN in [mark for _, mark in layout.legend_marks]
    painter = DiagramPainter(layout)
    assert painter._doubtful == frozenset(i for u in tl.uncertain for i in u.segments)
    assert frozenset(doubt.segments) <= painter._doubtful
    assert painter._doubtful_states
    assert all(state[0] is Side.CLIENT for state in painter._doubtful_states)
    details = segment_details(tl, doubt.segments[0],
                              capture=ReplaySource(index=index, replay=replay))
    pane = DetailsPane(details)
    qtbot.add_widget(pane)
    assert "? uncertain" in pane.labels_text() and "either this FIN" in pane.labels_text()
    # a simulation is never in doubt, and its legend says nothing of it
    sim = DiagramLayout(get("time_wait_lost_ack").run())
    assert style.UNCERTAIN not in [mark for _, mark in sim.legend_marks]
