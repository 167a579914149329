"""The app icon as a QIcon: every PNG size of ``resources/icons`` (Qt picks the nearest)."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from resources import icon_paths


def app_icon() -> QIcon:
    icon = QIcon()
    for path in icon_paths():
        if path.suffix == ".png":
            icon.addFile(str(path))
    return icon
