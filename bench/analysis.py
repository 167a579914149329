"""Analysis benchmark: tshark's TCP sequence analysis, ours next to tshark's own.

Usage::

    .venv/bin/python bench/analysis.py [--packets 1000000] [--long 100000] [--dir DIR]
                                       [--no-tshark]

Generates (once, cached in a temp dir) a pcap of hundreds of interleaved connections
(handshake, request, bulk data, ACKs, close, some SYN retransmissions and port reuse)
plus one long stream of ``--long`` data segments seen at the receiver, with 1% loss
before the capture point: duplicate ACKs, fast retransmissions, a few retransmissions
after a timeout, lost segments. Then prints packets/s of ``analyze_capture`` over the
whole file, the time of ``analyze_stream`` on the long stream, the label counts of that
stream, and ``tshark -2 -T fields -e tcp.analysis.flags`` on the same file (when tshark
is installed) with the ratio. Generation and indexing are not part of the timings.
"""

from __future__ import annotations

import argparse
import heapq
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.analysis import analyze_capture, analyze_stream  # noqa: E402
from core.capture import read_capture  # noqa: E402

GENERATOR_VERSION = 2
_ETH = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
_PAYLOAD = bytes(range(256)) * 6
_M = 0xFFFFFFFF


def _frame(src: int, sport: int, dst: int, dport: int, seq: int, ack: int, flags: int,
           length: int, window: int = 502, syn: bool = False) -> bytes:
    opts = (b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + bytes(8) + b"\x01\x03\x03\x07") if syn \
        else (b"\x01\x01\x08\x0a" + bytes(8))
    hdr = 20 + len(opts)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + hdr + length, 0, 0x4000, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & _M, ack & _M, (hdr // 4) << 4,
                      flags, window, 0, 0) + opts
    return _ETH + ip + tcp + _PAYLOAD[:length]


Event = tuple[int, int, bytes]      # (time in us, tie-breaker, frame)


def _background(rnd: random.Random, count: int, t0: int) -> list[Event]:
    """Interleaved short connections, as bench/ingest.py makes them."""
    out: list[Event] = []
    t = t0
    conns: list[dict[str, int]] = []
    next_port, reused = 30000, []
    while len(out) < count:
        while len(conns) < 300:
            port = reused.pop(0) if reused and rnd.random() < 0.3 else next_port
            next_port += port == next_port
            conns.append({"c": 0x0A000000 | rnd.randrange(1, 250), "p": port,
                          "cs": rnd.getrandbits(32), "ss": rnd.getrandbits(32),
                          "state": 0, "left": rnd.randrange(100, 5000)})
        c = rnd.choice(conns)
        cli, srv, port = c["c"], 0x0A010050, c["p"]
        frames: list[bytes] = []
        if c["state"] == 0:
            syn = _frame(cli, port, srv, 80, c["cs"], 0, 0x02, 0, 64240, True)
            frames = [syn, syn] if rnd.random() < 0.05 else [syn]
            frames += [_frame(srv, 80, cli, port, c["ss"], c["cs"] + 1, 0x12, 0, 65160, True),
                       _frame(cli, port, srv, 80, c["cs"] + 1, c["ss"] + 1, 0x10, 0),
                       _frame(cli, port, srv, 80, c["cs"] + 1, c["ss"] + 1, 0x18, 120)]
            c["cs"] += 121
            c["ss"] += 1
            c["state"] = 1
        elif c["left"] > 0:
            for _ in range(2):
                size = 1448 if rnd.random() < 0.5 else rnd.randrange(1, 1449)
                frames.append(_frame(srv, 80, cli, port, c["ss"], c["cs"], 0x10, size))
                c["ss"] += size
            frames.append(_frame(cli, port, srv, 80, c["cs"], c["ss"], 0x10, 0))
            c["left"] -= 3
        else:
            frames = [_frame(srv, 80, cli, port, c["ss"], c["cs"], 0x11, 0),
                      _frame(cli, port, srv, 80, c["cs"], c["ss"] + 1, 0x11, 0),
                      _frame(srv, 80, cli, port, c["ss"] + 1, c["cs"] + 1, 0x10, 0)]
            conns.remove(c)
            reused.append(port)
        for frame in frames:
            t += rnd.randrange(1, 12)
            out.append((t, len(out), frame))
    return out


def _long_stream(rnd: random.Random, segments: int, t0: int) -> list[Event]:
    """One bulk transfer seen at the receiver: 1% of data lost before the capture."""
    cli, srv, cport = 0x0A000001, 0x0A010001, 44000
    iss, irs, mss = rnd.getrandbits(32), rnd.getrandbits(32), 1448
    out: list[Event] = []
    t = t0

    def emit(at: int, frame: bytes) -> None:
        out.append((at, len(out) + 10**9, frame))

    emit(t, _frame(cli, cport, srv, 80, iss, 0, 0x02, 0, 64240, True))
    emit(t + 40, _frame(srv, 80, cli, cport, irs, iss + 1, 0x12, 0, 65160, True))
    emit(t + 80, _frame(cli, cport, srv, 80, iss + 1, irs + 1, 0x10, 0))
    t += 200
    rcv_nxt, buffered, unacked = 0, set(), 0
    resends: list[tuple[int, int, int]] = []
    dupacks: dict[int, int] = {}
    clock, sent = t, 0
    while sent < segments or resends:
        if resends and (sent >= segments or resends[0][0] <= clock):
            at, kind, k = heapq.heappop(resends)
        else:
            at, kind, k = clock, 0, sent
            clock += 12
            sent += 1
        if rnd.random() < 0.01:
            if kind == 0:
                continue                      # the third duplicate ACK brings it back
            heapq.heappush(resends, (at + 200_000, 2, k))   # retransmission lost: timeout
            clock = max(clock, at + 200_000)  # the window is full until then
            continue
        emit(at, _frame(srv, 80, cli, cport, irs + 1 + k * mss, iss + 1, 0x10, mss))
        if k == rcv_nxt:
            rcv_nxt += 1
            while rcv_nxt in buffered:
                buffered.discard(rcv_nxt)
                rcv_nxt += 1
            unacked += 1
            if unacked >= 2 or kind:
                emit(at + 20, _frame(cli, cport, srv, 80, iss + 1, irs + 1 + rcv_nxt * mss,
                                     0x10, 0, 3000))
                unacked = 0
        elif k > rcv_nxt:
            buffered.add(k)
            emit(at + 20, _frame(cli, cport, srv, 80, iss + 1, irs + 1 + rcv_nxt * mss,
                                 0x10, 0, 3000))
            n = dupacks[rcv_nxt] = dupacks.get(rcv_nxt, 0) + 1
            if n == 3:
                heapq.heappush(resends, (at + 2000, 1, rcv_nxt))  # fast retransmit, 1 RTT
    end = out[-1][0] + 100
    fin = irs + 1 + segments * mss
    emit(end, _frame(srv, 80, cli, cport, fin, iss + 1, 0x11, 0))
    emit(end + 40, _frame(cli, cport, srv, 80, iss + 1, fin + 1, 0x11, 0, 3000))
    emit(end + 80, _frame(srv, 80, cli, cport, fin + 1, iss + 2, 0x10, 0))
    return out


def generate(path: Path, packets: int, long: int, seed: int = 11) -> None:
    rnd = random.Random(seed)
    t0 = 1_700_000_000_000_000
    lossy = _long_stream(rnd, long, t0 + 5_000)
    events = lossy + _background(rnd, max(0, packets - len(lossy)), t0)
    events.sort()
    with open(path, "wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for t_us, _, frame in events:
            n = len(frame)
            f.write(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, n, n) + frame)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--long", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--no-tshark", action="store_true")
    args = ap.parse_args()
    path = args.dir / f"analysis-{args.packets}-{args.long}-v{GENERATOR_VERSION}.pcap"
    if not path.exists():
        print(f"generating {path} (not timed) ...", flush=True)
        generate(path, args.packets, args.long)
    index = read_capture(str(path))
    n = len(index)
    long_stream = int(np.bincount(index.packets["stream"]).argmax())
    start = time.perf_counter()
    streams = analyze_capture(index)
    whole = time.perf_counter() - start
    print(f"file: {path} ({n} TCP packets, {len(streams)} streams)")
    print(f"analyze_capture: {whole:.2f} s = {n / whole:,.0f} packets/s")
    best = min(_timed(lambda: analyze_stream(index, long_stream)) for _ in range(3))
    one = analyze_stream(index, long_stream)
    print(f"analyze_stream (stream {long_stream}, {len(one)} packets): {best * 1000:.0f} ms")
    print("  labels:", {k: v for k, v in one.counts().items() if v})
    tshark = shutil.which("tshark")
    if tshark and not args.no_tshark:
        cmd = [tshark, "-n", "-2", "-r", str(path), "-T", "fields", "-e", "tcp.analysis.flags"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_shark = time.perf_counter() - start
        print(f"tshark -2 -T fields -e tcp.analysis.flags: {t_shark:.1f} s = "
              f"{n / t_shark:,.0f} packets/s; ours is {t_shark / whole:.1f}x faster")
    else:
        print("tshark: not run")


def _timed(fn: object) -> float:
    assert callable(fn)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
