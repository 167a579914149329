"""Is there a display to open a window on? Decided without importing Qt.

Qt aborts the process when its platform plugin cannot connect to a display, so the
check must come first. Rules: an explicit ``QT_QPA_PLATFORM`` is trusted; on Linux a
Wayland socket or a reachable X server (``:N`` -> /tmp/.X11-unix/XN, ``host:N`` -> TCP
6000+N) counts; other systems always have one.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping


def display_problem(env: Mapping[str, str] | None = None) -> str | None:
    """None if a window can be shown, else one line saying why not."""
    env = os.environ if env is None else env
    if env.get("QT_QPA_PLATFORM"):
        return None
    if not sys.platform.startswith("linux"):
        return None
    if env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return "no display (DISPLAY is not set)"
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return f"no display (DISPLAY={display!r} is not a display name)"
    if host in ("", "unix"):
        if os.path.exists(f"/tmp/.X11-unix/X{number}"):
            return None
        return f"no display (DISPLAY={display} but no X server socket)"
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=1.0):
            return None
    except OSError:
        return f"no display (cannot reach the X server at DISPLAY={display})"
