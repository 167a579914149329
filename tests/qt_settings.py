"""Keep tests away from the user's settings: every ``QSettings`` a test makes without a
file of its own (the app's ``QSettings("SynAck", "SynAck")``) lives under a temporary
folder removed at exit. Call :func:`isolate_settings` before any window is made."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

PREFIX = "synack-test-settings-"


def isolate_settings() -> str:
    """Point QSettings (and XDG_CONFIG_HOME) at a fresh temporary folder; returns it."""
    folder = tempfile.mkdtemp(prefix=PREFIX)
    os.environ["XDG_CONFIG_HOME"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    from PySide6.QtCore import QSettings
    for kind in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(kind, QSettings.Scope.UserScope, folder)
        QSettings.setPath(kind, QSettings.Scope.SystemScope, folder)
    return folder
