#!/usr/bin/env python3
"""Client and server roles of the lab (adapted from ../shared/corpus/tools/tcpapp.py).

Run inside a namespace: ``apps.py ROLE --opt value ...``; prints one JSON line (what
happened, with wall-clock times and errno names). Every role is bounded in time.

Roles: ``server`` (accept ``--n`` connections one after the other), ``client`` (one or
``--repeat`` connections from the same port), ``simopen`` (connect without a listener,
at an agreed time), ``listen_only`` (listen, never accept), ``backlog_client``
(``--n`` non-blocking connects).

The exchange: the client sends ``--send`` bytes, the server reads ``--expect`` bytes and
answers ``--reply`` bytes, the client reads them. Then ``--close``:
``close`` (close() at once, after ``--close-delay``), ``eof`` (read to EOF, wait
``--close-delay``, close), ``half`` (shutdown(SHUT_WR), read to EOF, close), ``at`` (shutdown
at the absolute time ``--at``, read to EOF, close), ``abort`` (SO_LINGER 0, close: RST),
``poke`` (wait ``--close-delay``, send 4 bytes, read until EOF or error, close), ``idle``
(wait up to ``--hold`` s for EOF or an error, then close).
"""

from __future__ import annotations

import argparse
import errno
import json
import select
import socket
import struct
import sys
import time
from typing import Any

res: dict[str, Any] = {"events": []}


def note(what: str, **kw: Any) -> None:
    res["events"].append(dict(t=time.time(), what=what, **kw))


def ename(e: OSError) -> str:
    if e.errno is None:
        return type(e).__name__
    return str(errno.errorcode.get(e.errno, e.errno))


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("role")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--lhost", default="")
    p.add_argument("--lport", type=int, default=0)
    p.add_argument("--send", type=int, default=5)
    p.add_argument("--expect", type=int, default=5)
    p.add_argument("--reply", type=int, default=2)
    p.add_argument("--close", default="close")
    p.add_argument("--close-delay", type=float, default=0.0)
    p.add_argument("--at", type=float, default=0.0)
    p.add_argument("--hold", type=float, default=5.0)
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--gap", type=float, default=1.2)
    p.add_argument("--backlog", type=int, default=8)
    p.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF on the accepted socket")
    p.add_argument("--read-delay", type=float, default=0.0, help="before the first read")
    p.add_argument("--read-chunk", type=int, default=65536)
    p.add_argument("--read-pause", type=float, default=0.0, help="between reads")
    p.add_argument("--keepalive", default="", help="IDLE,INTVL,CNT")
    p.add_argument("--syncnt", type=int, default=0)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=20.0)
    return p.parse_args()


def read_exact(c: socket.socket, n: int, a: argparse.Namespace) -> int:
    got = 0
    if a.read_delay:
        time.sleep(a.read_delay)
    while got < n:
        b = c.recv(min(a.read_chunk, n - got))
        if not b:
            break
        got += len(b)
        if a.read_pause:
            time.sleep(a.read_pause)
    return got


def read_eof(c: socket.socket) -> int:
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            return n
        n += len(b)


def finish(c: socket.socket, a: argparse.Namespace) -> None:
    """The close policy (see the module docstring)."""
    mode = a.close
    try:
        if mode == "close":
            time.sleep(a.close_delay)
        elif mode == "eof":
            res["eof_after"] = read_eof(c)
            note("eof")
            time.sleep(a.close_delay)
        elif mode == "half":
            time.sleep(a.close_delay)
            c.shutdown(socket.SHUT_WR)
            note("shutdown")
            res["eof_after"] = read_eof(c)
            note("eof")
        elif mode == "at":
            while time.time() < a.at:
                time.sleep(min(0.001, max(0.0, a.at - time.time())))
            c.shutdown(socket.SHUT_WR)
            note("shutdown")
            res["eof_after"] = read_eof(c)
            note("eof")
            time.sleep(0.2)
        elif mode == "abort":
            time.sleep(a.close_delay)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "poke":
            time.sleep(a.close_delay)
            c.sendall(b"poke")
            note("poked")
            res["after_poke"] = read_eof(c)
        elif mode == "idle":
            c.settimeout(a.hold)
            res["idle_recv"] = repr(c.recv(100))
    except OSError as e:
        res["close_error"] = ename(e)
        note("error", errno=ename(e))
    c.close()
    note("closed")


def exchange_client(c: socket.socket, a: argparse.Namespace) -> None:
    c.sendall(b"x" * a.send)
    note("sent", n=a.send)
    if a.reply:
        res["got"] = read_exact(c, a.reply, a)
        note("got", n=res["got"])


def exchange_server(c: socket.socket, a: argparse.Namespace) -> None:
    if a.rcvbuf:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    res.setdefault("got", []).append(read_exact(c, a.expect, a))
    note("got", n=res["got"][-1])
    if a.reply:
        c.sendall(b"y" * a.reply)
        note("sent", n=a.reply)


def make_client(a: argparse.Namespace) -> socket.socket:
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(a.timeout)
    if a.keepalive:
        idle, intvl, cnt = (int(x) for x in a.keepalive.split(","))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)
    if a.syncnt:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, a.syncnt)
    if a.lport:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.bind((a.lhost or "0.0.0.0", a.lport))
    return c


def listener(a: argparse.Namespace) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.host, a.port))
    s.listen(a.backlog)
    s.settimeout(a.timeout)
    return s


def role_server(a: argparse.Namespace) -> None:
    s = listener(a)
    print("listening", flush=True)
    for _ in range(a.n):
        try:
            c, peer = s.accept()
        except OSError as e:
            res["accept_error"] = ename(e)
            break
        c.settimeout(a.timeout)
        note("accepted", peer=f"{peer[0]}:{peer[1]}")
        try:
            exchange_server(c, a)
        except OSError as e:
            res["error"] = ename(e)
            note("error", errno=ename(e))
        finish(c, a)
    time.sleep(0.3)
    s.close()


def role_client(a: argparse.Namespace) -> None:
    for i in range(a.repeat):
        if i:
            time.sleep(a.gap)
        c = make_client(a)
        try:
            c.connect((a.host, a.port))
            note("connected", local=c.getsockname()[1])
            exchange_client(c, a)
        except OSError as e:
            res.setdefault("errors", []).append(ename(e))
            note("error", errno=ename(e))
            c.close()
            continue
        finish(c, a)


def role_simopen(a: argparse.Namespace) -> None:
    c = make_client(a)
    while time.time() < a.at:
        time.sleep(min(0.001, max(0.0, a.at - time.time())))
    try:
        c.connect((a.host, a.port))
        note("connected")
        c.sendall(b"hi")
        res["got"] = len(c.recv(100))
        time.sleep(0.3)
    except OSError as e:
        res["error"] = ename(e)
    finish(c, a)


def role_listen_only(a: argparse.Namespace) -> None:
    s = listener(a)
    print("listening", flush=True)
    time.sleep(a.sleep)
    s.close()
    note("closed")


def role_backlog_client(a: argparse.Namespace) -> None:
    socks = []
    for _ in range(a.n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if a.syncnt:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, a.syncnt)
        c.setblocking(False)
        c.connect_ex((a.host, a.port))
        socks.append(c)
        note("connecting", local=c.getsockname()[1])
        time.sleep(0.2)
    t0 = time.time()
    pending = set(range(a.n))
    results: dict[int, str] = {}
    while pending and time.time() - t0 < a.timeout:
        _, w, _ = select.select([], [socks[i] for i in pending], [], 0.2)
        for c in w:
            i = socks.index(c)
            err = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            results[i] = "connected" if err == 0 else str(errno.errorcode.get(err, err))
            note("result", i=i, result=results[i])
            pending.discard(i)
    for i in pending:
        results[i] = "still pending"
    res["results"] = results
    time.sleep(0.3)
    for c in socks:
        c.close()
    note("closed")


def main() -> None:
    a = parse()
    res["role"] = a.role
    fam_ok = ":" not in a.host
    if not fam_ok:
        res["error"] = "IPv4 only"
    else:
        try:
            {"server": role_server, "client": role_client, "simopen": role_simopen,
             "listen_only": role_listen_only,
             "backlog_client": role_backlog_client}[a.role](a)
        except Exception as e:   # noqa: BLE001 - the orchestrator wants one JSON line
            res["exception"] = f"{type(e).__name__}: {e}"
    print(json.dumps(res), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
