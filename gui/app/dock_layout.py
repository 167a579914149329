"""Where the main window's docks go: the diagram gets the space.

Rules:
1. The side docks own the bottom corners, so they run the window's full height and the
   playback dock sits under the diagram only, as tall as its content (the panel's size
   hint), never more.
2. From ``NARROW_BELOW`` px wide: sources on the left, details on the right, each a share
   of the width. Narrower (1024 px screens): details under the sources in one left
   column, so the diagram keeps room for both lanes; the column's height goes mostly to
   the sources while their Simulation tab is up (the scenario list and form), mostly to
   the details otherwise.
3. The layout (geometry, docks) is saved in ``QSettings`` on close (``window/geometry``,
   ``window/state`` with ``LAYOUT_VERSION``, ``window/auto_layout``) and restored on
   start; without a saved layout, the window takes the screen's free area up to
   ``DEFAULT_SIZE`` and the default arrangement for that width.
4. *Automatic* until the user moves, floats or closes a dock: the arrangement then
   follows the window's width across ``NARROW_BELOW``. View > Reset layout makes it
   automatic again.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow

DEFAULT_SIZE = QSize(1500, 950)
NARROW_BELOW = 1280           # narrower windows stack sources over details, on the left
LAYOUT_VERSION = 1            # saveState/restoreState version; bump when docks change
COLUMN_SHARE = (0.7, 0.42)    # the sources' share of a stacked column: Simulation, other

Docks = tuple[QDockWidget, QDockWidget, QDockWidget]


class DockLayout:
    """Arranges ``docks`` (sources, details, playback) in ``window`` (module rules).

    ``sources_first()`` says whether the sources want most of a stacked column now."""

    def __init__(self, window: QMainWindow, settings: QSettings, docks: Docks, *,
                 sources_first: Callable[[], bool]) -> None:
        self.window = window
        self.settings = settings
        self.sources, self.details, self.bottom = docks
        self._sources_first = sources_first
        self.auto = True
        self.narrow = False
        self._arranging = False
        window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        window.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                              | QMainWindow.DockOption.AllowNestedDocks
                              | QMainWindow.DockOption.AllowTabbedDocks)
        for dock in docks:
            dock.dockLocationChanged.connect(self._on_moved)
            dock.topLevelChanged.connect(self._on_moved)

    @property
    def docks(self) -> Docks:
        return (self.sources, self.details, self.bottom)

    # ------------------------------------------------------------ arranging
    def arrange(self, width: int | None = None) -> None:
        """The default arrangement for a window ``width`` px wide (rules 1, 2)."""
        w = self.window
        width = w.width() if width is None else width
        self._arranging = True
        try:
            for dock in self.docks:
                dock.setFloating(False)
            w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.sources)
            self.narrow = width < NARROW_BELOW
            if self.narrow:
                w.splitDockWidget(self.sources, self.details, Qt.Orientation.Vertical)
            else:
                w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.details)
            w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.bottom)
            for dock in self.docks:
                dock.show()
        finally:
            self._arranging = False
        self.size_docks(width)
        QTimer.singleShot(0, self.size_docks)     # once the new widgets are laid out

    def size_docks(self, width: int | None = None) -> None:
        """Side columns in proportion to the width, the playback dock as tall as its
        content, a stacked column shared by rule 2."""
        w = self.window
        width = w.width() if width is None else width
        horizontal = Qt.Orientation.Horizontal
        if self.narrow:
            w.resizeDocks([self.sources], [_clamp(0.30 * width, 280, 360)], horizontal)
            self.split_column()
        else:
            w.resizeDocks([self.sources, self.details],
                          [_clamp(0.21 * width, 280, 380), _clamp(0.23 * width, 300, 440)],
                          horizontal)
        self.fit_bottom()

    def fit_bottom(self) -> None:
        """The playback dock as tall as its content (rule 1)."""
        panel = self.bottom.widget()
        if panel is not None and panel.sizeHint().height() > 0:
            self.window.resizeDocks([self.bottom], [panel.sizeHint().height()],
                                    Qt.Orientation.Vertical)

    def split_column(self) -> None:
        """A stacked column's height, shared by rule 2."""
        tall = max(self.window.height() - 60, 300)
        share = COLUMN_SHARE[0] if self._sources_first() else COLUMN_SHARE[1]
        self.window.resizeDocks([self.sources, self.details],
                                [round(tall * share), round(tall * (1 - share))],
                                Qt.Orientation.Vertical)

    def source_tab_changed(self) -> None:
        if self.narrow and self.auto:
            self.split_column()

    def resized(self, width: int) -> None:
        """The window is ``width`` px wide now (rule 4)."""
        if self.auto and (width < NARROW_BELOW) != self.narrow:
            self.arrange(width)

    def reset(self) -> None:
        self.auto = True
        self.arrange()

    def _on_moved(self, *_: object) -> None:
        if not self._arranging:
            self.auto = False

    # ------------------------------------------------------- saved layout
    def restore(self) -> None:
        """The saved layout, or the default for the screen (rule 3)."""
        w = self.window
        geometry = self.settings.value("window/geometry")
        if not (isinstance(geometry, QByteArray) and w.restoreGeometry(geometry)):
            w.resize(self.default_size())
        state = self.settings.value("window/state")
        restored = False
        if isinstance(state, QByteArray):
            self._arranging = True
            try:
                restored = w.restoreState(state, LAYOUT_VERSION)
            finally:
                self._arranging = False
        if restored:
            self.narrow = w.dockWidgetArea(self.details) == w.dockWidgetArea(self.sources)
            self.auto = _truthy(self.settings.value("window/auto_layout", True))
        else:
            self.arrange(w.width())

    def default_size(self) -> QSize:
        """DEFAULT_SIZE, or the screen's free area less room for the frame if smaller."""
        screen = self.window.screen()
        if screen is None:
            return DEFAULT_SIZE
        free = screen.availableGeometry()
        return QSize(min(DEFAULT_SIZE.width(), free.width() - 8),
                     min(DEFAULT_SIZE.height(), free.height() - 40))

    def save(self) -> None:
        w = self.window
        self.settings.setValue("window/geometry", w.saveGeometry())
        self.settings.setValue("window/state", w.saveState(LAYOUT_VERSION))
        self.settings.setValue("window/auto_layout", self.auto)
        self.settings.sync()


def _clamp(value: float, low: int, high: int) -> int:
    return round(min(max(value, low), high))


def _truthy(value: object) -> bool:
    """A QSettings boolean (INI files give it back as text)."""
    return value not in (False, "false", "0", 0, None)
