"""Scaling benchmark: does any stage a user waits for grow faster than the capture?

Usage::

    .venv/bin/python bench/scaling.py [--big] [--workload NAME ...] [--no-cli] [--dir DIR]

Builds (once, cached in ``DIR``, by default the temp dir's ``synack-bench`` as the other
benchmarks do) one stream of 10,000 and 100,000 packets (and 1,000,000 with ``--big``:
several minutes, files of 1.5 GB) of each workload:

- ``bulk``: bench/replay.py's long connection (1% of the data lost after the capture
  point: duplicate ACKs, fast retransmissions).
- ``descending``: every data segment but the first arrives in descending order, each
  held out of order until the first comes last (issue 11: RCV.NXT's bookkeeping was
  quadratic in this); a duplicate ACK every other segment.
- ``copies``: a pcapng with one interface per side, every packet seen on both, and
  nearly all of them identical (one data segment resent again and again, and the same
  duplicate ACK), without timestamps: one group of thousands of identical packets for
  core/analysis/duplicates.py's find_copies to pair.

Times each stage (best of 3 up to 100,000 packets, one run above): the index
(core.capture.read_capture), the analysis (core.analysis.analyze_stream), the replay
(core.replay.replay_stream) and, with a fresh interpreter, the whole
``synack trace FILE > /dev/null``. Prints the time at each size and the growth exponent
log(t2/t1)/log(n2/n1) between sizes: 1 is linear, 2 quadratic; exponents over 1.3 are
marked ``<-- super-linear`` unless the larger time is under 50 ms (then noise decides).
Generation is not timed.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import cached_stream  # noqa: E402

from core.analysis import analyze_stream  # noqa: E402
from core.capture import read_capture  # noqa: E402
from core.replay import replay_stream  # noqa: E402

T = TypeVar("T")
VERSION = 1
SIZES = (10_000, 100_000)
BIG = 1_000_000
FLAG = 1.3
NOISE = 0.05                      # seconds: below this an exponent is not flagged
_ETH = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
_M = 0xFFFFFFFF
CLI, SRV, CPORT, SPORT = 0x0A000001, 0x0A000002, 40000, 80


def _frame(client: bool, seq: int, ack: int, flags: int, length: int = 0) -> bytes:
    """An Ethernet/IPv4/TCP frame, no TCP options (so no timestamps) but MSS on a SYN."""
    src, sport, dst, dport = (CLI, CPORT, SRV, SPORT) if client else (SRV, SPORT, CLI, CPORT)
    opts = b"\x02\x04\x05\xb4" if flags & 0x02 else b""
    hdr = 20 + len(opts)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + hdr + length, 0, 0x4000, 64, 6, 0, src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & _M, ack & _M, (hdr // 4) << 4, flags,
                      65535, 0, 0) + opts
    return _ETH + ip + tcp + bytes(length)


class _Pcap:
    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb", buffering=1 << 22)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.count = 0

    def write(self, t_us: int, frame: bytes, interface: int = 0) -> None:
        n = len(frame)
        self.f.write(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, n, n) + frame)
        self.count += 1

    def close(self) -> None:
        self.f.close()


class _Pcapng(_Pcap):
    """pcapng with two Ethernet interfaces (microsecond timestamps)."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb", buffering=1 << 22)
        shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
        idb = struct.pack("<IIHHI", 1, 20, 1, 0, 262144) + struct.pack("<I", 20)
        self.f.write(shb + idb + idb)
        self.count = 0

    def write(self, t_us: int, frame: bytes, interface: int = 0) -> None:
        n = len(frame)
        pad = -n % 4
        total = 32 + n + pad
        self.f.write(struct.pack("<IIIIIII", 6, total, interface, t_us >> 32, t_us & _M, n, n)
                     + frame + bytes(pad) + struct.pack("<I", total))
        self.count += 1


def _descending(path: Path, packets: int) -> None:
    out = _Pcap(path)
    t = 1_700_000_000_000_000
    cs, ss, size = 0xFFF00000, 0x12345678, 100       # the client's numbers wrap 2**32

    def put(client: bool, seq: int, ack: int, flags: int, length: int = 0,
            gap: int = 20) -> None:
        nonlocal t
        t += gap
        out.write(t, _frame(client, seq, ack, flags, length))

    put(True, cs, 0, 0x02)
    put(False, ss, cs + 1, 0x12, gap=10_000)
    put(True, cs + 1, ss + 1, 0x10, gap=10_000)
    data = (packets - 7) * 2 // 3                  # a duplicate ACK every other segment
    first = cs + 1
    for i in range(data - 1, 0, -1):
        put(True, first + i * size, ss + 1, 0x18, size)
        if i % 2 == 0:
            put(False, ss + 1, first, 0x10, gap=5)
    put(True, first, ss + 1, 0x18, size)
    end = first + data * size
    put(False, ss + 1, end, 0x10, gap=200)
    put(True, end, ss + 1, 0x11, gap=1_000)
    put(False, ss + 1, end + 1, 0x11, gap=10_000)
    put(True, end + 1, ss + 2, 0x10, gap=10_000)
    out.close()


def _copies(path: Path, packets: int) -> None:
    """Interface 0 next to the client, 1 next to the server, 2 ms apart; all seen twice."""
    out = _Pcapng(path)
    t = 1_700_000_000_000_000
    cs, ss, size, delay = 1000, 5000, 100, 2_000
    pending: list[tuple[int, bytes, int]] = []

    def put(client: bool, seq: int, ack: int, flags: int, length: int = 0,
            gap: int = 50) -> None:
        nonlocal t
        t += gap
        frame = _frame(client, seq, ack, flags, length)
        while pending and pending[0][0] <= t:
            out.write(*pending.pop(0))
        out.write(t, frame, 0 if client else 1)
        pending.append((t + delay, frame, 1 if client else 0))

    put(True, cs, 0, 0x02)
    put(False, ss, cs + 1, 0x12, gap=10_000)
    put(True, cs + 1, ss + 1, 0x10, gap=10_000)
    put(True, cs + 1, ss + 1, 0x18, size)
    rounds = (packets - 14) // 4
    for _ in range(rounds):                       # the same two packets, over and over
        put(False, ss + 1, cs + 1, 0x10)          # a duplicate ACK (the data never arrives)
        put(True, cs + 1, ss + 1, 0x18, size)     # the data, resent
    put(False, ss + 1, cs + 1 + size, 0x10, gap=1_000)
    put(True, cs + 1 + size, ss + 1, 0x11, gap=1_000)
    put(False, ss + 1, cs + 2 + size, 0x11, gap=10_000)
    put(True, cs + 2 + size, ss + 2, 0x10, gap=10_000)
    for item in pending:
        out.write(*item)
    out.close()


WORKLOADS: dict[str, tuple[str, Callable[[Path, int], None] | None]] = {
    "bulk": (".pcap", None),
    "descending": (".pcap", _descending),
    "copies": (".pcapng", _copies),
}


def capture(folder: Path, workload: str, packets: int) -> Path:
    """The workload's capture of about ``packets`` packets, generated on first use."""
    suffix, make = WORKLOADS[workload]
    if make is None:
        return cached_stream(folder, packets)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"scaling-{workload}-{packets}-v{VERSION}{suffix}"
    if not path.exists():
        print(f"generating {workload} with {packets:,} packets (not timed) ...", flush=True)
        part = path.with_name(path.name + ".part")
        make(part, packets)
        part.rename(path)
    return path


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(path: Path, cli: bool) -> tuple[int, dict[str, float]]:
    """(packets, seconds per stage) for one capture."""
    index = read_capture(str(path))
    n = len(index)
    repeat = 3 if n <= 150_000 else 1
    out = {"index": best(lambda: read_capture(str(path)), repeat)}
    out["analysis"] = best(lambda: analyze_stream(index, 0), repeat)
    analysis = analyze_stream(index, 0)
    out["replay"] = best(lambda: replay_stream(index, 0, analysis), repeat)
    if cli:
        env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
        out["synack trace"] = best(lambda: subprocess.run(
            [sys.executable, "-m", "gui", "trace", str(path)], check=True, env=env,
            stdout=subprocess.DEVNULL), 1 if n > 150_000 else 2)
    return n, out


def pairs(values: Sequence[T]) -> list[tuple[T, T]]:
    return list(itertools.pairwise(values))


def _ms(t: float) -> str:
    return f"{t * 1e3:,.0f} ms" if t >= 0.1 else f"{t * 1e3:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help=f"also {BIG:,} packets")
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS),
                        help="only these (repeatable); default all")
    parser.add_argument("--no-cli", action="store_true", help="skip `synack trace`")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "synack-bench")
    args = parser.parse_args()
    sizes = SIZES + ((BIG,) if args.big else ())
    flagged: list[str] = []
    head = f"{'workload':<11} {'stage':<13}" + "".join(f"{s:>14,}" for s in sizes) \
        + "".join(f"   exp {a // 1000}k->{b // 1000}k" for a, b in pairs(sizes))
    rows: list[str] = []
    for workload in args.workload or list(WORKLOADS):
        results = [measure(capture(args.dir, workload, size), not args.no_cli) for size in sizes]
        counts = [n for n, _ in results]
        print(f"{workload}: {', '.join(f'{n:,}' for n in counts)} packets", flush=True)
        for stage in results[0][1]:
            times = [r[stage] for _, r in results]
            line = f"{workload:<11} {stage:<13}" + "".join(f"{_ms(t):>14}" for t in times)
            for (n1, n2), (t1, t2) in zip(pairs(counts), pairs(times), strict=True):
                exp = math.log(t2 / t1) / math.log(n2 / n1)
                mark = " <-- super-linear" if exp > FLAG and t2 >= NOISE else ""
                line += f"   {exp:>12.2f}{mark}"
                if mark:
                    flagged.append(f"{workload} / {stage}: exponent {exp:.2f} "
                                   f"({n1:,} -> {n2:,} packets)")
            rows.append(line)
            print(line, flush=True)
    print()
    print(head)
    for line in rows:
        print(line)
    print("\nsuper-linear: " + ("; ".join(flagged) if flagged else "none"))


if __name__ == "__main__":
    main()
