"""TCP options and Segment values built from index rows."""

from __future__ import annotations

from pathlib import Path

from core.capture import read_capture
from core.capture.segments import segment_at, tcp_options
from core.tcp.segment import Flag, Options
from tests.capture import builders as b

OPTS = (b"\x02\x04\x05\xb4" b"\x01" b"\x03\x03\x07" b"\x04\x02"
        b"\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x02" b"\x05\x0a\x00\x00\x00\x10\x00\x00\x00\x20"
        b"\x1e\x04\xab\xcd")


def test_every_known_option_and_an_unknown_one() -> None:
    o = tcp_options(b.tcp(options=OPTS))
    assert o == Options(mss=1460, wscale=7, sack_permitted=True, timestamp=(1, 2),
                        sack_blocks=((16, 32),), other_kinds=(30,))
    assert o.text() == "<mss 1460,sackOK,TS val 1 ecr 2,wscale 7,sack 16:32,opt-30>"


def test_malformed_or_cut_options_stop_the_parse() -> None:
    assert tcp_options(b.tcp(options=b"\x02\x04\x05\xb4\x03\x00\x07")).mss == 1460
    assert tcp_options(b.tcp(options=b"\x02\x04\x05\xb4\x08\x0a\x00")).timestamp is None
    assert tcp_options(b.tcp(options=b"\x00\x02\x04\x05\xb4")) == Options()
    assert tcp_options(b.tcp(options=OPTS)[:25]).mss == 1460


def test_segment_at(tmp_path: Path) -> None:
    seg_bytes = b.tcp(1, 2, seq=4000, ack=77, flags=0x18, window=999, options=OPTS,
                      payload=b"hello world")
    frame = b.ether(b.ipv4("10.0.0.1", "10.0.0.2", seg_bytes))
    path = tmp_path / "s.pcap"
    path.write_bytes(b.pcap([frame, (frame[:-6], len(frame))]))
    ix = read_capture(path)
    whole, cut = segment_at(ix, 0), segment_at(ix, 1)
    assert (whole.seq, whole.ack, whole.flags, whole.window) == (4000, 77, Flag.PSH | Flag.ACK,
                                                                 999)
    assert (whole.length, whole.payload) == (11, b"hello world")
    assert (cut.length, cut.payload) == (11, b"hello")
    assert whole.options.mss == 1460 and cut.options == whole.options
