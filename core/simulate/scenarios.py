"""The scenario library: named exchanges that show one thing TCP does, and why.

Each :class:`Scenario` has a one-line summary, a paragraph of explanation, the two
applications' programs, the connect times of other clients of the same listener (if
any) and its own parameter defaults (on top of the Linux preset). ``run(overrides)``
gives a Timeline; the same name, parameters and seed give the same one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.errors import ParameterError
from core.simulate.engine import Simulation
from core.simulate.link import DelayRule
from core.simulate.params import build_configs, merge
from core.simulate.program import (
    PEER_CLOSED,
    Condition,
    Step,
    accept,
    close,
    connect,
    listen,
    read,
    send,
)
from core.tcp.payload import text
from core.tcp.states import Side, TcpState
from core.trace import Timeline

BASE_PARAMS: dict[str, object] = {"client.iss": 1_809_145_613, "server.iss": 3_427_871_990}
#: where a run stops at the latest (simulated seconds; parameter ``until``): an idle
#: connection with keep-alive, or a window that never opens, would go on for ever
HORIZON = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    summary: str
    explanation: str
    client: tuple[Step, ...]
    server: tuple[Step, ...]
    defaults: Mapping[str, object] = field(default_factory=dict)
    until: float | None = None
    others: tuple[float, ...] = ()

    def params(self, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
        return merge(BASE_PARAMS, self.defaults, overrides or {})

    def simulation(self, overrides: Mapping[str, object] | None = None, *,
                   title: str | None = None) -> Simulation:
        client, server, link = build_configs(self.params(overrides))
        return Simulation(client=client, server=server, link=link, client_program=self.client,
                          server_program=self.server, title=title or f"Scenario: {self.name}",
                          others=self.others)

    def run(self, overrides: Mapping[str, object] | None = None, *,
            title: str | None = None) -> Timeline:
        until = self.params(overrides).get("until", self.until or HORIZON)
        assert isinstance(until, float | int)
        return self.simulation(overrides, title=title).simulate(until=float(until))


HELLO = (connect(), send(b"hello"), read(2))
OK = (listen(), accept(), read(5), send(b"OK"))
CLOSE_AFTER_HELLO = (*HELLO, close(after=0.05))


def _at(time: float) -> Condition:
    return Condition(at=time)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="handshake", summary="The three-way handshake: SYN, SYN+ACK, ACK.",
        explanation="The client sends SYN with its initial sequence number; the server "
        "answers SYN+ACK with its own and acknowledges the client's plus one, because a SYN "
        "takes one sequence number; the client's ACK acknowledges the server's. Three "
        "segments are the fewest that let each side learn the other's sequence number and "
        "know its own was received.",
        client=(connect(),), server=(listen(),)),
    Scenario(
        name="hello_ok", summary='The client sends "hello", the server replies "OK".',
        explanation='Data segments carry PSH and an acknowledgment. "hello" occupies '
        "sequence numbers 1 to 5 (seq 1:6), so the server acknowledges 6, the next octet it "
        'expects; "OK" is seq 1:3 from the server and the client acknowledges 3. Each side '
        "numbers its own bytes; ACK numbers always name the next byte wanted.",
        client=HELLO, server=OK),
    Scenario(
        name="close_client_first", summary="Four-way close: the client closes, ACK and FIN "
        "come separately.",
        explanation="close() sends FIN: the client enters FIN_WAIT_1. The server's TCP "
        "acknowledges it at once (FIN_WAIT_2 on the client, CLOSE_WAIT on the server) but its "
        "application closes later, so its FIN is a segment of its own (LAST_ACK). The client "
        "acknowledges it and waits in TIME_WAIT for 2MSL; the server is CLOSED on the ACK.",
        client=CLOSE_AFTER_HELLO, server=(*OK, close(when=PEER_CLOSED, after=0.15))),
    Scenario(
        name="close_three_segment", summary="Three-segment close: the server's FIN rides on "
        "its ACK.",
        explanation="With delayed ACKs the server's TCP waits up to 40 ms before "
        "acknowledging the client's FIN. Its application closes within that time, so one "
        "[F.] segment both acknowledges the client's FIN and carries the server's: the client "
        "goes from FIN_WAIT_1 straight to TIME_WAIT.",
        client=CLOSE_AFTER_HELLO, server=(*OK, close(when=PEER_CLOSED, after=0.005))),
    Scenario(
        name="close_server_first", summary="The server closes first and ends in TIME_WAIT.",
        explanation="TIME_WAIT belongs to whoever closes first, not to the client. Here the "
        "server's application closes after replying, so the server goes through FIN_WAIT_1 "
        "and FIN_WAIT_2 and waits 2MSL in TIME_WAIT, while the client passes through "
        "CLOSE_WAIT and LAST_ACK.",
        client=(*HELLO, close(when=PEER_CLOSED, after=0.05)), server=(*OK, close(after=0.05))),
    Scenario(
        name="simultaneous_close", summary="Both close at once: CLOSING, and both wait in "
        "TIME_WAIT.",
        explanation="Both applications close at the same moment, so both FINs are on the "
        "wire together (30 ms each way). Each side receives the other's FIN while in "
        "FIN_WAIT_1 (its own FIN not yet acknowledged) and moves to CLOSING; when the ACK "
        "of its FIN arrives it enters TIME_WAIT. Both sides wait 2MSL.",
        client=(connect(), close(when=_at(1.0))), server=(listen(), close(when=_at(1.0))),
        defaults={"delay": 0.030}),
    Scenario(
        name="simultaneous_open", summary="Both sides send SYN at once.",
        explanation="Each side's SYN reaches a peer in SYN_SENT, which moves to SYN_RECEIVED "
        "and answers SYN+ACK. Each SYN+ACK then completes the other side's handshake: four "
        "segments instead of three, and no listener at all.",
        client=(connect(),), server=(connect(),)),
    Scenario(
        name="time_wait_lost_ack", summary="TIME_WAIT reason 1: the last ACK is lost, the "
        "FIN is re-ACKed and 2MSL starts again.",
        explanation="The client's last ACK is dropped. The server, in LAST_ACK, retransmits "
        "its FIN when its retransmission timer expires. Because the client is still in "
        "TIME_WAIT it can acknowledge the FIN again (and restarts its 2MSL timer); had it "
        "forgotten the connection it would answer RST, and the server would report an error.",
        client=CLOSE_AFTER_HELLO, server=(*OK, close(when=PEER_CLOSED, after=0.15)),
        defaults={"drop": "client:6"}),
    Scenario(
        name="time_wait_old_duplicate", summary="TIME_WAIT reason 2: a delayed segment of the "
        "old connection dies in TIME_WAIT; the same ports are reused only after 2MSL.",
        explanation='The server\'s "late!" is held up in the network; its retransmission '
        "arrives first. The original turns up seconds later while the client is in "
        "TIME_WAIT: it is an old duplicate, outside the window, and is discarded (the client "
        "re-ACKs; the server, which no longer knows the connection, answers RST, which RFC "
        "1337 tells TIME_WAIT to ignore). Only after 2MSL, when no segment of the old "
        "connection can still exist, does the client connect again from the same port.",
        client=(*HELLO, read(7), close(), connect(when=Condition(closed=True), after=0.001)),
        server=(*OK, send(b"late!", after=0.001), close(when=PEER_CLOSED, after=0.01),
                Step(call="listen", when=Condition(closed=True))),
        defaults={"delays": (DelayRule(sender=Side.SERVER, nth=4, extra=5.0),),
                  "client.rfc1337": True}),
    Scenario(
        name="bind_eaddrinuse", summary="bind() on a port in TIME_WAIT fails with EADDRINUSE.",
        explanation="While the old connection is in TIME_WAIT its address and port are still "
        "in use: a new bind() to them fails with EADDRINUSE. After 2MSL the same bind() "
        "succeeds.",
        client=(*CLOSE_AFTER_HELLO, Step(call="bind", when=Condition(state=TcpState.TIME_WAIT),
                                         after=0.1),
                Step(call="bind", when=Condition(closed=True))),
        server=(*OK, close(when=PEER_CLOSED, after=0.01))),
    Scenario(
        name="abort", summary="Abortive close (SO_LINGER 0): one RST, no FIN, no TIME_WAIT.",
        explanation="With SO_LINGER set to zero, close() aborts: the client sends a single "
        "RST (carrying its current sequence number, so the server accepts it) and forgets "
        "the connection at once. No FIN handshake and no TIME_WAIT; the server's next "
        "recv() fails with 'connection reset by peer'.",
        client=(*HELLO, Step(call="abort")), server=OK),
    Scenario(
        name="closed_port", summary="connect() to a port nobody listens on gets RST.",
        explanation="No socket listens on the server's port, so its TCP answers the SYN with "
        "RST+ACK (acknowledging the SYN, so the client can trust it). The client's connect() "
        "fails with 'connection refused' and it is CLOSED after one round trip.",
        client=(connect(),), server=()),
    Scenario(
        name="half_open", summary="Half-open: the server restarts while the link is down; "
        "the client's next data gets RST.",
        explanation="The link goes down and the server host restarts, forgetting the "
        "connection without sending anything. The client still believes it is ESTABLISHED. "
        "Its next data is lost while the link is down and retransmitted; once the link is "
        "back, the restarted server has no such connection and answers RST, and the client "
        "learns the connection is gone (connection reset).",
        client=(*HELLO, send(b"anyone?", when=_at(3.0))),
        server=(*OK, Step(call="crash", when=_at(1.0)), Step(call="listen", when=_at(2.0))),
        defaults={"down": "0.5:5.0"}),
    Scenario(
        name="retransmission", summary="Retransmission after a timeout: the data stays in "
        "the send buffer until ACKed.",
        explanation='"hello" is lost. The sender keeps it in its send buffer, because only '
        "an ACK frees it, and its retransmission timer (RTO, here the 200 ms minimum after "
        "measuring the handshake) expires: the same bytes, seq 1:6, are sent again.",
        client=HELLO, server=OK, defaults={"drop": "client:3"}),
    Scenario(
        name="fast_retransmit", summary="Fast retransmit: three duplicate ACKs resend a lost "
        "segment before the timer.",
        explanation="The first of six segments is lost. Each later segment makes the receiver "
        "repeat its ACK for the missing byte. At the third duplicate ACK the sender concludes "
        "the segment is lost and resends it at once; the receiver then acknowledges "
        "everything it had kept.",
        client=(connect(), send(text(600))), server=(listen(), read(600)),
        defaults={"mss": 100, "drop": "client:3"}),
    Scenario(
        name="out_of_order", summary="Out-of-order arrival, put back in order by the "
        "receiver.",
        explanation="The first data segment is delayed and arrives after the second. The "
        "receiver keeps the early segment, acknowledges only what is contiguous (a duplicate "
        "ACK), and delivers all the bytes in order to the application once the gap fills.",
        client=(connect(), send(text(300))), server=(listen(), read(300)),
        defaults={"mss": 100, "delays": (DelayRule(sender=Side.CLIENT, nth=3, extra=0.015),)}),
    Scenario(
        name="flow_control", summary="Sliding window and flow control: zero window, persist "
        "probes, window update.",
        explanation="The server's application reads 1000 bytes every 0.8 s (1250 bytes/s) "
        "from a 1000-byte receive buffer. As the buffer fills, the window "
        "the server advertises shrinks to zero and the client must stop. The client's "
        "persist timer sends zero-window probes so a lost window update cannot deadlock the "
        "connection; when the application reads, the window opens and data flows again.",
        client=(connect(), send(text(3000))), server=(listen(), accept()),
        defaults={"server.recv_buffer": 1000, "server.read_rate": 1250.0,
                  "server.read_every": 0.8, "mss": 500, "server.wscale": None,
                  "client.wscale": None}),
    Scenario(
        name="stream_service", summary='TCP keeps no message boundaries: send("ee") and '
        'send("eee") arrive as one read of "eeeee".',
        explanation='The client makes two send() calls. Nagle\'s algorithm holds "eee" until '
        '"ee" is acknowledged, and the server application reads only later: one read() '
        'returns "eeeee". TCP carries a byte stream; any message framing is the '
        "application's job.",
        client=(connect(), send(b"ee"), send(b"eee", after=0.001)),
        server=(listen(), read(5, after=0.05)),
        defaults={"server.auto_read": False, "client.nagle": True}),
    Scenario(
        name="listen_backlog", summary="Listen backlog full (backlog 5): the extra client's "
        "SYNs are dropped and retransmitted until the server accepts.",
        explanation="The server listens with a backlog of 5 and its application does not "
        "call accept() yet. Five other clients connect first: the server's TCP completes "
        "their handshakes by itself and queues them, and the accept queue is full (5/5). "
        "The sixth client, shown here, sends SYN; with the queue full the listener drops "
        "it without an answer, as Linux does, so connect() keeps waiting and the SYN is "
        "retransmitted when the timer expires: after 1 s, then 2 s later (exponential "
        "backoff). At 2 s the application accepts one connection, which frees a place; "
        "the next SYN gets in, the handshake completes and connect() returns. The "
        "client's data waits in the server's receive buffer until the application has "
        "accepted the four connections ahead of this one and this one, at 4 s.",
        client=(connect(when=_at(0.1)), send(b"hello"), read(2)),
        server=(listen(), accept(when=_at(2.0)), *[accept(when=_at(4.0))] * 5, read(5),
                send(b"OK")),
        others=(0.0, 0.01, 0.02, 0.03, 0.04), defaults={"server.backlog": 5}),
    Scenario(
        name="keepalive", summary="Keep-alive probes on an idle connection.",
        explanation="Nothing is sent for a while. With SO_KEEPALIVE the client probes the "
        "peer after the idle time (Linux: 2 hours; here 10 s) with a segment that repeats an "
        "old sequence number, which forces an ACK. An answer proves the peer is still there.",
        client=HELLO, server=OK, until=40.0,
        defaults={"client.keepalive_idle": 10.0, "client.keepalive_interval": 5.0}),
)

BY_NAME = {s.name: s for s in SCENARIOS}
assert len(BY_NAME) == len(SCENARIOS), "scenario names must be unique"


def get(name: str) -> Scenario:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ParameterError(f"unknown scenario {name!r}; known: {', '.join(BY_NAME)}") from None


__all__ = ["SCENARIOS", "Scenario", "get"]
