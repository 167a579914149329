"""Out-of-order data (core.replay.ooo) decides exactly what the former quadratic loop did,
and in O(log n) a segment: data arriving in descending order no longer takes seconds."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from unittest.mock import patch

import pytest

from core.replay.ooo import OutOfOrder
from core.replay.sides import Run, Tcb
from core.tcp.segment import seq_diff
from core.tcp.states import Side, TcpState

_MASK = 0xFFFFFFFF


class _RefTcb:
    def __init__(self) -> None:
        self.rcv_nxt: int | None = None
        self.ooo: dict[int, int] = {}


def _reference_take_data(tcb: _RefTcb, seq: int, length: int) -> None:
    """``Run.take_data`` as it was before issue 11 (rescans every block: quadratic)."""
    nxt = tcb.rcv_nxt
    end = (seq + length) & _MASK
    if nxt is None:
        tcb.rcv_nxt = end
        return
    ahead = seq_diff(seq, nxt)
    if ahead > 0:
        known = tcb.ooo.get(seq)
        if known is None or seq_diff(end, known) > 0:
            tcb.ooo[seq] = end
        return
    if seq_diff(end, nxt) <= 0:
        return
    nxt = end
    while tcb.ooo:
        moved = False
        for start in list(tcb.ooo):
            if seq_diff(start, nxt) <= 0:
                stop = tcb.ooo.pop(start)
                if seq_diff(stop, nxt) > 0:
                    nxt = stop
                moved = True
        if not moved:
            break
    tcb.rcv_nxt = nxt


# An operation: ("data", seq, length), ("set", rcv_nxt or None) as the rest of
# core.replay.infer does to RCV.NXT (evidence, a SYN, an RST), or ("clear",).
Op = tuple[object, ...]


def _segments(rnd: random.Random, base: int, count: int) -> list[tuple[int, int]]:
    segs, at = [], base
    for _ in range(count):
        size = rnd.choice((1, 100, 536, 1448, 1448, 1448, rnd.randrange(1, 9000)))
        segs.append((at & _MASK, size))
        at += size
    return segs


def _reorder(rnd: random.Random, segs: list[tuple[int, int]], mode: str) -> list[Op]:
    segs = list(segs)
    if mode == "descending":
        segs = segs[:1] + segs[:0:-1] if rnd.random() < 0.5 else segs[::-1]
    elif mode == "shuffled":
        rnd.shuffle(segs)
    elif mode == "windows":
        width = rnd.randrange(2, 40)
        for i in range(0, len(segs), width):
            part = segs[i:i + width]
            rnd.shuffle(part)
            segs[i:i + width] = part
    elif mode == "swaps":
        for _ in range(len(segs) // 5):
            i = rnd.randrange(len(segs))
            j = min(len(segs) - 1, i + rnd.randrange(1, 6))
            segs[i], segs[j] = segs[j], segs[i]
    ops: list[Op] = []
    for seq, size in segs:
        ops.append(("data", seq, size))
        roll = rnd.random()
        if roll < 0.08:                       # duplicate, or resent with more data
            ops.append(("data", seq, size + rnd.choice((0, 0, 100, -size // 2))))
        elif roll < 0.14:                     # overlapping: starts inside, ends beyond
            ops.append(("data", (seq + rnd.randrange(size)) & _MASK, rnd.randrange(1, 4000)))
        elif roll < 0.16:                     # an old resend, wholly behind
            ops.append(("data", (seq - rnd.randrange(1, 20000)) & _MASK, size))
    return ops


def _wild(rnd: random.Random, base: int, count: int) -> list[Op]:
    """RCV.NXT moved by others (evidence, new connections), half-circle distances, huge
    lengths: where sequence order is no line and the fallback decides."""
    ops: list[Op] = []
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.05:
            ops.append(("set", rnd.choice((None, rnd.getrandbits(32),
                                           (base + (1 << 31) - rnd.randrange(3000)) & _MASK,
                                           (base + rnd.randrange(-3000, 3000)) & _MASK))))
        elif roll < 0.07:
            ops.append(("clear",))
        else:
            far = rnd.random() < 0.1
            seq = (base + (rnd.choice((1 << 31, 1 << 30, 3 << 30)) if far else 0)
                   + rnd.randrange(-5000, 5000)) & _MASK
            size = rnd.choice((rnd.randrange(0, 3000), (1 << 31) + rnd.randrange(-9, 9))) \
                if rnd.random() < 0.03 else rnd.randrange(0, 3000)
            ops.append(("data", seq, size))
    return ops


def _cases() -> Iterator[tuple[str, list[Op]]]:
    modes = ("in order", "descending", "shuffled", "windows", "swaps")
    for seed in range(300):
        rnd = random.Random(seed)
        mode = modes[seed % len(modes)]
        near_wrap = seed % 3 == 0
        base = ((1 << 32) - rnd.randrange(1, 200_000)) if near_wrap else rnd.getrandbits(32)
        segs = _segments(rnd, base, rnd.randrange(1, 400))
        ops: list[Op] = [("set", base & _MASK)] if rnd.random() < 0.7 else []
        ops += _reorder(rnd, segs, mode)
        if seed % 10 == 0:                      # a new connection on the same ports
            ops.append(("set", rnd.getrandbits(32) if seed % 20 else None))
            ops += _reorder(rnd, _segments(rnd, rnd.getrandbits(32), 50), "shuffled")
        yield f"{mode}-{seed}", ops


def _wild_cases() -> Iterator[tuple[str, list[Op]]]:
    for seed in range(150):
        rnd = random.Random(1000 + seed)
        base = (1 << 32) - rnd.randrange(1, 9000) if seed % 2 else rnd.getrandbits(32)
        yield f"wild-{seed}", [("set", base)] + _wild(rnd, base, rnd.randrange(10, 300))


def _run(ops: list[Op]) -> int:
    """Replays ``ops`` on both implementations, comparing after each; returns how many
    releases fell back to the rescan."""
    new = Tcb(Side.SERVER, TcpState.ESTABLISHED, 0)
    ref = _RefTcb()
    fallbacks = 0
    rescan = OutOfOrder._rescan

    def counted(self: OutOfOrder, nxt: int) -> int:
        nonlocal fallbacks
        fallbacks += 1
        return rescan(self, nxt)

    with patch.object(OutOfOrder, "_rescan", counted):
        _replay(ops, new, ref)
    return fallbacks


def _replay(ops: list[Op], new: Tcb, ref: _RefTcb) -> None:
    for step, op in enumerate(ops):
        if op[0] == "data":
            seq, length = op[1], op[2]
            assert isinstance(seq, int) and isinstance(length, int)
            Run.take_data(new, seq, length)
            _reference_take_data(ref, seq, length)
        elif op[0] == "set":
            new.rcv_nxt = ref.rcv_nxt = op[1]  # type: ignore[assignment]
        else:
            new.ooo.clear()
            ref.ooo.clear()
        assert new.rcv_nxt == ref.rcv_nxt, (step, op)
        assert list(new.ooo.items()) == list(ref.ooo.items()), (step, op)


def test_same_decisions_as_the_former_loop() -> None:
    for name, ops in _cases():
        fallbacks = _run(ops)
        # only a connection reusing the ports (RCV.NXT set anew) may need the rescan
        assert fallbacks == 0 or int(name.rsplit("-", 1)[1]) % 10 == 0, name


def test_same_decisions_when_rcv_nxt_jumps() -> None:
    fallbacks = sum(_run(ops) for _name, ops in _wild_cases())
    assert fallbacks > 0                      # the fallback itself was compared too


def test_same_decisions_at_the_half_circle() -> None:
    """Numbers at 2**31 from each other, where seq_diff changes sign: short random runs
    built from them, each with a base near 0, near 2**32 or anywhere."""
    half = 1 << 31
    offsets = (0, 1, 2, 7, half - 2, half - 1, half, half + 1, half + 2, -7, -2, -1)
    lengths = (0, 1, 2, 5, half - 2, half - 1, half, half + 1)
    rnd = random.Random(11)
    for _ in range(4000):
        base = rnd.choice((0, 1 << 32, rnd.getrandbits(32)))
        ops: list[Op] = [("set", base & _MASK)]
        for _ in range(rnd.randrange(2, 9)):
            if rnd.random() < 0.1:
                ops.append(("set", (base + rnd.choice(offsets)) & _MASK))
            else:
                ops.append(("data", (base + rnd.choice(offsets)) & _MASK, rnd.choice(lengths)))
        _run(ops)


@pytest.mark.parametrize("past", [-1, 0, 1])
def test_a_block_left_behind_by_half_the_circle(past: int) -> None:
    """Data reaching 2**31 + ``past`` beyond a held block that the rescan meets last:
    the former loop found it ahead again (order mattered); so must the fallback."""
    half, base = 1 << 31, 7
    second = base + 100 + half - 1000
    ops: list[Op] = [("set", base),
                     ("data", base + 100, half - 1000),              # held first
                     ("data", second, base + 50 + half + past - second),  # held next
                     ("set", base + 49), ("data", base + 50, 1),     # held last
                     ("set", base + 99),
                     ("data", base + 99, 1)]                         # releases the chain
    _run(ops)


@pytest.mark.parametrize("past", [-1, 0, 1])
def test_a_block_held_half_the_circle_ahead(past: int) -> None:
    """A block at 2**31 + ``past`` beyond the data's end is behind it, not ahead."""
    half, base = 1 << 31, (1 << 32) - 3
    ops: list[Op] = [("set", base), ("data", (base + 1) & _MASK, 1),
                     ("set", (base + half) & _MASK),
                     ("data", (base + half + 5 + past) & _MASK, 1),
                     ("set", (base + 4) & _MASK), ("data", (base + 4) & _MASK, 1)]
    _run(ops)


@pytest.mark.parametrize("count", [1, 2, 3, 50])
def test_descending_then_the_first(count: int) -> None:
    ops: list[Op] = [("set", 1000)]
    ops += [("data", 1000 + 10 * i, 10) for i in range(count, 0, -1)]
    ops.append(("data", 1000, 10))
    assert _run(ops) == 0


def test_the_heap_is_rekeyed_as_rcv_nxt_travels() -> None:
    """A hole always open (a block held just past it) while RCV.NXT crosses 2**32 twice:
    no rescan."""
    step = 60_000
    at = 5
    ops: list[Op] = [("set", at), ("data", at + step, step)]
    for _ in range(9 * (1 << 32) // (8 * step)):
        ops += [("data", (at + 3 * step) & _MASK, step), ("data", at, step)]
        at = (at + 2 * step) & _MASK
    assert _run(ops) == 0


def test_adversarial_descending_order_is_fast() -> None:
    """Issue 11: 8,000 segments in descending order took 5.5 s (quadratic)."""
    n, size, base = 20_000, 1448, (1 << 32) - 5_000_000      # crosses 2**32 too
    tcb = Tcb(Side.SERVER, TcpState.ESTABLISHED, 0)
    tcb.rcv_nxt = base
    start = time.perf_counter()
    for i in range(n - 1, 0, -1):
        Run.take_data(tcb, (base + i * size) & _MASK, size)
    assert len(tcb.ooo) == n - 1
    Run.take_data(tcb, base, size)
    elapsed = time.perf_counter() - start
    assert tcb.rcv_nxt == (base + n * size) & _MASK
    assert not tcb.ooo
    assert elapsed < 2.0, f"{n} descending segments took {elapsed:.2f} s"


def test_adversarial_many_holes_filled_one_by_one_is_fast() -> None:
    """Every other segment first (descending), then the gaps in order: each gap releases
    one held block while thousands stay held."""
    n, size = 20_000, 100
    tcb = Tcb(Side.SERVER, TcpState.ESTABLISHED, 0)
    tcb.rcv_nxt = 0
    start = time.perf_counter()
    for i in range(n - 1, 0, -2):
        Run.take_data(tcb, i * size, size)
    for i in range(0, n, 2):
        Run.take_data(tcb, i * size, size)
        assert tcb.rcv_nxt == (i + 2) * size
    assert not tcb.ooo
    assert time.perf_counter() - start < 2.0


def test_clear_empties_the_heap_too() -> None:
    held = OutOfOrder()
    held.hold(100, 200, 0)
    held.clear()
    assert not held
    held.hold(300, 400, 250)
    assert held.release(300) == 400
    assert not held
