"""WindowBars: the numbers shown at given cursor positions, the zero-window flag, replays."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from core.capture import read_capture
from core.cursor import window_facts_at
from core.demo import demo_timeline
from core.replay import replay_stream
from core.simulate import scenarios
from core.tcp.states import Side
from core.trace import Timeline, WindowChanged
from gui.diagram import style
from gui.inspector.window_bars import WindowBars

C, S = Side.CLIENT, Side.SERVER


def make(qtbot: QtBot, timeline: Timeline) -> WindowBars:
    bars = WindowBars(timeline)
    qtbot.add_widget(bars)
    bars.resize(900, 160)
    return bars


def count(image: QImage, color: QColor) -> int:
    rgb = color.rgb()
    return sum(1 for y in range(image.height()) for x in range(image.width())
               if image.pixel(x, y) == rgb)


def test_values_follow_the_recorded_snapshots(qtbot: QtBot) -> None:
    tl = scenarios.get("flow_control").run()
    bars = make(qtbot, tl)
    assert any(isinstance(ev, WindowChanged) for ev in tl.events)
    for t in sorted({ev.time for ev in tl.events}):
        bars.set_time(t)
        for side in Side:
            facts = window_facts_at(tl, side, t)
            shown = bars.values(side)
            if facts is None or not facts.connected:
                assert shown["shown"] is False
                continue
            snap = facts.snapshot
            assert shown["una"] == (snap.snd_una - snap.iss) % 2**32
            assert shown["nxt"] == (snap.snd_nxt - snap.iss) % 2**32
            assert shown["in_flight"] == snap.in_flight
            assert shown["rcv_free"] == snap.rcv_wnd
            assert shown["rcv_buffered"] == snap.rcv_buffered
            assert shown["snd_queued"] == snap.snd_queued
            if facts.peer_window_known:
                assert shown["snd_wnd"] == snap.snd_wnd
                assert shown["usable"] == snap.usable
            assert shown["zero_window"] is facts.advertises_zero


def test_flow_control_at_given_times(qtbot: QtBot) -> None:
    bars = make(qtbot, scenarios.get("flow_control").run())
    bars.set_time(0.045)                         # 1000 in flight, window full, 1000 queued
    client = bars.values(C)
    assert (client["una"], client["nxt"], client["edge"]) == (1001, 2001, 2001)
    assert (client["in_flight"], client["usable"], client["snd_queued"]) == (1000, 0, 1000)
    assert client["send_blocked"] is False
    bars.set_time(0.07)                          # the server's buffer is full
    client, server = bars.values(C), bars.values(S)
    assert client["send_blocked"] is True and client["edge"] == 2001
    assert client["send_flag"] == "ZERO WINDOW: blocked"
    assert (server["rcv_buffered"], server["rcv_free"]) == (1000, 0)
    assert server["zero_window"] is True and server["recv_flag"] == "ZERO WINDOW"
    assert server["recv_label"] == "buffered 1000 · free 0"
    bars.set_time(1.7)                           # read, window open again
    client, server = bars.values(C), bars.values(S)
    assert client["send_blocked"] is False and client["usable"] == 1000
    assert server["zero_window"] is False and server["recv_flag"] == ""
    assert client["send_flag"] == ""
    assert (server["rcv_buffered"], server["rcv_free"]) == (0, 1000)


def test_zero_window_is_drawn_in_the_alarm_colour(qtbot: QtBot) -> None:
    bars = make(qtbot, scenarios.get("flow_control").run())
    bars.show()
    bars.set_time(1.7)
    calm = count(bars.grab().toImage(), style.ZERO_WINDOW)
    bars.set_time(0.07)
    alarm = count(bars.grab().toImage(), style.ZERO_WINDOW)
    assert calm == 0 and alarm > 500               # two red outlines and their labels


def test_demo_before_the_connection_and_stepping_rows(qtbot: QtBot) -> None:
    tl = demo_timeline()
    bars = make(qtbot, tl)
    bars.set_time(0.0)
    assert bars.values(S) == {"shown": False, "state": "LISTEN"}
    client = bars.values(C)
    assert client["state"] == "SYN_SENT" and client["in_flight"] == 1
    assert client["edge"] is None and client["edge_label"] == "peer's window not known yet"
    bars.set_time(0.02)
    assert (bars.values(C)["una"], bars.values(C)["nxt"], bars.values(C)["edge"]) == (
        1, 6, 65536)
    bars.show_row(3)                             # "hello" arrived at the server
    server = bars.values(S)
    assert server["since"] == 0.03 and server["rcv_buffered"] == 5
    assert server["rcv_free"] == 130961
    bars.set_time(61.0)                          # after TIME_WAIT
    assert bars.values(C)["state"] == "CLOSED" and bars.values(C)["shown"] is False


@pytest.mark.corpus
def test_replay_says_the_buffer_is_unknown(qtbot: QtBot, corpus: Path) -> None:
    tl = replay_stream(read_capture(corpus / "kernel/zero_window.pcap"), 0).timeline
    bars = make(qtbot, tl)
    bars.set_time(0.05)
    client, server = bars.values(C), bars.values(S)
    assert client["send_blocked"] is True and client["snd_queued"] is None
    assert server["zero_window"] is True and server["rcv_buffered"] is None
    assert server["buffers_known"] is False
    assert server["recv_label"] == "free 0 (advertised window)"
    assert server["recv_caption"] == "buffer not known from a capture"
    bars.set_time(7.6)
    client = bars.values(C)
    assert (client["una"], client["nxt"], client["edge"]) == (199101, 199825, 199825)
    assert client["in_flight"] == 724 and client["usable"] == 0
