"""Sequence-space arithmetic across wrap-around, flags and the tcpdump-style text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.tcp.segment import (
    SEQ_MOD,
    Flag,
    Options,
    Segment,
    flags_text,
    seq_add,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_in_window,
    seq_le,
    seq_lt,
)

seqs = st.integers(0, SEQ_MOD - 1)
steps = st.integers(1, 2**31 - 1)


def test_wraparound_comparisons() -> None:
    top = SEQ_MOD - 1
    assert seq_add(top, 1) == 0
    assert seq_lt(top, 0) and seq_gt(0, top)
    assert seq_diff(5, top) == 6 and seq_diff(top, 5) == -6
    assert seq_le(7, 7) and seq_ge(7, 7)
    assert seq_in_window(2, SEQ_MOD - 3, 10) and not seq_in_window(7, SEQ_MOD - 3, 10)


@given(seqs, steps)
def test_adding_moves_forward(a: int, n: int) -> None:
    b = seq_add(a, n)
    assert seq_lt(a, b) and seq_gt(b, a) and seq_diff(b, a) == n


@given(seqs, seqs)
def test_diff_is_antisymmetric(a: int, b: int) -> None:
    if seq_diff(a, b) != -(2**31):
        assert seq_diff(a, b) == -seq_diff(b, a)
    assert seq_add(b, seq_diff(a, b)) == a


@pytest.mark.parametrize(("flags", "text"), [
    (Flag.SYN, "[S]"), (Flag.SYN | Flag.ACK, "[S.]"), (Flag.ACK, "[.]"),
    (Flag.PSH | Flag.ACK, "[P.]"), (Flag.FIN | Flag.ACK, "[F.]"), (Flag.RST, "[R]"),
    (Flag.RST | Flag.ACK, "[R.]"), (Flag.FIN | Flag.PSH | Flag.ACK, "[FP.]"),
    (Flag.SYN | Flag.ECE | Flag.CWR, "[SEW]"), (Flag(0), "[none]"),
])
def test_flags_text_like_tcpdump(flags: Flag, text: str) -> None:
    assert flags_text(flags) == text


def test_describe_like_tcpdump() -> None:
    seg = Segment.with_payload(seq=1001, ack=5001, flags=Flag.PSH | Flag.ACK, window=64,
                               payload=b"hello")
    assert seg.describe(iss=1000, irs=5000) == "Flags [P.], seq 1:6, ack 1, win 64, length 5"
    syn = Segment(seq=SEQ_MOD - 1, flags=Flag.SYN, window=65535,
                  options=Options(mss=1460, sack_permitted=True, wscale=7))
    assert syn.describe(iss=SEQ_MOD - 1) == \
        "Flags [S], seq 0, win 65535, options [mss 1460,sackOK,wscale 7], length 0"
    assert syn.end == 0 and syn.seg_len == 1


def test_segment_validates_fields() -> None:
    with pytest.raises(ValueError):
        Segment(seq=SEQ_MOD)
    with pytest.raises(ValueError):
        Segment(seq=0, window=70000)
    with pytest.raises(ValueError):
        Segment(seq=0, length=1, payload=b"ab")
    cut = Segment(seq=0, length=1400, payload=b"GET")  # a snap-length cut capture
    assert cut.seg_len == 1400
