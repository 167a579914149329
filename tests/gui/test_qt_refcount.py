"""PySide6 6.12.0 on Python 3.11 lowers None's refcount on every void Qt call and
aborts the process after a few thousand. An upgrade that brings it back must fail here."""

from __future__ import annotations

import sys

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QGraphicsRectItem, QWidget
from pytestqt.qtbot import QtBot

CALLS = 50_000


def test_void_qt_calls_keep_none_alive(qtbot: QtBot) -> None:
    widget = QWidget()
    qtbot.add_widget(widget)
    item = QGraphicsRectItem(0, 0, 10, 10)
    before = sys.getrefcount(None)
    for i in range(CALLS // 2):
        widget.resize(100 + i % 7, 80)  # returns nothing
        item.setPos(QPointF(i % 13, 0))  # returns nothing
    after = sys.getrefcount(None)
    assert after >= before, f"None lost {before - after} references in {CALLS} void Qt calls"
