"""The same ports opened again: what the next connection tells about a TIME_WAIT.

    reopened(index, stream, rows) -> Reopening | None
    waited_out(reopening, inference, point, time_wait) -> list[Waited]

Rule 1c of :mod:`core.replay.explain`. An RST that reaches a side in TIME_WAIT ends it
(RFC 793; Linux by default) unless the side follows RFC 1337 and ignores it; the packets
of the connection look the same either way. The capture may go on, though: when it
shows that side opening a new connection on the same addresses and ports (its SYN) just
when its 2MSL, counted without the RST, runs out (``EARLY`` before to ``SLACK`` after,
send times; 2MSL is one of the ``KNOWN`` lengths: Linux's 60 s, Windows' 120 s, RFC
793's 240 s), the side held the ports until then: it ignored the RST. Closed by the RST,
nothing would have kept it waiting to that moment. A reopening at any other time proves
nothing either way (an application reconnects when it likes, and Linux may reuse a
TIME_WAIT's port for a new connect(): tcp_tw_reuse), so the doubt stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.capture.index import CaptureIndex
from core.replay.roles import CapturePoint
from core.replay.sides import Inference
from core.tcp.states import Side, TcpState, Timer, Trigger
from core.trace import StateChanged, TimerStarted

SYN, ACK, RST = 0x02, 0x10, 0x04
#: 2MSL as systems keep it: Linux (TCP_TIMEWAIT_LEN), Windows (TcpTimedWaitDelay), RFC 793
KNOWN = (60.0, 120.0, 240.0)
#: how long after its 2MSL runs out a side may take to open again and still count
SLACK = 1.0
#: how much earlier than that, at least, for the error in estimated send times
EARLY = 0.01
#: the kind of the conflict a reopening settles (core.replay.infer.Conflict.kind)
REOPENED = "reopened"

Arr = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True, slots=True)
class Reopening:
    """The next connection on a stream's ports: its first SYN, by whom, when captured."""

    by_first_source: bool          # sent from the address and port of the stream's first packet
    time: float                    # seconds since the file's first packet, as captured
    frame: int


@dataclass(frozen=True, slots=True)
class Waited:
    """An RST (segment ``segment``) that side ``side`` ignored: it reopened at ``time``
    (send time), ``late`` seconds after its 2MSL (``length``) counted without the RST
    ran out."""

    side: Side
    segment: int
    time: float
    late: float
    length: float

    def reason(self) -> str:
        who = self.side.value
        return (f"the {who} opens the same ports again at {self.time:.3f} s, "
                f"{self.late * 1e3:.0f} ms after a TIME_WAIT that ignored the RST runs out "
                f"(2MSL = {self.length:.0f} s): "
                f"closed by the RST, the {who} would not have waited out 2MSL to the moment")


def reopened(index: CaptureIndex, stream: int, rows: Arr) -> Reopening | None:
    """The next connection on the addresses and ports of ``stream`` (whose index rows
    are ``rows``), when its first packet is a SYN."""
    p = index.packets
    first = p[int(rows[0])]
    src, dst = int(first["src"]), int(first["dst"])
    sport, dport = int(first["sport"]), int(first["dport"])
    s_, d_ = p["src"], p["dst"]              # column views: no copy of the records
    sp, dp = p["sport"], p["dport"]
    forward = (s_ == src) & (d_ == dst) & (sp == sport) & (dp == dport)
    backward = (s_ == dst) & (d_ == src) & (sp == dport) & (dp == sport)
    same = np.flatnonzero((forward | backward) & (p["stream"] > stream))
    if not same.size:
        return None
    streams = p["stream"][same]
    pos = same[streams == streams.min()]
    k = int(pos[np.argmin(p["time_ns"][pos])])
    if int(p["flags"][k]) & (SYN | ACK | RST) != SYN:
        return None
    return Reopening(by_first_source=bool(forward[k]),
                     time=(int(p["time_ns"][k]) - index.start_ns) / 1e9,
                     frame=int(p["frame"][k]))


def waited_out(reopening: Reopening, client_is_first: bool, inference: Inference,
               point: CapturePoint) -> list[Waited]:
    """Each RST that ended a TIME_WAIT of the side that then reopened just when that
    TIME_WAIT, had it stayed, would have run out (see the module rule)."""
    side = Side.CLIENT if reopening.by_first_source == client_is_first else Side.SERVER
    sent = reopening.time - (point.delta_client if side is Side.CLIENT
                             else point.delta_server)
    early = max(EARLY, point.one_way)
    out: list[Waited] = []
    started: float | None = None
    for ev in inference.sparse:
        if ev.side is not side:
            continue
        if isinstance(ev, TimerStarted) and ev.timer is Timer.TIME_WAIT:
            started = ev.time
        elif (isinstance(ev, StateChanged) and ev.old is TcpState.TIME_WAIT
              and ev.new is TcpState.CLOSED and ev.trigger is Trigger.RCV_RST
              and ev.segment is not None and started is not None):
            for length in KNOWN:
                late = sent - (started + length)
                if -early <= late <= SLACK:
                    out.append(Waited(side=side, segment=ev.segment, time=sent, late=late,
                                      length=length))
                    break
    return out
