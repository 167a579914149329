"""The details pane: placeholder, fields, labels with their sentences, tcpdump line, hex."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QTextDocument
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QToolButton, QTreeWidgetItem, QWidget
from pytestqt.qtbot import QtBot

from core.analysis.explain import explain
from core.demo import demo_timeline
from core.details import SegmentDetails, segment_details
from core.simulate.scenarios import get
from gui.diagram import style
from gui.inspector.details_pane import PLACEHOLDER, DetailsPane


def make_pane(qtbot: QtBot, details: SegmentDetails | None, width: int = 420) -> DetailsPane:
    pane = DetailsPane(details)
    qtbot.add_widget(pane)
    pane.resize(width, 800)
    pane.show()
    qtbot.wait_exposed(pane)
    return pane


W = TypeVar("W", bound=QWidget)


def child(pane: DetailsPane, kind: type[W], name: str) -> W:
    found = pane.findChild(kind, name)
    assert isinstance(found, kind), name
    return found


def find(pane: DetailsPane, name: str) -> QTreeWidgetItem:
    flags = Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive
    items = pane.tree().findItems(name, flags, 0)
    assert items, f"no row {name!r}"
    return items[0]


def hello() -> SegmentDetails:
    return segment_details(demo_timeline(), 3)


def test_placeholder_until_a_segment_is_shown(qtbot: QtBot) -> None:
    pane = make_pane(qtbot, None)
    assert pane.placeholder_shown()
    assert child(pane, QLabel, "placeholder").text() == PLACEHOLDER
    pane.show_details(hello())
    assert not pane.placeholder_shown()
    pane.show_details(None)
    assert pane.placeholder_shown() and pane.details is None


def test_fields_and_sections(qtbot: QtBot) -> None:
    pane = make_pane(qtbot, hello())
    tree = pane.tree()
    sections = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert sections == ["TCP header", "Options", "Times", "Analysis", "Frame"]
    assert find(pane, "Sequence number").text(1) == "1"
    assert find(pane, "Sequence number").child(0).text(1) == "1809145614"   # raw
    assert find(pane, "Flags").text(1) == "0x018 (PSH, ACK)"
    assert find(pane, "Push (PSH)").text(1) == "set"
    assert find(pane, "Calculated window").text(1) == "130944 bytes"
    assert find(pane, "Timestamps").parent().text(0) == "Options"
    assert "relative to the sender's initial" in find(pane, "Sequence number").toolTip(0)


def test_selecting_a_field_explains_it_and_highlights_its_bytes(qtbot: QtBot) -> None:
    pane = make_pane(qtbot, hello())
    pane.tree().setCurrentItem(find(pane, "Sequence number"))
    assert pane.highlighted_bytes() == 4
    assert "initial sequence number" in child(pane, QLabel, "fieldNote").text()
    pane.tree().setCurrentItem(find(pane, "Payload length"))
    assert pane.highlighted_bytes() == 5
    pane.tree().setCurrentItem(find(pane, "Times"))
    assert pane.highlighted_bytes() == 0


def test_labels_with_their_sentences_in_the_anomaly_colour(qtbot: QtBot) -> None:
    timeline = get("fast_retransmit").run()
    rec = next(r for r in timeline.segments if "fast_retransmission" in r.labels)
    pane = make_pane(qtbot, segment_details(timeline, rec.index))
    html = pane.labels_text()
    assert style.ANOMALY.name() in html
    doc = QTextDocument()
    doc.setHtml(html)
    text = doc.toPlainText()
    for name in ("retransmission", "fast_retransmission"):
        assert f"{name} — {explain(name)}" in text
    pane.show_details(hello())
    assert not child(pane, QLabel, "labels").isVisibleTo(pane)


def test_tcpdump_line_is_shown_and_copied(qtbot: QtBot) -> None:
    details = hello()
    pane = make_pane(qtbot, details)
    assert pane.tcpdump_text() == details.tcpdump
    with qtbot.wait_signal(pane.copied) as blocker:
        qtbot.mouseClick(child(pane, QToolButton, "copyButton"), Qt.MouseButton.LeftButton)
    assert blocker.args == [details.tcpdump]
    assert QGuiApplication.clipboard().text() == details.tcpdump


def test_hex_dump_in_a_monospace_font(qtbot: QtBot) -> None:
    details = hello()
    pane = make_pane(qtbot, details, width=900)
    assert pane.hex_text().splitlines() == details.hex_lines(16)
    hex_box = child(pane, QPlainTextEdit, "hexDump")
    assert hex_box.font().styleHint() == style.label_font().styleHint()
    assert hex_box.font().families() == style.label_font().families()
    assert pane.hex_text().rstrip().endswith("hello")


def test_narrow_pane_shows_eight_bytes_a_line(qtbot: QtBot) -> None:
    details = hello()
    pane = make_pane(qtbot, details, width=300)
    assert pane.hex_text().splitlines() == details.hex_lines(8)
    pane.tree().setCurrentItem(find(pane, "Payload length"))
    assert pane.highlighted_bytes() == 5


def test_the_selected_field_stays_selected_on_the_next_segment(qtbot: QtBot) -> None:
    timeline = demo_timeline()
    pane = make_pane(qtbot, segment_details(timeline, 3))
    pane.tree().setCurrentItem(find(pane, "Sequence number").child(0))
    pane.show_details(segment_details(timeline, 5))
    current = pane.tree().currentItem()
    assert current is not None and current.parent() is not None
    assert (current.parent().text(0), current.text(0), current.text(1)) == (
        "Sequence number", "raw", str(timeline.segments[5].segment.seq))
    assert pane.highlighted_bytes() == 0          # the raw row has no span of its own
    pane.tree().setCurrentItem(find(pane, "Payload length"))
    pane.show_details(segment_details(timeline, 0))   # a SYN: no payload bytes
    assert pane.highlighted_bytes() == 0
    pane.show_details(segment_details(timeline, 5))
    assert pane.highlighted_bytes() == 2             # "OK"
