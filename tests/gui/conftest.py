"""GUI tests run headless: the offscreen platform is chosen before Qt is imported.

Settings are isolated: a window made without its own ``QSettings`` (and anything else
reading the default ones) reads and writes INI files under a temporary folder, never
the user's ``~/.config/SynAck``."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_SETTINGS_DIR = tempfile.mkdtemp(prefix="synack-test-settings-")
os.environ["XDG_CONFIG_HOME"] = _SETTINGS_DIR
atexit.register(shutil.rmtree, _SETTINGS_DIR, ignore_errors=True)

from PySide6.QtCore import QSettings  # noqa: E402 (after the platform is chosen)

for _format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
    QSettings.setPath(_format, QSettings.Scope.UserScope, _SETTINGS_DIR)
    QSettings.setPath(_format, QSettings.Scope.SystemScope, _SETTINGS_DIR)
