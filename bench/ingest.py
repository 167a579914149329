"""Ingest benchmark: how fast captures become a packet index, next to other readers.

Usage::

    .venv/bin/python bench/ingest.py [--packets 1000000] [--slice 100000] [--dir DIR]
                                     [--streams 100000] [--repeat 3] [--states] [--before DIR]
                                     [--no-commands]

Generates (once, cached in a temp dir) a capture of hundreds of TCP connections with
handshakes, data, ACKs, closes, SYN retransmissions and client-port reuse, as pcap and
pcapng, plus a slice of its first ``--slice`` packets. Then prints packets/s for our
index, scapy ``RawPcapReader`` + ``struct``, dpkt (if installed), scapy ``rdpcap`` (slice)
and ``tshark -T fields`` (slice, if installed), the ratio of ours to each, the index
memory per packet, the time to list the streams, and whether our tcp.stream ids agree
with tshark's on the slice. Generation time is not measured. Then (unless
``--no-commands``) ``bench/streams.py``: the whole ``synack streams`` command as a process
on that capture and on ``--streams`` one-SYN streams, next to a dpkt loop, ``tshark -z
conv,tcp`` and ``tcptrace -n``, with time, peak memory, ratios and issue 11's targets.
"""

from __future__ import annotations

import argparse
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.capture import list_streams, read_capture  # noqa: E402

GENERATOR_VERSION = 3
_ETH = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
_PAYLOAD = bytes(range(256)) * 6


class _Writer:
    """Writes the same packets as pcap and pcapng (and the first ``cut`` to slices)."""

    def __init__(self, base: Path, cut: int) -> None:
        self.cut = cut
        self.count = 0
        self.files = {k: open(base.with_suffix(k), "wb", buffering=1 << 22)
                      for k in (".pcap", ".pcapng", ".slice.pcap")}
        pcap_header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
        self.files[".pcap"].write(pcap_header)
        self.files[".slice.pcap"].write(pcap_header)
        shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
        idb = struct.pack("<IIHHI", 1, 20, 1, 0, 262144) + struct.pack("<I", 20)
        self.files[".pcapng"].write(shb + idb)

    def write(self, t_us: int, frame: bytes) -> None:
        n = len(frame)
        record = struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, n, n) + frame
        self.files[".pcap"].write(record)
        if self.count < self.cut:
            self.files[".slice.pcap"].write(record)
        pad = -n % 4
        total = 32 + n + pad
        self.files[".pcapng"].write(
            struct.pack("<IIIIIII", 6, total, 0, t_us >> 32, t_us & 0xFFFFFFFF, n, n)
            + frame + bytes(pad) + struct.pack("<I", total))
        self.count += 1

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def _tcp(src: int, sport: int, dst: int, dport: int, seq: int, ack: int, flags: int,
         length: int, syn_opts: bool = False) -> bytes:
    opts = (b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + bytes(8) + b"\x01\x03\x03\x07") if syn_opts \
        else (b"\x01\x01\x08\x0a" + bytes(8))
    hdr_len = 20 + len(opts)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + hdr_len + length, 0, 0x4000, 64, 6, 0,
                     src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (hdr_len // 4) << 4, flags, 502, 0, 0) + opts
    return _ETH + ip + tcp + _PAYLOAD[:length]


def generate(base: Path, packets: int, cut: int, seed: int = 7) -> None:
    """Hundreds of interleaved connections: handshake, request, bulk data, ACKs, close."""
    rnd = random.Random(seed)
    out = _Writer(base, cut)
    t_us = 1_700_000_000_000_000
    conns: list[dict[str, int]] = []
    next_port = 30000
    reused: list[int] = []
    while out.count < packets:
        while len(conns) < 48:
            if reused and rnd.random() < 0.3:
                port = reused.pop(0)              # client port reuse: new stream in tshark
            else:
                port, next_port = next_port, next_port + 1
            conns.append({"c": 0x0A000000 | rnd.randrange(1, 250), "s": 0x0A010000 | 80,
                          "p": port, "cs": rnd.getrandbits(32), "ss": rnd.getrandbits(32),
                          "state": 0, "left": rnd.randrange(100, 5000)})
        c = rnd.choice(conns)
        cli, srv, port = c["c"], c["s"], c["p"]
        frames: list[bytes] = []
        if c["state"] == 0:
            syn = _tcp(cli, port, srv, 80, c["cs"], 0, 0x02, 0, True)
            frames = [syn, syn] if rnd.random() < 0.05 else [syn]     # SYN retransmission
            frames += [_tcp(srv, 80, cli, port, c["ss"], c["cs"] + 1, 0x12, 0, True),
                       _tcp(cli, port, srv, 80, c["cs"] + 1, c["ss"] + 1, 0x10, 0),
                       _tcp(cli, port, srv, 80, c["cs"] + 1, c["ss"] + 1, 0x18, 120)]
            c["cs"] += 121
            c["ss"] += 1
            c["state"] = 1
        elif c["left"] > 0:
            for _ in range(2):
                size = 1448 if rnd.random() < 0.5 else rnd.randrange(1, 1449)
                frames.append(_tcp(srv, 80, cli, port, c["ss"], c["cs"], 0x10, size))
                c["ss"] += size
            frames.append(_tcp(cli, port, srv, 80, c["cs"], c["ss"], 0x10, 0))
            c["left"] -= 3
        else:
            frames = [_tcp(srv, 80, cli, port, c["ss"], c["cs"], 0x11, 0),
                      _tcp(cli, port, srv, 80, c["cs"], c["ss"] + 1, 0x11, 0),
                      _tcp(srv, 80, cli, port, c["ss"] + 1, c["cs"] + 1, 0x10, 0)]
            conns.remove(c)
            reused.append(port)
        for frame in frames:
            t_us += rnd.randrange(1, 120)
            out.write(t_us, frame)
    out.close()


def cached_files(packets: int, cut: int, folder: Path) -> dict[str, Path]:
    base = folder / f"ingest-{packets}-{cut}-v{GENERATOR_VERSION}"
    files = {k: base.with_suffix(k) for k in (".pcap", ".pcapng", ".slice.pcap")}
    if not all(p.exists() for p in files.values()):
        print(f"generating {packets} packets in {folder} (not timed) ...", flush=True)
        generate(base, packets, cut)
    return files


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


def ours(path: Path) -> int:
    return read_capture(path).frames


def scapy_raw_struct(path: Path) -> int:
    from scapy.utils import RawPcapReader

    fields = struct.Struct("!HHIIBBH").unpack_from
    count = 0
    for data, _meta in RawPcapReader(str(path)):
        if data[12:14] == b"\x08\x00":
            ihl = (data[14] & 15) * 4
            fields(data, 14 + ihl)
        count += 1
    return count


def dpkt_reader(path: Path) -> int:
    import dpkt

    count = 0
    with open(path, "rb") as f:
        reader = dpkt.pcapng.Reader(f) if path.suffix == ".pcapng" else dpkt.pcap.Reader(f)
        for _ts, buf in reader:
            tcp = dpkt.ethernet.Ethernet(buf).data.data
            fields = (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.win)
            count += len(fields) // 6
    return count


def scapy_rdpcap(path: Path) -> int:
    import scapy.layers.inet  # noqa: F401  (binds Ether/IP/TCP: packets are dissected)
    from scapy.utils import rdpcap

    return len(rdpcap(str(path)))


def tshark_fields(path: Path) -> list[int]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e",
                          "frame.number", "-e", "tcp.stream"],
                         capture_output=True, text=True, check=True).stdout
    return [int(line.split("\t")[1]) for line in out.splitlines() if "\t" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "synack-bench")
    parser.add_argument("--streams", type=int, default=100_000,
                        help="one-SYN streams of the second capture of the command figures")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast commands")
    parser.add_argument("--states", action="store_true",
                        help="also time synack streams --states (a replay per stream)")
    parser.add_argument("--before", type=Path, help="older code to compare (bench/streams.py)")
    parser.add_argument("--no-commands", action="store_true",
                        help="only the reader figures, not the whole commands")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    files = cached_files(args.packets, min(args.slice, args.packets), args.dir)
    size_mb = files[".pcap"].stat().st_size / 1e6
    print(f"capture: {files['.pcap']} ({size_mb:.0f} MB, {args.packets} packets); "
          f"slice: {args.slice} packets")

    results: list[tuple[str, float, str]] = []

    def run(label: str, fn: Callable[[Path], int], path: Path, repeat: int = 1) -> None:
        best = min(_timed(lambda: fn(path)) for _ in range(repeat))
        results.append((label, best[1] / best[0], f"{best[1]} pkts in {best[0]:.2f} s"))
        print(f"  {label:<34} {best[1] / best[0]:>12,.0f} pkt/s   ({results[-1][2]})",
              flush=True)

    print("readers (packets/s):")
    first = _timed(lambda: ours(files[".pcap"]))
    results.append(("ours, pcap, first call", first[1] / first[0], ""))
    print(f"  {'ours, pcap, first call':<34} {first[1] / first[0]:>12,.0f} pkt/s")
    run("ours, pcap (best of 3)", ours, files[".pcap"], 3)
    run("ours, pcapng (best of 3)", ours, files[".pcapng"], 3)
    run("scapy RawPcapReader + struct", scapy_raw_struct, files[".pcap"])
    try:
        import dpkt  # noqa: F401
        run("dpkt (slice)", dpkt_reader, files[".slice.pcap"])
    except ImportError:
        print("  dpkt: not installed (.venv/bin/pip install dpkt), skipped")
    run("scapy rdpcap (slice)", scapy_rdpcap, files[".slice.pcap"])
    tshark = shutil.which("tshark")
    streams_tshark: list[int] = []
    if tshark:
        def tshark_count(path: Path) -> int:
            streams_tshark.extend(tshark_fields(path))
            return len(streams_tshark)
        run("tshark -T fields (slice)", tshark_count, files[".slice.pcap"])
    else:
        print("  tshark: not installed, skipped")

    ours_rate = results[1][1]
    print("ratio ours (pcap, best) / other:")
    for label, rate, _ in results[3:]:
        print(f"  {label:<34} {ours_rate / rate:>10.1f}x")
    print(f"  {'ours pcapng / ours pcap':<34} {results[2][1] / ours_rate:>10.2f}x")

    index = read_capture(files[".pcap"])
    per_packet = index.packets.nbytes / max(1, len(index))
    table = sum(len(a) + 50 for a in index.addresses)
    print(f"index memory: {per_packet:.0f} bytes/packet ({index.packets.nbytes / 1e6:.0f} MB "
          f"for {len(index)} packets) + {table} bytes of address table "
          f"({len(index.addresses)} addresses)")
    start = time.perf_counter()
    streams = list_streams(index)
    elapsed = time.perf_counter() - start
    print(f"list_streams: {len(streams)} streams in {elapsed * 1000:.0f} ms "
          f"(target < 1000 ms)")
    if streams_tshark:
        sliced = read_capture(files[".slice.pcap"])
        same = list(sliced.packets["stream"]) == streams_tshark
        print(f"tcp.stream vs tshark on the slice: {'identical' if same else 'DIFFERENT'} "
              f"({len(streams_tshark)} packets, {len(set(streams_tshark))} streams)")
    if not args.no_commands:
        from streams import BEFORE, model_figures, run_all
        if args.before:
            BEFORE.append(args.before.resolve())
        run_all(args.dir, args.packets, min(args.slice, args.packets), args.streams,
                args.repeat, args.states)
        model_figures(1_000_000)
    print(f"(generated files stay cached in {args.dir}; delete it to regenerate)")


if __name__ == "__main__":
    main()
