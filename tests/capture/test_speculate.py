"""The speculative parallel pcap walk gives exactly the sequential walk, whatever the file."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np
import pytest

from core.capture import read_capture, speculate
from core.capture.records import walk_records
from core.capture.source import Source
from tests.capture import builders as b


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 512 bytes, so that small test files take the speculative path; the
    sequential walks stop every 300 bytes and progress is told every 2 lock steps, so
    the pauses for progress are walked through too."""
    monkeypatch.setattr(speculate, "BLOCK", 512)
    monkeypatch.setattr(speculate, "WINDOW", 128)
    monkeypatch.setattr(speculate, "MIN_SIZE", 1024)
    monkeypatch.setattr(speculate, "SEQUENTIAL", 300)
    monkeypatch.setattr(speculate, "_TELL", 2)


def capture(rnd: random.Random, count: int, decoys: bool, jumbo: bool,
            chains: bool = False) -> bytes:
    """Records of varied sizes; payloads may hold copies of real record headers, or
    (``chains``) runs of empty fake records that pass the guesser's three-header test."""
    frames: list[bytes] = []
    fake = struct.pack("<IIII", 1_600_000_000, 5, 60, 60)
    if chains:
        fake = struct.pack("<IIII", 1_600_000_000, 5, 0, 0) * 6
    for i in range(count):
        size = rnd.choice((0, 1, 10, 100, 700, 1400)) if not jumbo or i % 7 else 3000
        payload = bytes(rnd.randrange(256) for _ in range(size))
        if decoys and size >= 100:
            at = rnd.randrange(size - len(fake))
            payload = payload[:at] + fake + payload[at + len(fake):]
        frames.append(b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(seq=i, payload=payload))))
    return b.pcap(frames)


def both_walks(path: Path, big: bool = False) -> tuple[tuple[list[int], int],
                                                        tuple[list[int], int]]:
    with Source(str(path)) as src:
        seq, stop = walk_records(src.raw, 24, src.size, big)
        fast, fast_stop = speculate.walk_pcap(src.raw, src.buf, 24, src.size, big, False,
                                              262144)
        result = (list(seq), stop), (fast.tolist(), fast_stop)
        del fast
    return result


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("decoys", [False, True])
@pytest.mark.parametrize("jumbo", [False, True])
def test_same_offsets_as_the_sequential_walk(tmp_path: Path, decoys: bool,
                                             jumbo: bool) -> None:
    rnd = random.Random(f"{decoys}{jumbo}")
    path = tmp_path / "s.pcap"
    path.write_bytes(capture(rnd, 300, decoys, jumbo))
    sequential, fast = both_walks(path)
    assert fast == sequential
    assert len(sequential[0]) == 300


@pytest.mark.usefixtures("small_blocks")
def test_wrong_guesses_are_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    guessed: list[list[int]] = []
    original = speculate._guess_starts

    def spy(*args: object) -> np.ndarray:  # type: ignore[type-arg]
        starts = original(*args)  # type: ignore[arg-type]
        guessed.append(starts.tolist())
        return starts

    monkeypatch.setattr(speculate, "_guess_starts", spy)
    path = tmp_path / "c.pcap"
    path.write_bytes(capture(random.Random(3), 300, True, False, chains=True))
    sequential, fast = both_walks(path)
    assert fast == sequential
    wrong = set(guessed[0]) - set(sequential[0])
    assert len(wrong) >= 5, "the decoy chains should have fooled some guesses"


@pytest.mark.usefixtures("small_blocks")
def test_mangled_files_walk_the_same(tmp_path: Path) -> None:
    rnd = random.Random(99)
    good = capture(rnd, 200, True, True)
    path = tmp_path / "m.pcap"
    for _ in range(150):
        data = bytearray(good)
        for _ in range(rnd.randint(1, 5)):
            i = rnd.randrange(24, len(data) - 4)
            if rnd.random() < 0.5:
                struct.pack_into("<I", data, i, rnd.choice((0, 16, 5000, 0xFFFFFFFF)))
            else:
                data[i] ^= 1 << rnd.randrange(8)
        cut = rnd.choice((len(data), rnd.randrange(24, len(data))))
        path.write_bytes(bytes(data[:cut]))
        sequential, fast = both_walks(path)
        assert fast == sequential


@pytest.mark.usefixtures("small_blocks")
def test_big_endian_and_reads_are_identical(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(seq=i, payload=bytes(i % 300))))
              for i in range(400)]
    path = tmp_path / "b.pcap"
    path.write_bytes(b.pcap(frames, big=True))
    sequential, fast = both_walks(path, big=True)
    assert fast == sequential
    spec = read_capture(path)
    monkeypatch.setattr(speculate, "MIN_SIZE", 1 << 40)
    plain = read_capture(path)
    assert np.array_equal(spec.packets, plain.packets) and len(plain) == 400
