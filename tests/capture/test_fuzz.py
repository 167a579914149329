"""Mutation fuzzing: any mangled capture reads (maybe with warnings) or raises CaptureError.

Seeds are every corpus file plus a few hand-made pcap/pcapng files (so pcapng framing is
mangled too even without the corpus). Mutations, from one fixed seed: bit flips, cuts,
length fields set to extremes, header-byte scribbles, inserted/deleted bytes, splices.
Each case has a time budget (SIGALRM) and a memory budget (tracemalloc peak). The normal
suite runs ``DEFAULT_CASES``; ``SYNACK_FUZZ_CASES=N`` runs N (long mode) and
``SYNACK_FUZZ_SEED=S`` picks another fixed seed.
"""

from __future__ import annotations

import os
import random
import signal
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from core.capture import CaptureIndex, read_capture
from core.errors import CaptureError
from tests.capture import builders as b
from tests.conftest import CORPUS

DEFAULT_CASES = 2100
SECONDS_PER_CASE = 2.0
EXTREMES = (0, 1, 3, 11, 12, 15, 16, 17, 28, 32, 0xFFFF, 0x10000, 0x40000, 0x40001,
            0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF)


def synthetic_seeds() -> dict[str, bytes]:
    frames = b.handshake()
    v6 = b.ether(b.ipv6("2001:db8::1", "2001:db8::2", b.tcp(), ext=[(0, b"")]), b.ETH_IPV6)
    vlan = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(options=b"\x02\x04\x05\xb4")),
                   vlans=[0x88A8, 0x8100])
    return {
        "pcap-be-nano": b.pcap(frames + [v6, vlan], big=True, nano=True),
        "pcap-null": b.pcap([b.null(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp()), 2)], link=0),
        "pcapng-multi": b"".join([
            b.shb(), b.idb(1), b.idb(113, options=b.option(9, b"\x89")),
            *(b.epb(f, i % 1, 1000 * i) for i, f in enumerate(frames)),
            b.epb(b.sll(b.ipv4("10.0.0.3", "10.0.0.4", b.tcp())), 1, 5),
            b.spb(frames[0]), b.opb(frames[1], 0, 9), b.block(0xBAD, b"x" * 9)]),
        "pcapng-be-2sections": b"".join([
            b.shb(True), b.idb(1, big=True), b.epb(vlan, big=True), b.epb(v6, big=True),
            b.shb(), b.idb(101), b.epb(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp()))]),
    }


def seeds() -> dict[str, bytes]:
    out = synthetic_seeds()
    if CORPUS.is_dir():
        for path in sorted(CORPUS.glob("*/*.pcap*")):
            out[str(path.relative_to(CORPUS))] = path.read_bytes()
    return out


def _offsets(data: bytes) -> list[tuple[int, str]]:
    """Record/block starts of a (valid) seed, with the format, for length mutations."""
    out = []
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        off, order = 0, "<"
        while off + 12 <= len(data):
            if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
                order = ">" if data[off + 8:off + 12] == b"\x1a\x2b\x3c\x4d" else "<"
            out.append((off, "ng" + order))
            length = struct.unpack_from(order + "I", data, off + 4)[0]
            if length < 12:
                break
            off += length
    else:
        order = ">" if data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d") else "<"
        off = 24
        while off + 16 <= len(data):
            out.append((off, "pcap" + order))
            off += 16 + struct.unpack_from(order + "I", data, off + 8)[0]
    return out


def mutate(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    buf = bytearray(data)
    kind = rnd.choice(["flip", "flip", "cut", "length", "length", "scribble", "insert",
                       "delete", "splice"])
    if kind == "flip":
        for _ in range(rnd.randint(1, 8)):
            i = rnd.randrange(len(buf))
            buf[i] ^= 1 << rnd.randrange(8)
    elif kind == "cut":
        del buf[rnd.randrange(len(buf) + 1):]
    elif kind == "length":
        starts = _offsets(data)
        if not starts:
            return mutate(data, rnd)
        off, fmt = rnd.choice(starts)
        order = fmt[-1]
        fields = [8, 12] if fmt.startswith("pcap") else [4, 20, 24, 8]
        if fmt.startswith("ng") and rnd.random() < 0.3:
            length = struct.unpack_from(order + "I", data, off + 4)[0]
            fields = [length - 4]                       # the trailing length
        field = rnd.choice(fields)
        if off + field + 4 <= len(buf):
            struct.pack_into(order + "I", buf, off + field, rnd.choice(EXTREMES))
        if rnd.random() < 0.2 and off + 16 <= len(buf):   # also an IDB-ish 16-bit field
            struct.pack_into(order + "H", buf, off + 12, rnd.choice((0, 1, 0xFFFF)))
    elif kind == "scribble":
        starts = _offsets(data)
        if starts:
            off, _ = rnd.choice(starts)
            for _ in range(rnd.randint(1, 6)):
                i = off + rnd.randrange(16, 100)
                if i < len(buf):
                    buf[i] = rnd.choice((0, 0xFF, 0x45, 0x60, 0x06, 0x81, rnd.randrange(256)))
    elif kind == "insert":
        i = rnd.randrange(len(buf) + 1)
        buf[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 40)))
    elif kind == "delete":
        i = rnd.randrange(len(buf))
        del buf[i:i + rnd.randint(1, 40)]
    else:
        i, j = sorted(rnd.randrange(len(buf)) for _ in range(2))
        k = rnd.randrange(len(buf))
        buf[k:k] = buf[i:j][:5000]
    return bytes(buf), kind


@contextmanager
def time_budget(seconds: float, what: str) -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"over {seconds} s: {what}")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_invariants(ix: CaptureIndex, size: int) -> None:
    p = ix.packets
    assert len(ix) <= ix.frames
    if len(ix):
        assert int((p["data_offset"] + p["caplen"]).max()) <= size
        assert bool(np.all(p["tcp_offset"].astype(np.int64) + 20 <= p["caplen"]))
        assert int(max(p["src"].max(), p["dst"].max())) < len(ix.addresses)
        streams = np.unique(p["stream"])
        assert list(streams) == list(range(streams.size))
        assert bool(np.all(np.diff(p["frame"].astype(np.int64)) > 0))
        ix.record_bytes(len(ix) - 1)
    assert ix.non_tcp + ix.fragments + ix.malformed + ix.truncated + ix.unsupported + \
        len(ix) == ix.frames


def test_fuzz_mutations_read_or_raise_capture_error(tmp_path: Path) -> None:
    cases = int(os.environ.get("SYNACK_FUZZ_CASES", DEFAULT_CASES))
    rnd = random.Random(int(os.environ.get("SYNACK_FUZZ_SEED", "20261121")))
    pool = seeds()
    names = sorted(pool)
    path = tmp_path / "fuzz.cap"
    outcome = {"ok": 0, "error": 0}
    started = time.perf_counter()
    tracemalloc.start()
    try:
        for case in range(cases):
            name = names[case % len(names)]
            data, kind = mutate(pool[name], rnd)
            path.write_bytes(data)
            what = f"case {case}: {kind} of {name} ({len(data)} bytes)"
            tracemalloc.reset_peak()
            with time_budget(SECONDS_PER_CASE, what):
                try:
                    ix = read_capture(path)
                except CaptureError as exc:
                    assert exc.path == str(path) and 0 <= exc.offset <= max(len(data), 1), what
                    assert "internal" not in exc.problem, f"{what}: {exc}"
                    outcome["error"] += 1
                else:
                    check_invariants(ix, len(data))
                    outcome["ok"] += 1
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < 64 * len(data) + 32 * 2**20, f"{what}: peak {peak} bytes"
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    print(f"fuzz: {cases} cases in {elapsed:.1f} s: {outcome}")
    assert outcome["ok"] > cases // 10 and outcome["error"] > cases // 10


@pytest.mark.parametrize("mangle", [
    lambda d: d[:24] + b"\x00" * (len(d) - 24),           # records of zero length
    lambda d: d[:24] + b"\xff" * (len(d) - 24),           # absurd lengths everywhere
    lambda d: d + d[24:] * 3,                             # many records
])
def test_degenerate_pcaps(tmp_path: Path, mangle: Callable[[bytes], bytes]) -> None:
    path = tmp_path / "d.pcap"
    path.write_bytes(mangle(b.pcap(b.handshake() * 4)))
    with time_budget(SECONDS_PER_CASE, "degenerate"):
        try:
            check_invariants(read_capture(path), path.stat().st_size)
        except CaptureError:
            pass
