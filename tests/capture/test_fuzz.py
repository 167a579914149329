"""Mutation fuzzing: any mangled capture reads (maybe with warnings) or raises CaptureError.

Seeds are every corpus file plus a few hand-made pcap/pcapng files (so pcapng framing is
mangled too even without the corpus). Mutations, from one fixed seed: bit flips, cuts,
length fields set to extremes, header-byte scribbles, inserted/deleted bytes, splices.
Each case has a time budget (SIGALRM) and a memory budget (tracemalloc peak). The normal
suite runs ``DEFAULT_CASES``; ``SYNACK_FUZZ_LONG=1`` runs ``LONG_CASES`` (long mode: every
failure is collected and a summary printed instead of stopping at the first);
``SYNACK_FUZZ_CASES=N`` runs N and ``SYNACK_FUZZ_SEED=S`` picks another fixed seed.

Shapes from issue 11 are in the seeds and mutations: timestamp extremes (if_tsresol,
if_tsoffset, stamps past 2262, zero), IP lengths of 0 (TSO) with any original length,
VLAN stacks deeper than tshark decodes; every other case is read under a file name that
is not UTF-8, and every ``NON_REGULAR_EVERY`` cases a FIFO, a device or a directory must
be refused at once. Every ``REPLAY_EVERY``-th file that reads is also analysed and
replayed (``stream_rows``) and listed as ``synack streams`` writes it (text and JSON).
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
from core.replay.report import stream_rows
from core.streams.stream_output import row_json, table_lines
from core.streams.stream_table import stream_table
from tests.capture import builders as b
from tests.conftest import CORPUS

DEFAULT_CASES = 2100
LONG_CASES = 100_000
NON_REGULAR_EVERY = 500
REPLAY_EVERY = 4
REPLAY_MAX_PACKETS = 3000
SECONDS_PER_CASE = 2.0
STAMPS = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xF4240, 0x3B9ACA00)
EXTREMES = (0, 1, 3, 11, 12, 15, 16, 17, 28, 32, 0xFFFF, 0x10000, 0x40000, 0x40001,
            0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF)


def synthetic_seeds() -> dict[str, bytes]:
    frames = b.handshake()
    v6 = b.ether(b.ipv6("2001:db8::1", "2001:db8::2", b.tcp(), ext=[(0, b"")]), b.ETH_IPV6)
    vlan = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(options=b"\x02\x04\x05\xb4")),
                   vlans=[0x88A8, 0x8100])
    tso = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(flags=0x18, payload=b"x" * 30),
                         total=0))
    tso6 = b.ether(b.ipv6("2001:db8::1", "2001:db8::2", b.tcp(flags=0x18, payload=b"y" * 9),
                          plen=0), b.ETH_IPV6)
    deep = [b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp()), vlans=[0x8100, 0x88A8] * k)
            for k in (2, 10, 11, 40)]
    ns9, bin2 = b.option(9, b"\x09"), b.option(9, b"\x80")
    offset = b.option(14, struct.pack("<q", -2**40))
    return {
        "pcapng-times": b"".join([
            b.shb(), b.idb(1, options=ns9), b.idb(1, options=bin2 + offset), b.idb(1),
            b.epb(frames[0], 0, 2**63 + 7), b.epb(frames[1], 1, 2**64 - 1),
            b.epb(frames[2], 2, 9_500_000_000 * 10**6), b.epb(frames[3], 0, 0),
            b.epb(frames[4], 2, 0)]),
        "pcap-tso": b.pcap([(tso, 0xFFFFFFFF), (tso, 1500), tso, (tso, 20), (tso6, 0xFFFFFFF0),
                            (tso6, 9000), tso6]),
        "pcap-vlan-deep": b.pcap(deep + frames),
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
                       "delete", "splice", "stamp", "iplen0"])
    if kind == "stamp":
        starts = _offsets(data)
        if not starts:
            return mutate(data, rnd)
        off, fmt = rnd.choice(starts)
        fields = [0, 4] if fmt.startswith("pcap") else [12, 16]
        value = rnd.choice(STAMPS)
        if off + max(fields) + 4 <= len(buf):
            struct.pack_into(fmt[-1] + "I", buf, off + rnd.choice(fields), value)
    elif kind == "iplen0":
        hits = [m for m in (buf.find(b"\x45\x00", rnd.randrange(len(buf))),
                            buf.find(b"\x60\x00\x00\x00", rnd.randrange(len(buf)))) if m >= 0]
        if not hits:
            return mutate(data, rnd)
        at = rnd.choice(hits)
        field = at + (2 if buf[at] == 0x45 else 4)
        buf[field:field + 2] = b"\x00\x00"
    elif kind == "flip":
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


def _non_regular(tmp_path: Path, case: int) -> str:
    choice = case // NON_REGULAR_EVERY % 3
    if choice == 0:
        fifo = tmp_path / f"fifo-{case}"
        os.mkfifo(fifo)
        return str(fifo)
    if choice == 1 and os.path.exists("/dev/zero"):
        return "/dev/zero"
    return str(tmp_path)


class _Stats:
    """What a run measured, for the long mode's summary."""

    def __init__(self) -> None:
        self.outcome = {"ok": 0, "error": 0, "refused": 0, "replayed": 0}
        self.failures: list[str] = []
        self.slowest = (0.0, "")
        self.peak = (0, 0, "")             # bytes, file size, case
        self.ratio = (0.0, "")             # peak / size over files of at least 64 KiB

    def measured(self, seconds: float, peak: int, size: int, what: str) -> None:
        if seconds > self.slowest[0]:
            self.slowest = (seconds, what)
        if peak > self.peak[0]:
            self.peak = (peak, size, what)
        if size >= 65536 and peak / size > self.ratio[0]:
            self.ratio = (peak / size, what)

    def summary(self, cases: int, elapsed: float) -> str:
        return (f"fuzz: {cases} cases in {elapsed:.1f} s: {self.outcome}; "
                f"{len(self.failures)} failures; slowest case {self.slowest[0]:.3f} s "
                f"({self.slowest[1]}); peak traced memory {self.peak[0] / 2**20:.1f} MiB "
                f"({self.peak[2]}); largest peak/size over files >= 64 KiB "
                f"{self.ratio[0]:.2f}x ({self.ratio[1]})")


def _one_case(path: Path, data: bytes, what: str, stats: _Stats, replay: bool) -> int:
    """Read (and maybe replay) one file; returns the read's traced memory peak.

    The replay runs untraced: tracemalloc slows Python-heavy code tenfold, and the memory
    budget is the reader's."""
    tracemalloc.start()
    try:
        with time_budget(SECONDS_PER_CASE, what):
            try:
                ix = read_capture(path)
            except CaptureError as exc:
                assert exc.path == str(path) and 0 <= exc.offset <= max(len(data), 1), what
                assert "internal" not in exc.problem, f"{what}: {exc}"
                stats.outcome["error"] += 1
                return tracemalloc.get_traced_memory()[1]
            check_invariants(ix, len(data))
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    stats.outcome["ok"] += 1
    if replay and 0 < len(ix) <= REPLAY_MAX_PACKETS:
        with time_budget(SECONDS_PER_CASE, f"{what}, replaying"):
            stream_rows(ix)
            table = stream_table(ix)
            list(table_lines(table))
            list(row_json(table))
        stats.outcome["replayed"] += 1
    return peak


def test_fuzz_mutations_read_or_raise_capture_error(tmp_path: Path) -> None:
    long_mode = os.environ.get("SYNACK_FUZZ_LONG", "") not in ("", "0")
    cases = int(os.environ.get("SYNACK_FUZZ_CASES", LONG_CASES if long_mode else DEFAULT_CASES))
    rnd = random.Random(int(os.environ.get("SYNACK_FUZZ_SEED", "20261121")))
    pool = seeds()
    names = sorted(pool)
    paths = (tmp_path / "fuzz.cap", tmp_path / os.fsdecode(b"fuzz-\xff\xe9.cap"))
    stats = _Stats()
    started = time.perf_counter()
    for case in range(cases):
        if case % NON_REGULAR_EVERY == NON_REGULAR_EVERY - 1:
            special = _non_regular(tmp_path, case)
            with time_budget(SECONDS_PER_CASE, f"case {case}: {special}"):
                with pytest.raises(CaptureError, match="not a regular file"):
                    read_capture(special)
            stats.outcome["refused"] += 1
        name = names[case % len(names)]
        data, kind = mutate(pool[name], rnd)
        path = paths[case % 2]
        path.write_bytes(data)
        what = f"case {case}: {kind} of {name} ({len(data)} bytes)"
        begun = time.perf_counter()
        try:
            peak = _one_case(path, data, what, stats, case % REPLAY_EVERY == 0)
            assert peak < 64 * len(data) + 32 * 2**20, f"{what}: peak {peak} bytes"
        except Exception as exc:  # noqa: BLE001 - long mode collects every failure
            if not long_mode:
                raise
            stats.failures.append(f"{what}: {type(exc).__name__}: {exc}")
            continue
        stats.measured(time.perf_counter() - begun, peak, len(data), what)
    print(stats.summary(cases, time.perf_counter() - started))
    for failure in stats.failures[:50]:
        print("  ", failure)
    assert not stats.failures
    outcome = stats.outcome
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
