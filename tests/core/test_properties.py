"""Property tests: random interleavings of application calls and segment deliveries.

The link may deliver segments in any order, lose them or duplicate them; timers fire
whenever the test chooses. Two properties must hold:
1. No interleaving makes an endpoint hit an illegal transition (every situation the
   classifier can produce has a row in the table).
2. Once both applications have closed and every timer has run out, both ends are CLOSED.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.simulate.pair import Pair
from core.tcp.machine import EndpointConfig
from core.tcp.segment import SEQ_MOD
from core.tcp.states import Side, TcpState, Trigger

CALLS = {Trigger.PASSIVE_OPEN: "passive_open", Trigger.ACTIVE_OPEN: "active_open",
         Trigger.SEND: "send", Trigger.CLOSE: "close", Trigger.ABORT: "abort"}
OPS = ["call", "call", "deliver", "deliver", "deliver", "drop", "duplicate", "timer"]


def random_pair(data: st.DataObject, *, auto_read: bool = True,
                user_timeout: float = 300.0, keepalive: bool = True) -> Pair:
    def config() -> EndpointConfig:
        return EndpointConfig(iss=data.draw(st.integers(0, SEQ_MOD - 1), label="iss"),
                              mss=data.draw(st.sampled_from([100, 536, 1460]), label="mss"),
                              recv_buffer=data.draw(st.sampled_from([300, 4096, 65535])),
                              wscale=data.draw(st.sampled_from([None, 0, 2, 7])),
                              auto_read=auto_read, user_timeout=user_timeout,
                              delayed_ack=data.draw(st.sampled_from([None, 0.040])),
                              nagle=data.draw(st.booleans()),
                              keepalive_idle=data.draw(st.sampled_from([None, 30.0]))
                              if keepalive else None,
                              keepalive_interval=5.0, keepalive_probes=2)
    return Pair(config(), config(), delay=0.010)


def random_phase(pair: Pair, data: st.DataObject, steps: int) -> None:
    opens = {Side.CLIENT: 0, Side.SERVER: 0}
    for _ in range(steps):
        op = data.draw(st.sampled_from(OPS), label="op")
        if op == "call":
            side = data.draw(st.sampled_from([Side.CLIENT, Side.SERVER]), label="side")
            calls = [t for t in pair.endpoints[side].allowed_calls()
                     if t not in (Trigger.PASSIVE_OPEN, Trigger.ACTIVE_OPEN) or opens[side] < 2]
            if not calls:
                continue
            trigger = data.draw(st.sampled_from(calls), label="call")
            opens[side] += trigger in (Trigger.PASSIVE_OPEN, Trigger.ACTIVE_OPEN)
            args: tuple[object, ...] = ()
            if trigger is Trigger.SEND:
                args = (bytes(data.draw(st.integers(1, 3000), label="bytes")),)
            pair.app(side, CALLS[trigger], *args)
        elif op == "timer":
            pair.fire_timers()
        elif pair.flights:
            n = data.draw(st.integers(0, len(pair.flights) - 1), label="which")
            {"deliver": pair.deliver, "drop": pair.drop, "duplicate": pair.duplicate}[op](None, n)


def wind_down(pair: Pair) -> None:
    """Both applications close; the link becomes reliable; timers run out."""
    for _ in range(20_000):
        for side, endpoint in pair.endpoints.items():
            if Trigger.CLOSE in endpoint.allowed_calls():
                pair.app(side, "close")
        if pair.flights:
            pair.deliver()
        elif not pair.fire_timers():
            return
    raise AssertionError(f"still busy: {pair.states}, {len(pair.flights)} in flight")


@given(st.data())
def test_random_interleavings_end_closed(data: st.DataObject) -> None:
    pair = random_pair(data)
    random_phase(pair, data, data.draw(st.integers(0, 80), label="steps"))
    wind_down(pair)
    assert pair.states == (TcpState.CLOSED, TcpState.CLOSED)
    assert all(e.next_deadline() is None for e in pair.endpoints.values())
    timeline = pair.timeline()
    assert len(timeline.rows) == len(timeline.segments)


@given(st.data())
def test_data_arrives_intact_despite_loss(data: st.DataObject) -> None:
    """Loss, duplication and reordering for a while, then a reliable link: the data
    arrives intact and in order, and both sides can close cleanly."""
    # neither the user timeout nor keep-alive may end the connection in the lossy phase
    pair = random_pair(data, auto_read=False, user_timeout=1e6, keepalive=False)
    pair.app(Side.SERVER, "passive_open")
    pair.app(Side.CLIENT, "active_open")
    payload = bytes(range(256)) * data.draw(st.integers(1, 8), label="kB/4")
    pair.app(Side.CLIENT, "send", payload)
    for _ in range(data.draw(st.integers(0, 40), label="steps")):
        op = data.draw(st.sampled_from(["deliver", "drop", "duplicate", "timer"]), label="op")
        if op == "timer" or not pair.flights:
            pair.fire_timers()
        else:
            n = data.draw(st.integers(0, len(pair.flights) - 1), label="which")
            {"deliver": pair.deliver, "drop": pair.drop, "duplicate": pair.duplicate}[op](None, n)
    received = bytearray()
    for _ in range(20_000):
        received += pair.read(Side.SERVER)
        if len(received) >= len(payload) or pair.server.state is TcpState.CLOSED:
            break
        if pair.flights:
            pair.deliver()
        elif not pair.fire_timers():
            break
    assert bytes(received) == payload
    wind_down(pair)
    assert pair.states == (TcpState.CLOSED, TcpState.CLOSED)
