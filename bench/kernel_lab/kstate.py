"""Kernel truth from the ``sock:inet_sock_set_state`` tracepoint (pure: no I/O).

The lab records the tracepoint in a tracefs instance with ``options/fields`` on, so every
line carries the socket address (``skaddr``) and raw numeric fields::

    python-6013 [000] ..s2.   771.881673: inet_sock_set_state: skaddr=0xffff888102856f00
    (-131387302252800) oldstate=0xa (10) newstate=0x3 (3) sport=0x5ba0 (23456) dport=...

(``tcp:tcp_receive_reset`` lines are parsed too: they tell a CLOSE caused by a RST.)

How kernel socket changes become one endpoint's state sequence (the rules the report
quotes):

1. One *socket life* is the run of changes of one ``skaddr`` up to its change to
   TCP_CLOSE; the next change of the same address starts a new life (addresses are
   reused after free).
2. A life whose states include TCP_LISTEN with ``dport == 0`` is a listening socket:
   its changes are not a connection's and are dropped.
3. A connection life starts with its first change's old state: TCP_CLOSE for an active
   open (CLOSED -> SYN_SENT; ``sport`` is still 0 in that change, the port is taken from
   the later ones), TCP_LISTEN for a passively opened child (the child is cloned from
   the listener at the third ACK: LISTEN -> SYN_RECEIVED -> ESTABLISHED, microseconds
   apart; the request-sock stage from SYN to third ACK, TCP_NEW_SYN_RECV, has no
   tracepoint: the child's SYN_RECV time is the third ACK's, not the SYN's).
4. TCP_CLOSE is CLOSED, except where the kernel turns the socket into a timewait sock
   (``tcp_time_wait()`` then ``tcp_done()``: the tracepoint says CLOSE, the connection
   lives on):
   - CLOSING -> CLOSE without a received RST: TIME_WAIT.
   - FIN_WAIT2 -> CLOSE without a received RST: a timewait sock whose substate is
     TIME_WAIT if the peer's FIN has arrived, else FIN_WAIT2 (a socket closed by the
     application, ``close()`` rather than ``shutdown()``, is handed to a timewait sock
     as soon as its FIN is ACKed). The substate change of a timewait sock has no
     tracepoint: :func:`resolve_timewait` takes it from the endpoint's own interface
     capture (the first FIN from the peer arriving at that host: TIME_WAIT; an RST
     first: CLOSED; neither: still FIN_WAIT_2).
5. TIME_WAIT's end (60 s later) is never traced; it is past every capture anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: kernel state numbers (include/net/tcp_states.h) -> SynAck state names
KERNEL_STATES: dict[int, str] = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECEIVED", 4: "FIN_WAIT_1", 5: "FIN_WAIT_2",
    6: "TIME_WAIT", 7: "CLOSED", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
    12: "SYN_RECEIVED",   # TCP_NEW_SYN_RECV: a request sock
}
#: kernel names as printed without ``options/fields``
KERNEL_NAMES: dict[str, int] = {
    "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4,
    "TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8,
    "TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11, "TCP_NEW_SYN_RECV": 12,
}
TCP_CLOSE, TCP_LISTEN, TCP_FIN_WAIT2, TCP_CLOSING = 7, 10, 5, 11

_HEAD = re.compile(r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]*\)\s+)?\[(?P<cpu>\d+)\]\s+"
                   r"\S+\s+(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s+(?P<rest>.*)$")
_FIELD = re.compile(r"(\w+)=(\S+)(?:\s+\((-?\d+)\))?")


@dataclass(frozen=True, slots=True)
class KEvent:
    """One tracepoint line. ``ts`` is the trace clock (seconds); ``kind`` is ``state``
    (inet_sock_set_state) or ``rst`` (tcp_receive_reset: ``old == new ==`` -1)."""

    ts: float
    kind: str
    skaddr: str
    old: int
    new: int
    sport: int
    dport: int
    saddr: str
    daddr: str


def _ip4(raw: str, num: str | None) -> str:
    """``saddr=0x100007f (16777343)`` is the 4 bytes read as a little-endian integer."""
    if not raw.startswith("0x"):
        return raw
    value = int(num) if num is not None else int(raw, 16)
    return ".".join(str(b) for b in (value & 0xFFFFFFFF).to_bytes(4, "little"))


def _num(raw: str, num: str | None) -> int:
    if num is not None:
        return int(num)
    if raw.startswith("0x"):
        return int(raw, 16)
    if raw in KERNEL_NAMES or raw == "IPPROTO_TCP":
        return KERNEL_NAMES.get(raw, 6)
    if raw in KERNEL_NAMES:
        return KERNEL_NAMES[raw]
    return int(raw)


def parse_line(line: str) -> KEvent | None:
    """One trace line -> :class:`KEvent`; ``None`` for comments and other events."""
    m = _HEAD.match(line)
    if m is None:
        return None
    event, rest = m.group("event"), m.group("rest")
    fields = {k: (v, n or None) for k, v, n in _FIELD.findall(rest)}
    ts = float(m.group("ts"))
    if event == "inet_sock_set_state":
        proto = fields.get("protocol", ("IPPROTO_TCP", None))
        if proto[0] != "IPPROTO_TCP" and _num(*proto) != 6:
            return None
        return KEvent(ts=ts, kind="state", skaddr=fields.get("skaddr", ("?", None))[0],
                      old=_num(*fields["oldstate"]), new=_num(*fields["newstate"]),
                      sport=_num(*fields["sport"]), dport=_num(*fields["dport"]),
                      saddr=_ip4(*fields["saddr"]), daddr=_ip4(*fields["daddr"]))
    if event == "tcp_receive_reset":
        return KEvent(ts=ts, kind="rst", skaddr=fields.get("skaddr", ("?", None))[0],
                      old=-1, new=-1, sport=_num(*fields["sport"]), dport=_num(*fields["dport"]),
                      saddr=_ip4(*fields["saddr"]), daddr=_ip4(*fields["daddr"]))
    return None


def parse_trace(text: str) -> list[KEvent]:
    return [e for e in (parse_line(line) for line in text.splitlines()) if e is not None]


@dataclass(slots=True)
class Life:
    """The changes of one kernel socket from its first change to TCP_CLOSE."""

    skaddr: str
    events: list[KEvent] = field(default_factory=list)
    resets: list[KEvent] = field(default_factory=list)

    @property
    def listener(self) -> bool:
        return any(e.new == TCP_LISTEN and e.dport == 0 for e in self.events)

    @property
    def local(self) -> tuple[str, int]:
        for e in self.events:
            if e.sport:
                return e.saddr, e.sport
        return self.events[0].saddr, 0

    @property
    def remote(self) -> tuple[str, int]:
        for e in self.events:
            if e.dport:
                return e.daddr, e.dport
        return self.events[0].daddr, 0

    @property
    def start(self) -> float:
        return self.events[0].ts

    @property
    def active(self) -> bool:
        return self.events[0].old == TCP_CLOSE


def socket_lives(events: Iterable[KEvent]) -> list[Life]:
    """Rule 1: split the changes into socket lives (in order of their first change)."""
    open_: dict[str, Life] = {}
    lives: list[Life] = []
    for e in sorted(events, key=lambda ev: ev.ts):
        if e.kind == "rst":
            life = open_.get(e.skaddr)
            if life is not None:
                life.resets.append(e)
            continue
        life = open_.get(e.skaddr)
        if life is None:
            life = Life(skaddr=e.skaddr)
            open_[e.skaddr] = life
            lives.append(life)
        life.events.append(e)
        if e.new == TCP_CLOSE:
            del open_[e.skaddr]
    return lives


@dataclass(frozen=True, slots=True)
class Change:
    """One state of an endpoint's truth: entered at ``ts`` (trace clock, or wall clock once
    converted), ``source`` says how it is known."""

    ts: float
    state: str
    source: str = "tracepoint"


@dataclass(slots=True)
class Endpoint:
    """One side of one connection as the kernel saw it (a connection life)."""

    local: tuple[str, int]
    remote: tuple[str, int]
    active: bool
    changes: list[Change]
    #: the timewait sock's substate is still to be resolved from the host's capture
    timewait_from: float | None = None

    @property
    def states(self) -> list[str]:
        return collapse(c.state for c in self.changes)


def collapse(states: Iterable[str]) -> list[str]:
    out: list[str] = []
    for s in states:
        if not out or out[-1] != s:
            out.append(s)
    return out


def _reset_near(life: Life, ts: float, slack: float = 0.002) -> bool:
    return any(ts - slack <= r.ts <= ts + 1e-6 for r in life.resets)


def endpoint_of(life: Life) -> Endpoint:
    """Rules 3 and 4 for one connection life (timewait substate left to resolve)."""
    first = life.events[0]
    changes = [Change(first.ts, KERNEL_STATES.get(first.old, f"?{first.old}"), "initial")]
    timewait_from: float | None = None
    for e in life.events:
        if e.new == TCP_CLOSE and e.old == TCP_CLOSING and not _reset_near(life, e.ts):
            changes.append(Change(e.ts, "TIME_WAIT", "tracepoint (timewait sock)"))
        elif e.new == TCP_CLOSE and e.old == TCP_FIN_WAIT2 and not _reset_near(life, e.ts):
            timewait_from = e.ts   # FIN_WAIT_2 or TIME_WAIT: resolve_timewait decides
        else:
            changes.append(Change(e.ts, KERNEL_STATES.get(e.new, f"?{e.new}")))
    return Endpoint(local=life.local, remote=life.remote, active=life.active,
                    changes=changes, timewait_from=timewait_from)


def endpoints(events: Iterable[KEvent]) -> list[Endpoint]:
    """Rule 2 and 3: every connection life of a run as an :class:`Endpoint`."""
    return [endpoint_of(life) for life in socket_lives(events) if not life.listener]


@dataclass(frozen=True, slots=True)
class Arrival:
    """A segment from the peer seen on the endpoint's own interface (wall-clock ``ts``);
    ``seq`` and ``end`` (seq + length + SYN/FIN) are absolute."""

    ts: float
    fin: bool
    rst: bool
    seq: int = 0
    end: int = 0


def resolve_timewait(ep: Endpoint, arrivals: Sequence[Arrival], slack: float = 0.005) -> None:
    """What the timewait sock did, from the peer's segments on this host's interface
    (``arrivals``, in the same clock as ``ep``'s changes):

    - rule 4, second case: FIN_WAIT_2 (timewait sock) becomes TIME_WAIT when the peer's
      FIN arrives, CLOSED when an RST arrives first;
    - a TIME_WAIT sock hit by an RST at RCV.NXT (the peer's FIN + 1) is killed at once
      (TIME_WAIT assassination, net.ipv4.tcp_rfc1337=0, the default): CLOSED.
    """
    peer = sorted(arrivals, key=lambda x: x.ts)
    fin_ends = [a.end for a in peer if a.fin]
    rcv_nxt = fin_ends[-1] if fin_ends else None
    if ep.timewait_from is not None:
        t0 = ep.timewait_from
        ep.timewait_from = None
        for a in peer:
            if a.ts < t0 - slack:
                continue
            if a.fin:
                ep.changes.append(Change(max(a.ts, t0), "TIME_WAIT",
                                         "timewait sock: peer FIN on own interface"))
                break
            if a.rst:
                ep.changes.append(Change(max(a.ts, t0), "CLOSED",
                                         "timewait sock: peer RST on own interface"))
                return
        else:
            return   # no FIN arrived: still FIN_WAIT2 (a timewait sock) at the run's end
    if not ep.changes or ep.changes[-1].state != "TIME_WAIT":
        return
    t_tw = ep.changes[-1].ts
    for a in peer:
        if a.rst and a.ts >= t_tw - slack and (rcv_nxt is None or a.seq == rcv_nxt):
            ep.changes.append(Change(max(a.ts, t_tw), "CLOSED",
                                     "TIME_WAIT killed by peer RST (tcp_rfc1337=0)"))
            return


def shift(ep: Endpoint, offset: float) -> None:
    """Convert the trace clock to wall-clock seconds (``wall = trace + offset``)."""
    ep.changes = [Change(c.ts + offset, c.state, c.source) for c in ep.changes]
    if ep.timewait_from is not None:
        ep.timewait_from += offset
