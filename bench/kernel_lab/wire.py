#!/usr/bin/env python3
"""User-space 'netem': two TAP devices (one per namespace) bridged by this process.

Adapted from ../shared/corpus/tools/wire.py (netem is not available on these kernels).
Per direction ('ab' = frames from the host in nsa, the client, to nsb): delay, jitter,
random loss, netem-style reordering (a frame jumps the queue); and scripted drops:

    --drop ab:syn:1      drop the 1st SYN from a to b
    --drop ba:synack:2   drop the 2nd SYN+ACK from b to a
    --drop ab:finack:1   drop the 1st pure ACK from a that ACKs b's FIN (the last ACK)
    KIND: any syn synack ack (pure ACK) data fin rst finack; N counts frames of that kind

SIGUSR1 drops everything (cable pulled), SIGUSR2 passes again, SIGTERM ends and writes
the log (JSON: arguments, every drop / reorder with its time and TCP header fields).
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import subprocess
import time
from typing import Any

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02")
SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    for name in ("nsa", "ipa", "nsb", "ipb", "log"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--taps", default="tapC,tapS")
    for d in ("ab", "ba"):
        p.add_argument(f"--{d}-delay", type=float, default=0.0, help="ms")
        p.add_argument(f"--{d}-jitter", type=float, default=0.0, help="ms, uniform extra")
        p.add_argument(f"--{d}-loss", type=float, default=0.0)
        p.add_argument(f"--{d}-reorder", type=float, default=0.0)
    p.add_argument("--drop", action="append", default=[], help="DIR:KIND:N")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-seconds", type=float, default=120)
    p.add_argument("--skip-first", type=int, default=0,
                   help="never drop randomly among the first N TCP frames per direction")
    return p.parse_args()


def open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def tcpinfo(fr: bytes) -> dict[str, Any] | None:
    if len(fr) < 34 or struct.unpack("!H", fr[12:14])[0] != 0x0800 or fr[23] != 6:
        return None
    ihl = (fr[14] & 15) * 4
    tot = struct.unpack("!H", fr[16:18])[0]
    t = 14 + ihl
    sp, dp, seq, ack = struct.unpack("!HHII", fr[t:t + 12])
    off = (fr[t + 12] >> 4) * 4
    src = ".".join(map(str, fr[26:30]))
    dst = ".".join(map(str, fr[30:34]))
    return dict(src=f"{src}:{sp}", dst=f"{dst}:{dp}", seq_abs=seq, ack_abs=ack,
                flags=fr[t + 13], len=tot - ihl - off)


def kinds(ti: dict[str, Any], peer_fin_end: int | None) -> set[str]:
    fl, n = ti["flags"], ti["len"]
    out = {"any"}
    if fl & SYN:
        out.add("synack" if fl & ACK else "syn")
    if fl & FIN:
        out.add("fin")
    if fl & RST:
        out.add("rst")
    if n > 0:
        out.add("data")
    if fl & (SYN | FIN | RST) == 0 and fl & ACK and n == 0:
        out.add("ack")
        if peer_fin_end is not None and ti["ack_abs"] == peer_fin_end:
            out.add("finack")
    return out


def main() -> None:
    a = parse_args()
    rnd = random.Random(a.seed)
    tapa, tapb = a.taps.split(",")
    fa, fb = open_tap(tapa), open_tap(tapb)
    ips = (a.ipa, a.ipb)
    for (tap, ns, ip, mac) in ((tapa, a.nsa, a.ipa, MACS[0]), (tapb, a.nsb, a.ipb, MACS[1])):
        sh("ip", "link", "set", tap, "address", mac)
        sh("ip", "link", "set", tap, "netns", ns)
        sh("ip", "-n", ns, "addr", "add", ip, "dev", tap)
        sh("ip", "-n", ns, "link", "set", tap, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # static neighbours: no ARP inside the TCP exchange
    sh("ip", "-n", a.nsa, "neigh", "replace", ips[1].split("/")[0], "lladdr", MACS[1],
       "dev", tapa, "nud", "permanent")
    sh("ip", "-n", a.nsb, "neigh", "replace", ips[0].split("/")[0], "lladdr", MACS[0],
       "dev", tapb, "nud", "permanent")
    cfg = {fa: ("ab", fb, a.ab_delay, a.ab_jitter, a.ab_loss, a.ab_reorder),
           fb: ("ba", fa, a.ba_delay, a.ba_jitter, a.ba_loss, a.ba_reorder)}
    rules: list[dict[str, Any]] = []
    for spec in a.drop:
        d, kind, n = spec.split(":")
        rules.append(dict(dir=d, kind=kind, n=int(n), seen=0, done=False))
    state = {"drop_all": False, "stop": False}
    t0 = time.time()
    log: dict[str, Any] = {"args": vars(a), "t0": t0, "events": [],
                           "counts": {"ab": {}, "ba": {}}}

    def ev(kind: str, d: str, info: dict[str, Any]) -> None:
        log["counts"][d][kind] = log["counts"][d].get(kind, 0) + 1
        if len(log["events"]) < 20000:
            log["events"].append(dict(t=round(time.time() - t0, 6), wall=time.time(),
                                      kind=kind, dir=d, **info))

    def on_usr1(*_: object) -> None:
        state["drop_all"] = True
        log["events"].append(dict(t=round(time.time() - t0, 6), kind="CABLE_PULLED"))

    def on_usr2(*_: object) -> None:
        state["drop_all"] = False
        log["events"].append(dict(t=round(time.time() - t0, 6), kind="CABLE_RESTORED"))

    def on_term(*_: object) -> None:
        state["stop"] = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
    signal.signal(signal.SIGTERM, on_term)
    q: list[tuple[float, int, int, bytes]] = []
    n = 0
    tcpn = {"ab": 0, "ba": 0}
    fin_end: dict[str, int | None] = {"ab": None, "ba": None}   # seq after each side's FIN
    with open(a.log + ".ready", "w") as f:
        f.write(str(os.getpid()))
    while not state["stop"] and time.time() - t0 < a.max_seconds:
        now = time.time()
        while q and q[0][0] <= now:
            _, _, dfd, fr = heapq.heappop(q)
            os.write(dfd, fr)
        to = max(0.0, min(0.05, (q[0][0] - now) if q else 0.05))
        try:
            r, _, _ = select.select([fa, fb], [], [], to)
        except InterruptedError:
            continue
        for fd in r:
            fr = os.read(fd, 65536)
            d, dfd, delay, jitter, loss, reo = cfg[fd]
            ti = tcpinfo(fr)
            if state["drop_all"]:
                ev("cable_drop", d, ti or {"ethertype": fr[12:14].hex()})
                continue
            if ti is None:
                os.write(dfd, fr)
                continue
            other = "ba" if d == "ab" else "ab"
            if ti["flags"] & FIN:
                fin_end[d] = (ti["seq_abs"] + ti["len"] + 1) & 0xFFFFFFFF
            ks = kinds(ti, fin_end[other])
            tcpn[d] += 1
            dropped = False
            for rule in rules:
                if rule["dir"] == d and rule["kind"] in ks and not rule["done"]:
                    rule["seen"] += 1
                    if rule["seen"] == rule["n"]:
                        rule["done"] = True
                        dropped = True
            if dropped:
                ev("rule_drop", d, ti)
                continue
            if loss and tcpn[d] > a.skip_first and rnd.random() < loss:
                ev("loss_drop", d, ti)
                continue
            if reo and rnd.random() < reo:
                ev("reorder_jump", d, ti)
                os.write(dfd, fr)        # sent now: overtakes the queued frames
                continue
            wait = (delay + (rnd.uniform(0, jitter) if jitter else 0.0)) / 1000.0
            if wait > 0:
                n += 1
                heapq.heappush(q, (time.time() + wait, n, dfd, fr))
            else:
                os.write(dfd, fr)
    log["duration"] = time.time() - t0
    with open(a.log, "w") as f:
        json.dump(log, f, indent=1)


if __name__ == "__main__":
    main()
