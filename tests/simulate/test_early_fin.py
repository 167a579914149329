"""A FIN that arrives before the data it follows (machine rule 6): held and ACKed at once,
it takes effect when the gap fills, as Linux's out-of-order queue does."""

from __future__ import annotations

from core.simulate.params import parse_assignment
from core.simulate.scenarios import get
from core.tcp.segment import Flag
from core.tcp.states import Side, TcpState
from core.trace import StateChanged


def test_an_early_fin_waits_for_the_gap_and_is_acked_at_once() -> None:
    settings = ("delay=0.01", "delayed_ack=off", "drop=server:3")   # the server's data
    tl = get("close_server_first").run(dict(parse_assignment(a) for a in settings))
    segs = tl.segments
    lost = next(r for r in segs if r.sender is Side.SERVER and r.segment.length
                and r.arrived is None)
    fin = next(r for r in segs if r.sender is Side.SERVER and r.segment.has(Flag.FIN))
    assert fin.arrived is not None and fin.index > lost.index
    # the FIN came first: a duplicate ACK at once, still asking for the lost octets
    dup = next(r for r in segs if r.sender is Side.CLIENT and r.sent >= fin.arrived)
    assert dup.sent == fin.arrived and dup.segment.ack == lost.segment.seq
    # the resend fills the gap: the held FIN takes effect with it, ACKed together
    resend = next(r for r in segs if r.index > fin.index and r.sender is Side.SERVER
                  and r.segment.seq == lost.segment.seq and r.arrived is not None)
    closed = [e for e in tl.events if isinstance(e, StateChanged) and e.side is Side.CLIENT
              and e.new is TcpState.CLOSE_WAIT]
    assert [e.time for e in closed] == [resend.arrived]
    ack = next(r for r in segs if r.sender is Side.CLIENT and r.sent >= resend.arrived)
    assert ack.segment.ack == fin.segment.seq + 1
