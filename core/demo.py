"""The bundled demo: handshake, "hello" / "OK", four-way close, TIME_WAIT.

It is the ``close_client_first`` scenario (Linux preset, 10 ms each way), so a first
launch shows the whole life of a connection: the client ends in TIME_WAIT for 60 s.
"""

from __future__ import annotations

from core.simulate.scenarios import get
from core.trace import Timeline

DEMO_TITLE = "Demo: handshake, hello / OK, four-way close"


def demo_timeline() -> Timeline:
    return get("close_client_first").run(title=DEMO_TITLE)
