"""Is there a display to open a window on? Decided without importing Qt.

Qt aborts the process when its platform plugin cannot connect to a display, so the
check must come first. Rules:
- An explicit ``QT_QPA_PLATFORM`` is trusted (offscreen, xcb, wayland, ...).
- Systems other than Linux always have one.
- On Linux, a Wayland socket (``$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY``) counts, or an X
  server that accepts a connection: ``:N`` -> the socket /tmp/.X11-unix/XN (or its
  abstract twin), ``host:N`` -> TCP port 6000+N, each tried with a 1 s timeout. A
  connection, not the socket file's existence, is the test: a crashed X server leaves
  its socket file behind.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping

TIMEOUT = 1.0
X11_SOCKET_DIR = "/tmp/.X11-unix"


def _unix_reachable(path: str) -> bool:
    for address in (path, "\0" + path):  # the file, then Linux's abstract namespace
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(TIMEOUT)
                sock.connect(address)
                return True
        except OSError:
            continue
    return False


def _wayland_reachable(env: Mapping[str, str]) -> bool:
    name = env.get("WAYLAND_DISPLAY", "")
    if not name:
        return False
    path = name if os.path.isabs(name) else os.path.join(env.get("XDG_RUNTIME_DIR", ""), name)
    return os.path.isabs(path) and _unix_reachable(path)


def _x_problem(display: str) -> str | None:
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return f"no display (DISPLAY={display!r} is not a display name)"
    if host in ("", "unix"):
        path = os.path.join(X11_SOCKET_DIR, f"X{number}")
        if _unix_reachable(path):
            return None
        if os.path.exists(path):
            return f"no display (DISPLAY={display} but no X server answers on {path})"
        return f"no display (DISPLAY={display} but no X server socket)"
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=TIMEOUT):
            return None
    except OSError:
        return f"no display (cannot reach the X server at DISPLAY={display})"


def display_problem(env: Mapping[str, str] | None = None) -> str | None:
    """None if a window can be shown, else one line saying why not."""
    env = os.environ if env is None else env
    if env.get("QT_QPA_PLATFORM"):
        return None
    if not sys.platform.startswith("linux"):
        return None
    if _wayland_reachable(env):
        return None
    display = env.get("DISPLAY", "")
    if display:
        return _x_problem(display)
    if env.get("WAYLAND_DISPLAY"):
        return (f"no display (WAYLAND_DISPLAY={env['WAYLAND_DISPLAY']} has no socket "
                "and DISPLAY is not set)")
    return "no display (DISPLAY is not set)"
