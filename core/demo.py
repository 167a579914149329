"""The bundled demo: handshake, "hello" / "OK", four-way close, TIME_WAIT.

Two real endpoints (Linux-like parameters, 10 ms one-way delay) run the classic
exchange; the Timeline ends when the client's TIME_WAIT has run out.
"""

from __future__ import annotations

from core.machine import EndpointConfig
from core.pair import Pair
from core.states import Side
from core.trace import Timeline

DEMO_TITLE = "Demo: handshake, hello / OK, four-way close"


def demo_timeline() -> Timeline:
    client = Side.CLIENT
    server = Side.SERVER
    pair = Pair(EndpointConfig.linux(iss=1_809_145_613),
                EndpointConfig.linux(iss=3_427_871_990), delay=0.010, title=DEMO_TITLE,
                client_address="10.0.0.1", client_port=34694,
                server_address="10.0.0.2", server_port=5000)
    pair.app(server, "passive_open")
    pair.app(client, "active_open")
    pair.run(until=0.050)
    pair.app(client, "send", b"hello")
    pair.run(until=0.100)
    pair.app(server, "send", b"OK")
    pair.run(until=0.150)
    pair.app(client, "close")
    pair.run(until=0.200)
    pair.app(server, "close")
    pair.run()
    return pair.timeline()
