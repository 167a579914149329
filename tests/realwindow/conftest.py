"""The real-window group (marker ``realwindow``): the main window on a real X server.

The Qt platform is fixed per process, and the rest of the suite runs offscreen, so the
group runs in two steps:

- In the ordinary run, ``test_under_xvfb.py`` (the *runner*) starts, for each screen
  size, an Xvfb server on a free display (``-displayfd``) with the openbox window
  manager, from the session fixture ``x_servers``, and runs ``pytest -m realwindow`` on
  this folder in a child process with ``DISPLAY`` set, ``QT_QPA_PLATFORM=xcb`` and
  ``SYNACK_REALWINDOW=WxH``. It skips, saying why, without Xvfb or openbox
  (``make test`` installs both: the Makefile's DEBS).
- In the child, ``test_real_window.py`` (the *cases*) runs: real key presses and a real
  drag and drop through the X server (XTest), and the layout at the screen's size.

Each step deselects the other's tests, so neither shows up as skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHILD = os.environ.get("SYNACK_REALWINDOW", "")
CASES = "test_real_window.py"

if CHILD:
    from tests.qt_settings import isolate_settings
    isolate_settings()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    mine = [i for i in items if Path(str(i.path)).parent == here]
    wrong = [i for i in mine if (Path(str(i.path)).name == CASES) != bool(CHILD)]
    if wrong:
        config.hook.pytest_deselected(items=wrong)
        items[:] = [i for i in items if i not in wrong]


class XServer:
    """One Xvfb with openbox on a free display."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        read, write = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size[0]}x{size[1]}x24",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()   # written once the server accepts clients
        if not number:
            self.xvfb.kill()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"
        self.wm = subprocess.Popen(["openbox", "--sm-disable"],
                                   env={**os.environ, "DISPLAY": self.display},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        for process in (self.wm, self.xvfb):
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def x_servers() -> Iterator[dict[tuple[int, int], XServer]]:
    """Started X servers by screen size (the runner starts one per size); all stopped
    at the end of the session."""
    missing = [tool for tool in ("Xvfb", "openbox") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the real-window tests need {' and '.join(missing)} "
                    "(Debian packages xvfb and openbox; make test installs them)")
    servers: dict[tuple[int, int], XServer] = {}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()
