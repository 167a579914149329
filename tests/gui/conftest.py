"""GUI tests run headless: the offscreen platform is chosen before Qt is imported.

Settings are isolated (:mod:`tests.qt_settings`): a window made without its own
``QSettings`` reads and writes under a temporary folder, never the user's."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.qt_settings import isolate_settings  # noqa: E402 (after the platform is chosen)

isolate_settings()
