"""The runner of the real-window group (see conftest): one child pytest per screen size,
under Xvfb and openbox, on the xcb platform."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gui.window_checks import SIZES
from tests.realwindow.conftest import XServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.realwindow
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_real_window(x_servers: dict[tuple[int, int], XServer],
                         size: tuple[int, int]) -> None:
    server = x_servers.setdefault(size, XServer(size))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(DISPLAY=server.display, QT_QPA_PLATFORM="xcb",
               SYNACK_REALWINDOW=f"{size[0]}x{size[1]}")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "realwindow",
                          "-p", "no:cacheprovider", str(Path(__file__).parent)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert " passed" in run.stdout and "deselected" in run.stdout, report
