"""The lab's scenarios: scripted ones (one named behaviour each) and randomised ones.

A scenario is ``f(run, rnd)``: it sets up the wire (or loopback) on ``run``, starts the
applications and waits for them; ``rnd`` (seeded per run) draws its parameters, which
it records in ``run.params``. Scripted scenarios vary little between runs (a seed for
the wire, a delay); the randomised ones vary everything.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from bench.kernel_lab.lab import Run

Scenario = Callable[[Run, random.Random], None]
SCENARIOS: dict[str, Scenario] = {}
#: scenarios run by default with more than one run each (the randomised ones)
RANDOM = ("random_small", "random_lossy")


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__.removeprefix("s_")] = fn
    return fn


def _basic(run: Run, srv: dict[str, Any], cli: dict[str, Any], timeout: float = 30) -> None:
    s = run.server(**srv)
    c = run.client(**cli)
    run.results["client"] = c.wait(timeout)
    run.results["server"] = s.wait(timeout)


def _delay(run: Run, rnd: random.Random, lo: float = 2, hi: float = 20) -> float:
    d = round(rnd.uniform(lo, hi), 1)
    run.params["delay_ms"] = d
    return d


@scenario
def s_close_client_first(run: Run, rnd: random.Random) -> None:
    """Baseline on the wire: hello/OK, client closes first, server closes on EOF."""
    d = _delay(run, rnd)
    run.wire(ab_delay=d, ba_delay=d)
    _basic(run, dict(close="eof", close_delay=rnd.choice([0, 0.1])), dict(close="close"))


@scenario
def s_close_server_first(run: Run, rnd: random.Random) -> None:
    """The server closes first (its TIME_WAIT); the client closes on EOF."""
    d = _delay(run, rnd)
    run.wire(ab_delay=d, ba_delay=d)
    _basic(run, dict(close="close", close_delay=0.05),
           dict(close="eof", close_delay=rnd.choice([0, 0.1])))


@scenario
def s_loopback_basic(run: Run, rnd: random.Random) -> None:
    """Loopback (one namespace, one capture): hello/OK, client shuts down first."""
    run.loopback()
    _basic(run, dict(close="eof", close_delay=rnd.choice([0, 0.05])),
           dict(close=rnd.choice(["close", "half"])))


@scenario
def s_simultaneous_open(run: Run, rnd: random.Random) -> None:
    """Both ends connect() to each other at the same moment, no listener (30 ms wire)."""
    run.wire(ab_delay=30, ba_delay=30)
    at = time.time() + 0.8
    a = run.app(run.ns_c, "simopen", lhost="10.9.0.1", lport=run.lport, host="10.9.0.2",
                port=run.port, at=at, close="close")
    b = run.app(run.ns_s, "simopen", lhost="10.9.0.2", lport=run.port, host="10.9.0.1",
                port=run.lport, at=at, close="close", close_delay=0.2)
    run.results["a"] = a.wait(15)
    run.results["b"] = b.wait(15)


@scenario
def s_simultaneous_close(run: Run, rnd: random.Random) -> None:
    """Both ends shutdown() at the same moment; the FINs cross (30 ms wire)."""
    run.wire(ab_delay=30, ba_delay=30)
    at = time.time() + 1.2
    _basic(run, dict(close="at", at=at), dict(close="at", at=at))


@scenario
def s_keepalive_dead(run: Run, rnd: random.Random) -> None:
    """Keep-alive 1 s/1 s/3; the cable is pulled after the first probe is answered: three
    probes go unanswered, the client's kernel gives up with an RST (lost too). Then the
    cable returns and the server, killed, closes: its FIN meets no socket (RST)."""
    run.wire(ab_delay=1, ba_delay=1)
    s = run.server(close="idle", hold=12)
    c = run.client(keepalive="1,1,3", close="idle", hold=9)
    time.sleep(1.6)
    run.cable(True)
    run.results["client"] = c.wait(15)
    run.cable(False)
    time.sleep(0.2)
    s.kill()
    run.results["server"] = s.wait(5)
    time.sleep(0.3)


@scenario
def s_keepalive_timeout_quiet(run: Run, rnd: random.Random) -> None:
    """Keep-alive with the peer gone for good: probes unanswered, the client's RST is
    lost, nothing more (the server stays ESTABLISHED until the run ends)."""
    run.wire(ab_delay=1, ba_delay=1)
    s = run.server(close="idle", hold=8)
    c = run.client(keepalive="1,1,2", close="idle", hold=7)
    time.sleep(1.5)
    run.cable(True)
    run.results["client"] = c.wait(12)
    run.results["server"] = s.wait(10)


@scenario
def s_lost_syn(run: Run, rnd: random.Random) -> None:
    """The first SYN is dropped: the client retransmits it after 1 s."""
    d = _delay(run, rnd)
    run.wire(ab_delay=d, ba_delay=d, drop=["ab:syn:1"])
    _basic(run, dict(close="eof"), dict(close="close"))


@scenario
def s_lost_synack(run: Run, rnd: random.Random) -> None:
    """The first SYN+ACK is dropped: one side's timer fires (SYN or SYN+ACK again)."""
    d = _delay(run, rnd)
    run.wire(ab_delay=d, ba_delay=d, drop=["ba:synack:1"])
    _basic(run, dict(close="eof"), dict(close="close"))


@scenario
def s_lost_handshake_ack(run: Run, rnd: random.Random) -> None:
    """The third ACK of the handshake is dropped; the client's data carries the ACK."""
    d = _delay(run, rnd)
    run.wire(ab_delay=d, ba_delay=d, drop=["ab:ack:1"])
    _basic(run, dict(close="eof"), dict(close="close", close_delay=0.05))


@scenario
def s_lost_last_ack_rto(run: Run, rnd: random.Random) -> None:
    """The last ACK (the client's ACK of the server's FIN, server in LAST_ACK) is lost,
    TLP off (tcp_early_retrans=0): the FIN is sent again when the RTO expires."""
    d = _delay(run, rnd, 5, 20)
    run.params["tcp_early_retrans"] = 0
    run.wire(ab_delay=d, ba_delay=d, drop=["ab:finack:1"],
             server_sysctl={"net.ipv4.tcp_early_retrans": 0})
    _basic(run, dict(close="eof", close_delay=0.05), dict(close=rnd.choice(["close", "half"])))


@scenario
def s_lost_last_ack_tlp(run: Run, rnd: random.Random) -> None:
    """The server answers 6000 bytes and closes at once (data and FIN in one flight); the
    client's ACK of that FIN is lost. With several segments unacknowledged and TLP on
    (tcp_early_retrans=3), a tail loss probe (2 SRTT) resends the last segment long
    before the RTO would."""
    d = _delay(run, rnd, 5, 20)
    run.params["tcp_early_retrans"] = 3
    run.wire(ab_delay=d, ba_delay=d, drop=["ab:finack:1"],
             server_sysctl={"net.ipv4.tcp_early_retrans": 3})
    _basic(run, dict(close="close", reply=6000),
           dict(close="eof", reply=6000, close_delay=0.3))


@scenario
def s_rst_loss(run: Run, rnd: random.Random) -> None:
    """The client aborts (SO_LINGER 0): its RST is lost. The server later sends data,
    the client's host answers RST (no socket), the server's connection is reset."""
    d = _delay(run, rnd)
    run.wire(ab_delay=d, ba_delay=d, drop=["ab:rst:1"])
    _basic(run, dict(close="poke", close_delay=0.4), dict(close="abort", close_delay=0.05))


@scenario
def s_port_reuse_tw_reuse(run: Run, rnd: random.Random) -> None:
    """Same 4-tuple twice: the client closes first (TIME_WAIT), then connects again from
    the same port 1.2 s later with SO_REUSEADDR and net.ipv4.tcp_tw_reuse=1."""
    d = _delay(run, rnd, 1, 10)
    run.wire(ab_delay=d, ba_delay=d, client_sysctl={"net.ipv4.tcp_tw_reuse": 1})
    _basic(run, dict(close="eof", n=2), dict(close="close", lhost="10.9.0.1",
                                               lport=run.lport, repeat=2, gap=1.2))


@scenario
def s_port_reuse_server_tw(run: Run, rnd: random.Random) -> None:
    """Same 4-tuple twice: the server closes first (its TIME_WAIT); the client's new SYN
    from the same port reaches the server's TIME_WAIT socket, which lets it through."""
    d = _delay(run, rnd, 1, 10)
    run.wire(ab_delay=d, ba_delay=d)
    _basic(run, dict(close="close", n=2), dict(close="eof", lhost="10.9.0.1",
                                                lport=run.lport, repeat=2, gap=0.3))


@scenario
def s_backlog_overflow(run: Run, rnd: random.Random) -> None:
    """listen(1), never accept(); four connects 0.2 s apart (TCP_SYNCNT 2): the accept
    queue overflows, later SYNs / third ACKs are dropped by the server's kernel."""
    d = _delay(run, rnd, 1, 5)
    run.wire(ab_delay=d, ba_delay=d)
    s = run.server("listen_only", backlog=1, sleep=7)
    c = run.client("backlog_client", n=4, syncnt=2, timeout=6)
    run.results["client"] = c.wait(15)
    run.results["server"] = s.wait(15)


def _bulk(run: Run, rnd: random.Random, nbytes: int, **wire: Any) -> None:
    run.params["bytes"] = nbytes
    run.wire(snap=128, **wire)
    _basic(run, dict(close="eof", expect=nbytes, reply=0, timeout=40),
           dict(close="half", send=nbytes, reply=0, timeout=40), timeout=60)


@scenario
def s_reorder_mild(run: Run, rnd: random.Random) -> None:
    """200 KB over a 10 ms wire where 3% of the frames jump the queue."""
    seed = rnd.randrange(1 << 30)
    run.params["seed"] = seed
    _bulk(run, rnd, 200_000, ab_delay=10, ba_delay=10, ab_reorder=0.03, seed=seed)


@scenario
def s_reorder_heavy(run: Run, rnd: random.Random) -> None:
    """200 KB; 10 ms + up to 25 ms jitter both ways and 20% queue jumps."""
    seed = rnd.randrange(1 << 30)
    run.params["seed"] = seed
    _bulk(run, rnd, 200_000, ab_delay=10, ba_delay=10, ab_jitter=25, ba_jitter=25,
          ab_reorder=0.2, ba_reorder=0.1, seed=seed)


@scenario
def s_zero_window_wscale(run: Run, rnd: random.Random) -> None:
    """Window scaling negotiated (default buffers), then the server's receive buffer is
    shrunk to 4 KB and it reads nothing for 1.5 s, then slowly: zero windows, probes."""
    run.params["bytes"] = 150_000
    run.wire(snap=128, ab_delay=2, ba_delay=2)
    _basic(run, dict(close="eof", expect=150_000, reply=0, rcvbuf=4096, read_delay=1.5,
                     read_chunk=8192, read_pause=0.01, timeout=40),
           dict(close="half", send=150_000, reply=0, timeout=40), timeout=60)


@scenario
def s_bulk_loss(run: Run, rnd: random.Random) -> None:
    """300 KB over 15 ms with 3% loss client->server and 1% server->client."""
    seed = rnd.randrange(1 << 30)
    run.params["seed"] = seed
    _bulk(run, rnd, 300_000, ab_delay=15, ba_delay=15, ab_loss=0.03, ba_loss=0.01,
          seed=seed, skip_first=3)


_CLOSES = ("client_first", "server_first", "simultaneous", "client_abort", "server_abort",
           "client_half")


def _random(run: Run, rnd: random.Random, lossy: bool) -> None:
    seed = rnd.randrange(1 << 30)
    p: dict[str, Any] = {"seed": seed, "close_order": rnd.choice(_CLOSES),
                         "send": rnd.choice([5, 500, 3000, 8000]),
                         "reply": rnd.choice([2, 300, 4000, 10000])}
    w: dict[str, Any] = {"seed": seed}
    for d in ("ab", "ba"):
        w[f"{d}_delay"] = round(rnd.uniform(0.5, 25), 1)
        w[f"{d}_jitter"] = round(rnd.choice([0.0, 0.0, rnd.uniform(0, 10)]), 1)
        w[f"{d}_loss"] = round(rnd.uniform(0.02, 0.15), 3) if lossy else 0.0
        w[f"{d}_reorder"] = round(rnd.choice([0.0, rnd.uniform(0, 0.1)]), 3)
    if lossy:
        w["skip_first"] = rnd.choice([0, 0, 3])
    p["wire"] = w
    run.params.update(p)
    run.wire(**w)
    order = p["close_order"]
    srv: dict[str, Any] = {"expect": p["send"], "reply": p["reply"], "timeout": 25}
    cli: dict[str, Any] = {"send": p["send"], "reply": p["reply"], "timeout": 25}
    if order == "client_first":
        srv["close"], cli["close"] = "eof", "close"
    elif order == "server_first":
        srv["close"], cli["close"] = "close", "eof"
    elif order == "simultaneous":
        at = time.time() + 1.0 + rnd.uniform(0, 0.5)
        srv.update(close="at", at=at)
        cli.update(close="at", at=at + rnd.uniform(-0.02, 0.02))
    elif order == "client_abort":
        srv["close"], cli["close"] = "eof", "abort"
    elif order == "server_abort":
        srv["close"], cli["close"] = "abort", "eof"
    else:
        srv["close"], cli["close"] = "eof", "half"
    srv["close_delay"] = rnd.choice([0.0, 0.0, 0.05, 0.3])
    cli["close_delay"] = rnd.choice([0.0, 0.0, 0.05])
    _basic(run, srv, cli, timeout=40)


@scenario
def s_random_small(run: Run, rnd: random.Random) -> None:
    """Random delay/jitter/reordering both ways, a few KB, a random close order."""
    _random(run, rnd, lossy=False)


@scenario
def s_random_lossy(run: Run, rnd: random.Random) -> None:
    """As random_small with 2-15% loss each way (the handshake and FINs included)."""
    _random(run, rnd, lossy=True)
