"""What "nothing clipped or cut off" means for the main window, checked the same way
offscreen (tests/gui/test_window_layout.py) and in a real X window under Xvfb
(tests/realwindow/)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect
from PySide6.QtWidgets import QWidget

from gui.app.main_window import MainWindow
from gui.diagram.diagram_layout import BADGE_GAP
from gui.inspector.window_bars import plot_height

#: the window sizes a first-time user meets, smallest first
SIZES = ((1024, 700), (1024, 768), (1600, 1000), (2560, 1440))


def _rect_in(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def layout_problems(window: MainWindow, size: tuple[int, int]) -> list[str]:
    """Everything cut off or squeezed in ``window`` shown at ``size`` ([] when fine)."""
    problems: list[str] = []
    width, height = size
    if window.width() > width or window.height() > height:
        problems.append(f"window {window.width()}x{window.height()} is larger than "
                        f"{width}x{height} (minimum {window.minimumSizeHint().width()}x"
                        f"{window.minimumSizeHint().height()})")
    view, panel = window.view, window.panel
    if view is None or panel is None:
        return problems + ["no diagram on screen"]
    inside = window.rect()
    # both lanes and their badges inside the view, without scrolling sideways
    lay = view.diagram_layout()
    left = view.to_viewport(QPointF(lay.client_x - BADGE_GAP - lay.badge_width, 0))
    right = view.to_viewport(QPointF(lay.server_x + BADGE_GAP + lay.badge_width, 0))
    vp = view.viewport()
    if left.x() < 0 or right.x() > vp.width():
        problems.append(f"lanes span {left.x():.0f}..{right.x():.0f} px, the view shows "
                        f"0..{vp.width()} (layout {lay.width:.0f} px, zoom {view.zoom:g})")
    if not inside.contains(_rect_in(view, window)):
        problems.append("the diagram is not inside the window")
    rows = vp.height() / (lay.row_gap * view.zoom)
    if vp.height() < 0.45 * height or rows < 12:
        problems.append(f"the diagram is {vp.height()} px tall ({rows:.0f} rows) in a "
                        f"{height} px window")
    # the details tree shows rows (a segment is selected: the cursor has moved)
    tree = window.details.tree()
    if window.details.details is None:
        problems.append("no segment details on show")
    elif not tree.isVisible() or not inside.contains(_rect_in(tree, window)):
        problems.append("the details tree is hidden or cut off")
    else:
        shown = 0
        for i in range(tree.topLevelItemCount()):
            rect = tree.visualItemRect(tree.topLevelItem(i))
            if rect.isValid() and tree.viewport().rect().contains(rect):
                shown += 1
        row = tree.visualItemRect(tree.topLevelItem(0)).height() or 1
        if shown < 1 or tree.viewport().height() < 4 * row:
            problems.append(f"the details tree shows {tree.viewport().height() // row} rows")
    # the window bars: visible, whole, as tall as their content
    bars = panel.bars
    if not bars.isVisible() or not inside.contains(_rect_in(bars, window)):
        problems.append("the window bars are hidden or cut off")
    elif bars.plot_widget.height() < plot_height():
        problems.append(f"the window bars are {bars.plot_widget.height()} px tall, "
                        f"{plot_height()} needed")
    elif bars.height() > 2.2 * plot_height():
        problems.append(f"the window bars take {bars.height()} px (mostly white)")
    for dock in window.docks():
        if not dock.toggleViewAction().isEnabled():
            problems.append(f"View > {dock.windowTitle()} is greyed out")
    return problems
