"""The main window on a real X server with a window manager (run by test_under_xvfb.py in
a child process: DISPLAY set, QT_QPA_PLATFORM=xcb, SYNACK_REALWINDOW=WxH, the screen's
size): keyboard shortcuts by real key presses, a real drag and drop of a capture, and
the layout at the screen's size."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDrag, QGuiApplication, QMouseEvent
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from gui.app.main_window import MainWindow
from resources import EXAMPLES, example_path
from tests.gui.window_checks import layout_problems
from tests.realwindow.xinput import XInput

pytestmark = pytest.mark.realwindow

SCREEN = tuple(int(n) for n in os.environ.get("SYNACK_REALWINDOW", "0x0").split("x"))


@pytest.fixture(autouse=True)
def _real_platform() -> None:
    if QGuiApplication.platformName() != "xcb":
        pytest.fail(f"the real-window cases need the xcb platform, not "
                    f"{QGuiApplication.platformName()!r}")


@pytest.fixture
def xinput() -> Iterator[XInput]:
    try:
        device = XInput()
    except (OSError, RuntimeError) as exc:
        pytest.skip(f"no XTest to fake input with ({exc}); Debian package libxtst6")
    yield device
    device.close()


def _window(qtbot: QtBot, tmp_path: Path, name: str = "settings.ini") -> MainWindow:
    settings = QSettings(str(tmp_path / name), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    qtbot.add_widget(window)
    window.show()
    qtbot.wait_exposed(window)
    window.activateWindow()
    window.raise_()
    qtbot.wait_until(lambda: window.isActiveWindow(), timeout=5000)
    return window


def _open_example(qtbot: QtBot, window: MainWindow, number: int = 0) -> None:
    with qtbot.wait_signal(window.timeline_shown, timeout=30_000):
        window.open_example(EXAMPLES[number])
    qtbot.wait(400)


def test_the_window_fits_the_screen(qtbot: QtBot, tmp_path: Path) -> None:
    """A first start on this screen: the window and its frame fit, a window manager
    framed it, and nothing inside is cut off, as shown and maximized."""
    window = _window(qtbot, tmp_path)
    screen = window.screen().availableGeometry()
    assert (screen.width(), screen.height()) <= SCREEN
    qtbot.wait_until(lambda: window.frameGeometry() != window.geometry(), timeout=5000)
    frame = window.frameGeometry()
    assert frame.width() <= screen.width() and frame.height() <= screen.height()
    assert window.minimumSizeHint().width() <= screen.width()
    _open_example(qtbot, window)
    window.showMaximized()
    qtbot.wait_until(lambda: window.width() >= screen.width() - 16, timeout=5000)
    qtbot.wait(400)
    assert window.panel is not None
    window.panel.controller.step_forward()
    window.panel.controller.step_forward()
    qtbot.wait(100)
    assert layout_problems(window, (screen.width(), screen.height())) == []


def test_shortcuts_by_real_key_presses(qtbot: QtBot, tmp_path: Path, xinput: XInput) -> None:
    window = _window(qtbot, tmp_path)
    _open_example(qtbot, window)
    assert window.panel is not None and window.view is not None
    controller = window.panel.controller

    def press(keys: str) -> None:
        window.activateWindow()
        qtbot.wait_until(lambda: window.isActiveWindow(), timeout=5000)
        xinput.keys(keys)
        qtbot.wait(150)

    press("Right")
    assert controller.time > controller.start_time
    at = controller.time
    press("Right")
    assert controller.time > at
    press("Left")
    assert controller.time == at
    press("End")
    assert controller.time == controller.end_time
    press("Home")
    assert controller.time == controller.start_time
    with qtbot.wait_signal(controller.started, timeout=3000):
        press("Space")
    with qtbot.wait_signal(controller.paused, timeout=3000):
        press("Space")
    press("Ctrl+K")
    assert window.view.compact and window.compact_action.isChecked()
    press("Ctrl+K")
    assert not window.view.compact
    press("Alt+2")                                  # View > Segment details panel
    assert window.details_dock.isHidden()
    press("Alt+2")
    assert window.details_dock.isVisible()
    window.view.set_zoom(2.5)
    press("Ctrl+9")                                 # Fit width: back to actual size
    assert window.view.zoom == 1.0
    speed = controller.speed
    press("bracketright")                           # ] faster
    assert controller.speed > speed


def test_drop_a_capture_on_the_window(qtbot: QtBot, tmp_path: Path, xinput: XInput) -> None:
    """A file dragged from another window and dropped on SynAck opens, through the X
    server's drag and drop (the xcb platform's XDND), moved by real pointer events."""
    window = _window(qtbot, tmp_path)
    path = str(example_path(EXAMPLES[2]))
    source = QLabel("drag me")
    qtbot.add_widget(source)
    source.setWindowFlag(Qt.WindowType.FramelessWindowHint)
    source.resize(160, 60)
    source.move(window.geometry().left() + 20, window.geometry().bottom() - 120)
    source.show()
    qtbot.wait_exposed(source)
    source.raise_()
    target = window.mapToGlobal(window.rect().center())
    start = source.mapToGlobal(source.rect().center())

    def drag(event: QMouseEvent) -> None:
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(path)])
        drag_ = QDrag(source)
        drag_.setMimeData(data)
        steps = [QPoint(start.x() + (target.x() - start.x()) * k // 10,
                        start.y() + (target.y() - start.y()) * k // 10) for k in range(1, 11)]
        for k, point in enumerate(steps):          # moves while the drag's loop runs
            QTimer.singleShot(100 + 60 * k, lambda p=point: xinput.move(p.x(), p.y()))
        QTimer.singleShot(100 + 60 * len(steps) + 300, lambda: xinput.button(False))
        drag_.exec(Qt.DropAction.CopyAction)

    source.mousePressEvent = drag  # type: ignore[method-assign]
    xinput.move(start.x(), start.y())
    qtbot.wait(200)
    with qtbot.wait_signal(window.timeline_shown, timeout=30_000):
        xinput.button(True)
    assert Path(path).name in window.windowTitle()


def test_the_layout_comes_back_after_a_restart(qtbot: QtBot, tmp_path: Path) -> None:
    window = _window(qtbot, tmp_path)
    screen = window.screen().availableGeometry()
    size = (min(1100, screen.width() - 40), min(720, screen.height() - 60))
    window.resize(*size)
    qtbot.wait_until(lambda: (window.width(), window.height()) == size, timeout=5000)
    window.sources_dock.toggleViewAction().trigger()
    window.close()
    again = _window(qtbot, tmp_path)
    qtbot.wait_until(lambda: (again.width(), again.height()) == size, timeout=5000)
    assert again.sources_dock.isHidden() and again.details_dock.isVisible()
