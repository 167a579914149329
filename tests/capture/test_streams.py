"""tcp.stream: Wireshark 4.0's rules, the vectorized assignment, and tshark itself."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.capture import read_capture
from core.capture.streams import StreamTracker, assign_streams, conversation_order
from tests.capture import builders as b

S, A, F, R = 0x02, 0x10, 0x01, 0x04
C, SRV = "10.0.0.1", "10.0.0.2"


def c2s(seq: int, ack: int, flags: int, length: int = 0, port: int = 1234) -> bytes:
    return b.ether(b.ipv4(C, SRV, b.tcp(port, 80, seq, ack, flags, payload=bytes(length))))


def s2c(seq: int, ack: int, flags: int, length: int = 0, port: int = 1234) -> bytes:
    return b.ether(b.ipv4(SRV, C, b.tcp(80, port, seq, ack, flags, payload=bytes(length))))


def full(isn: int, server_isn: int) -> list[bytes]:
    return [c2s(isn, 0, S), s2c(server_isn, isn + 1, S | A), c2s(isn + 1, server_isn + 1, A),
            c2s(isn + 1, server_isn + 1, F | A), s2c(server_isn + 1, isn + 2, A),
            s2c(server_isn + 1, isn + 2, F | A), c2s(isn + 2, server_isn + 2, A)]


# Expected streams were produced by tshark 4.0.17 (the corpus's version) on these frames.
CASES: dict[str, tuple[list[bytes], list[int]]] = {
    "reuse, same ISN after FIN": (full(100, 500) + full(100, 900), [0] * 14),
    "reuse, new ISN after FIN": (full(100, 500) + full(200, 900), [0] * 7 + [1] * 7),
    "SYN retransmission": ([c2s(100, 0, S), c2s(100, 0, S), s2c(500, 101, S | A),
                            c2s(101, 501, A)], [0, 0, 0, 0]),
    "new ISN while open": ([c2s(100, 0, S), s2c(500, 101, S | A), c2s(101, 501, A),
                            c2s(300, 0, S), c2s(101, 501, A)], [0, 0, 0, 1, 1]),
    "RST, then SYN with the same ISN": ([c2s(100, 0, S), s2c(0, 101, R | A), c2s(100, 0, S),
                                         s2c(500, 101, S | A)], [0, 0, 0, 0]),
    "RST, then SYN with a new ISN": ([c2s(100, 0, S), s2c(0, 101, R | A), c2s(150, 0, S),
                                      s2c(500, 151, S | A)], [0, 0, 1, 1]),
    "mid-stream, SYN at seq-1": ([c2s(101, 501, A, 10), c2s(100, 0, S)], [0, 0]),
    "mid-stream, other SYN": ([c2s(101, 501, A, 10), c2s(50, 0, S)], [0, 1]),
    "base from the reverse ACK": ([s2c(501, 101, A, 10), c2s(100, 0, S), c2s(77, 0, S)],
                                  [0, 0, 1]),
    "server's pure SYN after close": (full(100, 500) + [s2c(999, 0, S), c2s(5, 1000, S | A)],
                                      [0] * 7 + [1, 1]),
    "SYN/ACK moves the base": ([c2s(100, 0, S), s2c(500, 101, S | A), s2c(600, 101, S | A),
                                c2s(101, 601, A), s2c(700, 0, S)], [0, 0, 0, 0, 1]),
    "SYN/ACK moved base, same SYN": ([c2s(100, 0, S), s2c(500, 101, S | A),
                                      s2c(600, 101, S | A), s2c(600, 0, S)], [0, 0, 0, 0]),
    "SYN with data": ([c2s(100, 0, S, 5), c2s(100, 0, S), c2s(101, 0, S)], [0, 0, 1]),
    "FIN, then the same SYN": ([c2s(100, 0, S), s2c(500, 101, S | A), c2s(101, 501, F | A),
                                c2s(100, 0, S)], [0, 0, 0, 0]),
    "two ports interleaved": ([c2s(1, 0, S, port=1), c2s(7, 0, S, port=2),
                               s2c(9, 2, S | A, port=1), c2s(70, 0, S, port=2),
                               c2s(2, 10, A, port=1)], [0, 1, 0, 2, 0]),
}


@pytest.mark.parametrize("name", CASES)
def test_wireshark_4_0_rules(tmp_path: Path, name: str) -> None:
    frames, expected = CASES[name]
    path = tmp_path / "s.pcap"
    path.write_bytes(b.pcap(frames))
    assert list(read_capture(path).packets["stream"]) == expected


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_cases_against_the_installed_tshark(tmp_path: Path) -> None:
    """Re-derive the expectations above from whatever tshark is installed (4.0 here)."""
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout
    if " 4.0." not in version.splitlines()[0]:
        pytest.skip(f"the rules are pinned to tshark 4.0; found {version.splitlines()[0]}")
    for name, (frames, expected) in CASES.items():
        path = tmp_path / "s.pcap"
        path.write_bytes(b.pcap(frames))
        out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e",
                              "tcp.stream"], capture_output=True, text=True, check=True)
        assert [int(x) for x in out.stdout.split()] == expected, name


def _tracker_streams(src: list[int], sport: list[int], dst: list[int], dport: list[int],
                     flags: list[int], seq: list[int], ack: list[int],
                     analyzed: list[bool]) -> list[int]:
    t = StreamTracker()
    return [t.add(*row) for row in zip(src, sport, dst, dport, flags, seq, ack, analyzed,
                                       strict=True)]


packets = st.lists(st.tuples(
    st.sampled_from([(0, 1), (1, 0), (0, 0), (2, 0)]),    # (src, dst) address ids
    st.sampled_from([(1, 80), (80, 1), (2, 80), (80, 80)]),
    st.sampled_from([S, S | A, A, F | A, R, 0, S | F]),
    st.integers(0, 4), st.integers(0, 4), st.booleans()), max_size=60)


@given(packets)
def test_vectorized_streams_match_the_tracker(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    src = [r[0][0] for r in rows]
    dst = [r[0][1] for r in rows]
    sport = [r[1][0] for r in rows]
    dport = [r[1][1] for r in rows]
    flags = [r[2] for r in rows]
    seq = [r[3] for r in rows]
    ack = [r[4] for r in rows]
    analyzed = [r[5] for r in rows]
    expected = _tracker_streams(src, sport, dst, dport, flags, seq, ack, analyzed)
    ep_a = (np.array(src, np.uint64) << np.uint64(16)) | np.array(sport, np.uint64)
    ep_b = (np.array(dst, np.uint64) << np.uint64(16)) | np.array(dport, np.uint64)
    order, first = conversation_order(ep_a, ep_b)
    got = assign_streams(order, first, ep_a, ep_b, np.array(flags), np.array(seq, np.uint32),
                         np.array(ack, np.uint32), np.array(analyzed))
    assert list(got) == expected


@pytest.mark.parametrize("collide", ["all", "some"])
def test_conversation_order_survives_hash_collisions(monkeypatch: pytest.MonkeyPatch,
                                                    collide: str) -> None:
    """Force pairs onto shared hashes: the exact fallback must still group correctly."""
    from core.capture import streams

    def weak(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
        if collide == "all":
            return np.zeros_like(lo)
        return (lo + hi) << np.uint64(40)

    monkeypatch.setattr(streams, "_pair_hash", weak)
    rng = np.random.default_rng(5)
    ep_a = rng.integers(0, 6, 500).astype(np.uint64)
    ep_b = rng.integers(0, 6, 500).astype(np.uint64)
    order, first = conversation_order(ep_a, ep_b)
    lo, hi = np.minimum(ep_a, ep_b)[order], np.maximum(ep_a, ep_b)[order]
    groups = np.cumsum(first) - 1
    seen = set()
    for g in range(int(groups[-1]) + 1):
        members = groups == g
        pairs = set(zip(lo[members].tolist(), hi[members].tolist(), strict=True))
        assert len(pairs) == 1 and not pairs & seen
        seen |= pairs
        assert list(order[members]) == sorted(order[members])
