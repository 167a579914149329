"""Diagram geometry: labels never overlap, arrows run downhill, painting is clipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from pytestqt.qtbot import QtBot

from core.demo import demo_timeline
from core.simulate.scenarios import get
from core.tcp.segment import Flag, Segment
from core.tcp.states import Side
from core.trace import Peer, Timeline, TimelineBuilder
from gui.diagram.diagram_layout import DiagramLayout
from gui.diagram.diagram_painter import DiagramPainter
from gui.diagram.labels import payload_preview, segment_label, time_text
from gui.diagram.sequence_view import SequenceView
from gui.export.export import ExportError, export_png, render_timeline

SCENARIOS = ["demo", "simultaneous_open", "simultaneous_close", "retransmission",
             "fast_retransmit", "out_of_order", "flow_control", "time_wait_lost_ack"]


def _timeline(name: str) -> Timeline:
    return demo_timeline() if name == "demo" else get(name).run()


def bulk_timeline(count: int) -> Timeline:
    """``count`` data segments client -> server, ten in flight, each ACKed."""
    b = TimelineBuilder(title="bulk", client=Peer(side=Side.CLIENT, address="10.0.0.1",
                                                  port=40000),
                        server=Peer(side=Side.SERVER, address="10.0.0.2", port=80))
    for i in range(count):
        t = i * 0.001
        seg = Segment.with_payload(seq=1 + 100 * i, ack=1, flags=Flag.ACK, window=512,
                                   payload=b"x" * 100)
        b.arrived(t + 0.010, b.sent(t, Side.CLIENT, seg))
        ack = Segment(seq=1, ack=1 + 100 * (i + 1), flags=Flag.ACK, window=512)
        b.arrived(t + 0.020, b.sent(t + 0.010, Side.SERVER, ack))
    return b.build()


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("name", SCENARIOS)
def test_rows_keep_labels_and_badges_apart(qtbot: QtBot, name: str, compact: bool) -> None:
    layout = DiagramLayout(_timeline(name), compact=compact)
    tails = sorted(a.y0 for a in layout.arrows)
    for upper, lower in zip(tails, tails[1:], strict=False):
        assert lower - upper >= layout.label_height  # label bands are disjoint
    for arrow in layout.arrows:
        assert arrow.y1 >= arrow.y0  # time runs down the page
    for side in Side:
        ys = sorted(b.y for b in layout.badges if b.side is side)
        for upper, lower in zip(ys, ys[1:], strict=False):
            assert lower - upper >= layout.badge_height
    assert layout.width <= 1000 and layout.client_x < layout.server_x


def test_a_state_change_shares_the_row_of_its_segment(qtbot: QtBot) -> None:
    layout = DiagramLayout(demo_timeline())
    syn = next(a for a in layout.arrows if a.index == 0)
    syn_sent = next(b for b in layout.badges if b.state.value == "SYN_SENT")
    assert syn_sent.y == syn.y0


def test_painting_visits_only_the_visible_rows(qtbot: QtBot,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    timeline = bulk_timeline(5000)
    view = SequenceView(timeline)
    qtbot.add_widget(view)
    layout = view.diagram_layout()
    assert layout.height > 100_000
    band = (layout.height / 2, layout.height / 2 + 900)
    visible = layout.arrows_between(*band)
    brute = [a for a in layout.arrows if a.bottom >= band[0] and a.top <= band[1]]
    assert {a.index for a in visible} == {a.index for a in brute}
    assert 0 < len(visible) < 100
    painted: list[int] = []
    original = DiagramPainter._paint_arrow

    def counting(self: DiagramPainter, p: QPainter, arrow: object, done: float) -> None:
        painted.append(1)
        original(self, p, arrow, done)  # type: ignore[arg-type]

    monkeypatch.setattr(DiagramPainter, "_paint_arrow", counting)
    image = QImage(int(layout.width), 900, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    painter.translate(0, -band[0])
    DiagramPainter(layout).paint(painter, QRectF(0, band[0], layout.width, 900))
    painter.end()
    assert len(painted) == len(visible)


def test_render_width_and_export_errors(qtbot: QtBot, tmp_path: object) -> None:
    timeline = demo_timeline()
    assert render_timeline(timeline, width=1000).width() == 1000
    with pytest.raises(ValueError, match="too small"):
        render_timeline(timeline, width=300)
    with pytest.raises(ExportError, match="does not exist"):
        export_png(timeline, "/nonexistent-folder/x.png")


def test_labels_are_tcpdump_words() -> None:
    hello = Segment.with_payload(seq=1001, ack=5001, flags=Flag.PSH | Flag.ACK, window=502,
                                 payload=b"hello")
    assert segment_label(hello, iss=1000, irs=5000) == \
        '[P.] seq 1:6 ack 1 win 502 len 5 "hello"'
    syn = Segment(seq=7, flags=Flag.SYN, window=64240)
    assert segment_label(syn, iss=7, irs=None) == "[S] seq 0 win 64240"
    http = Segment.with_payload(seq=1, payload=b'GET / HTTP/1.1\r\nHost: "a"\r\n\x00')
    assert payload_preview(http) == '"GET / HTTP/1.1\\r\\n…"'
    cut = Segment(seq=1, length=3, payload=b"a\x01")
    assert payload_preview(cut) == '"a.…"'
    assert (time_text(0), time_text(0.0125), time_text(60.21)) == ("0", "12.5", "60\u2009210")


def test_compact_rows_are_evenly_spaced_and_level(qtbot: QtBot) -> None:
    timeline = get("fast_retransmit").run()
    layout = DiagramLayout(timeline, compact=True)
    tails = [layout.arrow(i).y0 for i in range(len(timeline))]
    gaps = {round(b - a, 6) for a, b in zip(tails, tails[1:], strict=False)}
    assert all(g >= layout.row_gap - 1e-6 for g in gaps)
    assert min(gaps) == pytest.approx(layout.row_gap)
    assert all(a.y0 == a.y1 for a in layout.arrows if not a.lost)
    timed = DiagramLayout(timeline)
    assert layout.height < timed.height  # one row per segment instead of two


def test_time_maps_to_rows_and_back(qtbot: QtBot) -> None:
    timeline = demo_timeline()
    layout = DiagramLayout(timeline)
    ys = [layout.y_at(t) for t in (0.0, 0.005, 0.01, 0.02, 0.1, 60.0, 60.3)]
    assert ys == sorted(ys)
    for i in range(len(timeline)):
        arrow = layout.arrow(i)
        rec = timeline.segments[i]
        assert layout.y_at(rec.sent) >= arrow.y0 - 1e-6
        assert layout.time_at(arrow.y0) == pytest.approx(rec.sent)


def test_hit_finds_the_arrow_and_its_label(qtbot: QtBot) -> None:
    layout = DiagramLayout(demo_timeline())
    for arrow in layout.arrows:
        mid = ((arrow.x0 + arrow.x1) / 2, (arrow.y0 + arrow.y1) / 2)
        assert layout.hit(*mid) == arrow.index
    syn = layout.arrow(0)
    assert layout.hit(syn.x0 + 40, syn.y0 - 6) == 0   # on its label
    assert layout.hit(layout.width - 2, layout.height - 2) is None


def test_sack_blocks_are_relative() -> None:
    from core.tcp.segment import Options
    seg = Segment(seq=5001, ack=1001, flags=Flag.ACK, window=500,
                  options=Options(sack_blocks=((2001, 3001),)))
    assert segment_label(seg, iss=5000, irs=1000) == "[.] ack 1 win 500 <sack 1001:2001>"


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("tap", ["client", "mid", "server"])
def test_badges_follow_each_sides_states_in_order(tmp_path: Path, compact: bool,
                                                  tap: str) -> None:
    """Read down a lane, the badges are the side's states in the order it entered them
    (a simultaneous open seen mid-path has changes at one instant on both sides)."""
    from core.capture import read_capture
    from core.capture.taps import TapPoint, write_capture
    from core.replay import replay_stream
    for scenario in ("simultaneous_open", "simultaneous_close", "time_wait_lost_ack"):
        path = tmp_path / f"{scenario}.pcap"
        write_capture(get(scenario).run(), str(path), TapPoint.parse(tap))
        tl = replay_stream(read_capture(str(path)), 0).timeline
        lay = DiagramLayout(tl, compact=compact)
        for side in Side:
            shown = [b.state for b in lay.badges if b.side is side]
            entered = [tl.initial[0] if side is Side.CLIENT else tl.initial[1]] + [
                c.new for c in tl.state_changes(side)]
            assert shown == entered, (scenario, side)
            ys = [b.y for b in lay.badges if b.side is side]
            assert ys == sorted(ys)


@pytest.mark.parametrize("scenario", ["simultaneous_close", "simultaneous_open",
                                      "time_wait_lost_ack", "close_client_first"])
def test_compact_badges_sit_where_their_states_took_effect(qtbot: QtBot, scenario: str) -> None:
    """Compact mode: each side's badges in the order its states were entered, each on
    the row of its time (the send of that side at that instant, or a row of its own),
    none pushed away from its row."""
    tl = get(scenario).run()
    lay = DiagramLayout(tl, compact=True)
    for side in Side:
        mine = [b for b in lay.badges if b.side is side]
        entered = [tl.initial[0] if side is Side.CLIENT else tl.initial[1]] + [
            c.new for c in tl.state_changes(side)]
        assert [b.state for b in mine] == entered
        ys = [b.y for b in mine]
        assert ys == sorted(ys) and len(set(ys)) == len(ys)
    for badge in lay.badges:
        assert badge.y == badge.anchor, badge              # not pushed off its row
        if badge.y == lay.initial_y:
            continue
        row = int(np.argmin(np.abs(lay.row_y - badge.y)))
        assert lay.row_y[row] == pytest.approx(badge.y)
        assert lay.row_t[row] == pytest.approx(badge.time)  # the row of its time
    # a side's own send at the change's instant carries its badge (close() and its FIN)
    fins = [i for i, r in enumerate(tl.segments) if r.segment.flags & Flag.FIN]
    for i in fins:
        rec = tl.segments[i]
        change = next((c for c in tl.state_changes(rec.sender) if c.time == rec.sent), None)
        if change is not None:
            badge = next(b for b in lay.badges if b.side is rec.sender and b.time == rec.sent)
            assert badge.y == pytest.approx(lay.arrow(i).y0)


def test_time_captions_are_never_repeated_with_another_precision(qtbot: QtBot) -> None:
    """"1 518.0" beside "1 518" read as two instants: one precision per value, and the
    axis never repeats a caption (an example capture with microsecond steps)."""
    assert time_text(1.51796) == time_text(1.518) == "1\u2009518"
    assert time_text(0.012995) == "12.99" and time_text(0.0129999) == "13"
    assert time_text(-1e-9) == "0" and time_text(0.1) == "100"
    from core.capture import read_capture
    from core.replay import replay_stream
    from resources import EXAMPLES, example_path
    for example in EXAMPLES:
        tl = replay_stream(read_capture(str(example_path(example))), example.stream).timeline
        for compact in (False, True):
            lay = DiagramLayout(tl, compact=compact)
            texts = [t.text for t in lay.ticks_between(0, lay.height)]
            values = [float(t.replace("\u2009", "")) for t in texts]
            assert all(not t.endswith(".0") and not t.endswith(".") for t in texts)
            assert all(a < b for a, b in zip(values, values[1:], strict=False)), texts


@pytest.mark.parametrize("width", [None, 700.0, 601.5])
def test_the_sticky_header_badges_never_overlap(qtbot: QtBot, width: float | None) -> None:
    """In a narrow window the lanes come close: the current-state badges of the sticky
    header move outside the roles instead of covering each other."""
    timeline = get("flow_control").run()
    layout = DiagramLayout(timeline, show_title=False,
                           width=max(width, DiagramLayout(timeline).min_width) if width
                           else None)
    boxes = DiagramPainter(layout).heading_badges(layout.heading_y)
    client, server = boxes[Side.CLIENT], boxes[Side.SERVER]
    assert client.right() + 4 <= server.left()
    for box in boxes.values():
        assert 0 <= box.left() and box.right() <= layout.width
