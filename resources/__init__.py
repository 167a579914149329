"""SynAck's bundled files: the app icon, the example captures, the desktop entry.

Rules:
1. Files are found with :mod:`importlib.resources`, never with ``__file__`` paths, so
   they are found the same way in a checkout, an editable install and a wheel.
2. A caller that needs a real file gets one from :func:`path_of`; the path stays valid
   until the process exits (a zipped install is extracted once, to a temporary file).
3. This package is data and a catalogue: it imports neither Qt nor core.

Layout: ``icons/synack.svg`` and ``icons/synack-SIZE.png`` (:data:`ICON_SIZES`, made
from the SVG by ``make_icons.py``), ``examples/*.pcap`` (:data:`EXAMPLES`, made by
``make_examples.py``), ``synack.desktop``, ``i18n/`` (translations, none yet).
"""

from __future__ import annotations

import atexit
import contextlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

ICON_SIZES = (16, 32, 48, 64, 128, 256)


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    """One example capture: its file in ``examples/``, a menu title (``&`` marks the
    mnemonic), one line saying what it shows, and the stream to open."""

    file: str
    title: str
    description: str
    stream: int = 0

    @property
    def plain_title(self) -> str:
        return self.title.replace("&", "")


#: the examples, in menu order
EXAMPLES: tuple[Example, ...] = (
    Example(file="handshake_and_close.pcap", title="&Handshake and close",
            description="A real Linux connection: three-way handshake, a few bytes, then "
            "a four-way close with ACK and FIN apart (11 packets)."),
    Example(file="lossy_transfer.pcap", title="&Lossy transfer",
            description="24 kB over a link losing 5% of segments: duplicate ACKs, fast "
            "retransmit and a timeout (simulated, 54 packets)."),
    Example(file="simultaneous_close.pcap", title="&Simultaneous close",
            description="A real Linux capture: both sides send FIN at once, pass through "
            "CLOSING and both end in TIME_WAIT (7 packets)."),
    Example(file="zero_window.pcap", title="&Zero window",
            description="A real Linux capture: a slow reader's window closes, the sender "
            "probes it, and it opens again (565 packets)."),
)

_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def files() -> Traversable:
    """The root of the bundled files."""
    return resources.files(__name__)


def example_files() -> list[str]:
    """The capture files present in ``examples/``, sorted."""
    folder = files() / "examples"
    return sorted(item.name for item in folder.iterdir()
                  if item.is_file() and item.name.endswith((".pcap", ".pcapng")))


def example(file: str) -> Example:
    """The catalogue entry of ``file``; ``KeyError`` for an unknown one."""
    for entry in EXAMPLES:
        if entry.file == file:
            return entry
    raise KeyError(file)


def path_of(relative: str) -> Path:
    """A real file for ``relative`` (``"examples/zero_window.pcap"``), valid until exit.

    ``FileNotFoundError`` if the package does not hold it."""
    item = files().joinpath(*relative.split("/"))
    if not item.is_file():
        raise FileNotFoundError(f"resources/{relative}: not bundled")
    return Path(_extracted.enter_context(resources.as_file(item)))


def example_path(entry: Example) -> Path:
    return path_of(f"examples/{entry.file}")


def icon_paths() -> list[Path]:
    """The icon's PNG files, smallest first, then the SVG."""
    return [path_of(f"icons/synack-{size}.png") for size in ICON_SIZES] + [
        path_of("icons/synack.svg")]
