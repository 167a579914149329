"""The endpoint's send buffer (send() takes what fits) and its read results."""

from __future__ import annotations

import pytest

from core.errors import ParameterError
from core.simulate.pair import Pair
from core.tcp.config import EndpointConfig
from core.tcp.machine import preview
from core.tcp.states import Side
from core.trace import AppCalled

C, S = Side.CLIENT, Side.SERVER


def established(**client: object) -> Pair:
    pair = Pair(EndpointConfig(iss=1000, mss=100, **client),  # type: ignore[arg-type]
                EndpointConfig(iss=5000, auto_read=False))
    pair.app(S, "passive_open")
    pair.app(C, "active_open")
    pair.run()
    return pair


def test_send_takes_what_fits() -> None:
    pair = established(send_buffer=250)
    assert pair.client.send_room == 250
    assert pair.client.send(pair.now, bytes(400)) == 250
    assert pair.client.send_room == 0
    assert pair.client.send(pair.now, b"more") == 0
    snap = pair.client.snapshot()
    assert snap.in_flight + snap.snd_queued == 250  # 100+100+50 sent at once, none queued
    pair.run()  # everything acknowledged: the buffer is free again
    assert pair.client.send_room == 250
    results = [e.result for e in pair.client.take_events() if isinstance(e, AppCalled)]
    assert results == []  # taken by the Pair already
    events = [e.result for e in pair.timeline().events if isinstance(e, AppCalled)
              and e.call == "send"]
    assert events == ["250 of 400 bytes queued (send buffer full)",
                      "0 of 4 bytes queued (send buffer full)"]


def test_quiet_send_records_nothing() -> None:
    pair = established()
    assert pair.client.send(pair.now, b"abc", record=False) == 3
    assert not [e for e in pair.client.take_events() if isinstance(e, AppCalled)]


def test_unlimited_by_default() -> None:
    pair = established()
    assert pair.client.send(pair.now, bytes(1_000_000)) == 1_000_000


def test_read_results() -> None:
    pair = established()
    pair.app(C, "send", b"it's")
    pair.run()
    assert pair.read(S, 1) == b"i"
    assert pair.read(S) == b"t's"
    assert pair.read(S) == b""
    results = [e.result for e in pair.timeline().events
               if isinstance(e, AppCalled) and e.call == "read"]
    assert results == ["1 byte: 'i'", "3 bytes: 't\\'s'", "0 bytes"]
    assert preview(bytes(range(40)))[-4:] == "...'"


@pytest.mark.parametrize(("field", "value"), [
    ("send_buffer", 0), ("backlog", -1), ("read_rate", 0.0), ("read_every", 0.0)])
def test_bad_values(field: str, value: object) -> None:
    with pytest.raises(ParameterError, match=field):
        EndpointConfig(**{field: value})  # type: ignore[arg-type]
