"""Real input through the X server (the XTest extension, by ctypes): key presses and
pointer moves arrive at the window as a user's would, through the window manager's
focus and Qt's xcb platform."""

from __future__ import annotations

import ctypes
import ctypes.util

_KEYSYMS = {"Right": "Right", "Left": "Left", "Space": "space", "Home": "Home",
            "End": "End", "Ctrl": "Control_L", "Alt": "Alt_L", "Shift": "Shift_L"}


class XInput:
    """A connection to ``DISPLAY`` that fakes keys and pointer events."""

    def __init__(self) -> None:
        x11 = ctypes.util.find_library("X11") or "libX11.so.6"
        xtst = ctypes.util.find_library("Xtst") or "libXtst.so.6"
        self._x = ctypes.CDLL(x11)
        self._t = ctypes.CDLL(xtst)
        self._x.XOpenDisplay.restype = ctypes.c_void_p
        self._x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x.XStringToKeysym.restype = ctypes.c_ulong
        self._x.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self._x.XKeysymToKeycode.restype = ctypes.c_ubyte
        self._x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self._x.XFlush.argtypes = [ctypes.c_void_p]
        self._x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self._x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._t.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                                              ctypes.c_ulong]
        self._t.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                                 ctypes.c_int, ctypes.c_ulong]
        self._t.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                                                 ctypes.c_ulong]
        self._display = self._x.XOpenDisplay(None)
        if not self._display:
            raise RuntimeError("cannot open the X display")

    def _code(self, name: str) -> int:
        keysym = self._x.XStringToKeysym(_KEYSYMS.get(name, name).encode())
        code = int(self._x.XKeysymToKeycode(self._display, keysym))
        if not code:
            raise ValueError(f"no key for {name!r}")
        return code

    def keys(self, combo: str) -> None:
        """Press and release ``combo`` ("Right", "Ctrl+K", "Alt+2", "F", "Space")."""
        names = combo.split("+")
        codes = [self._code(n if len(n) > 1 or not n.isalpha() else n.lower())
                 for n in names]
        for code in codes:
            self._t.XTestFakeKeyEvent(self._display, code, 1, 0)
        for code in reversed(codes):
            self._t.XTestFakeKeyEvent(self._display, code, 0, 0)
        self._x.XSync(self._display, 0)

    def move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y) on the screen."""
        self._t.XTestFakeMotionEvent(self._display, -1, x, y, 0)
        self._x.XSync(self._display, 0)

    def button(self, pressed: bool, button: int = 1) -> None:
        self._t.XTestFakeButtonEvent(self._display, button, 1 if pressed else 0, 0)
        self._x.XSync(self._display, 0)

    def close(self) -> None:
        if self._display:
            self._x.XCloseDisplay(self._display)
            self._display = None
