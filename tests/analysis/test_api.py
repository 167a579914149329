"""The public API: names, conventions, and analyze_stream == analyze_capture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.analysis import (
    LABELS,
    StreamAnalysis,
    analyze_capture,
    analyze_stream,
    analyze_streams,
)
from core.analysis.api import reused_endpoints
from core.capture import list_streams, read_capture

_ARRAYS = ("rows", "from_a", "rel_seq", "rel_ack", "next_seq", "win", "dup_ack_num",
           "dup_ack_of", "acks_frame", "ack_rtt", "bytes_in_flight", "duplicate_of", "rto",
           "rto_frame")


def test_label_order_is_the_corpus_order() -> None:
    assert LABELS == (
        "retransmission", "fast_retransmission", "spurious_retransmission", "duplicate_ack",
        "out_of_order", "lost_segment", "ack_lost_segment", "zero_window",
        "zero_window_probe", "zero_window_probe_ack", "window_update", "window_full",
        "keep_alive", "keep_alive_ack", "reused_ports", "tfo_syn", "tfo_ack")


def _same(a: StreamAnalysis, b: StreamAnalysis) -> None:
    assert a.stream == b.stream and a.win_scale == b.win_scale and a.labels == b.labels
    for name in _ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["kernel/simultaneous_close_both_sides.pcapng",
                                  "kernel/loss5_delay20_bulk_server.pcap",
                                  "public/tfo-5c1fa7f9ae91.pcap", "public/ldp-common-session.pcap"])
def test_stream_equals_capture(corpus: Path, name: str) -> None:
    index = read_capture(str(corpus / name))
    every = analyze_capture(index)
    streams = list_streams(index)
    assert [s.stream for s in every] == streams["stream"].tolist()
    for sa, row in zip(every, streams, strict=True):
        _same(analyze_stream(index, sa.stream), sa)
        assert sa.rows.dtype == np.int64 and sa.dup_ack_num.dtype == np.int32
        assert np.all(np.diff(index.packets["frame"][sa.rows].astype(np.int64)) > 0)
        a = index.packets[sa.rows]
        assert np.array_equal(sa.from_a, (a["src"] == row["a"]) & (a["sport"] == row["a_port"]))
        assert sum(sa.counts().values()) == sum(len(x) for x in sa.labels)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["kernel/simultaneous_close_both_sides.pcapng",
                                  "public/tfo-5c1fa7f9ae91.pcap", "public/ldp-common-session.pcap",
                                  "public/pptp.pcap"])
def test_streams_in_any_batch_equal_capture(corpus: Path, name: str) -> None:
    index = read_capture(str(corpus / name))
    every = analyze_capture(index)
    stream = index.packets["stream"]
    heads = [int(np.flatnonzero(stream == s.stream)[0]) for s in every]
    reused = reused_endpoints(index.packets[heads]).tolist()     # as analyze_capture finds it
    order = list(range(len(every)))[::-1]                # any order, all in one batch
    batch = analyze_streams(index, order, [every[s].rows for s in order],
                            [reused[s] for s in order])
    for s, sa in zip(order, batch, strict=True):
        _same(sa, every[s])
        assert sa.options is not None and len(sa.options.tsval) == len(sa)
    for s in order:                                       # and each one alone
        (alone,) = analyze_streams(index, [s], [every[s].rows], [reused[s]])
        _same(alone, every[s])


@pytest.mark.corpus
def test_copies_at_two_capture_points(corpus: Path) -> None:
    index = read_capture(str(corpus / "kernel/simultaneous_close_both_sides.pcapng"))
    (sa,) = analyze_capture(index)
    copies = np.flatnonzero(sa.duplicate_of >= 0)
    assert copies.size == len(sa) // 2 == 7
    p = index.packets
    for k in copies.tolist():
        orig, me = p[sa.duplicate_of[k]], p[sa.rows[k]]
        assert orig["interface"] != me["interface"] and orig["seq"] == me["seq"]
        assert sa.labels[k] == () and sa.acks_frame[k] == 0 and np.isnan(sa.ack_rtt[k])
        j = int(np.flatnonzero(sa.rows == sa.duplicate_of[k])[0])
        assert sa.rel_seq[k] == sa.rel_seq[j] and sa.win[k] == sa.win[j]
    assert not any(sa.labels)                 # a clean simultaneous close, seen twice


@pytest.mark.corpus
def test_window_scale_per_direction(corpus: Path) -> None:
    (ka,) = analyze_capture(read_capture(str(corpus / "kernel/keepalive.pcap")))
    assert ka.win_scale == (10, 10)
    (bgp,) = analyze_capture(read_capture(str(corpus / "public/bgp-role.pcapng")))
    assert bgp.win_scale == (-1, -1)          # no SYN seen: unknown both ways
    counts = ka.counts()
    assert set(counts) == set(LABELS)
    assert counts["keep_alive"] == 4 and counts["keep_alive_ack"] == 4


@pytest.mark.corpus
def test_unknown_stream_is_an_error(corpus: Path) -> None:
    index = read_capture(str(corpus / "kernel/keepalive.pcap"))
    with pytest.raises(ValueError, match="stream 5"):
        analyze_stream(index, 5)
