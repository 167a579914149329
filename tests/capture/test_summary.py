"""list_streams: per-stream endpoints, counts, bytes and times, computed with numpy."""

from __future__ import annotations

from pathlib import Path

from core.capture import list_streams, read_capture, stream_label
from tests.capture import builders as b


def test_list_streams(tmp_path: Path) -> None:
    one = b.handshake("10.0.0.1", "10.0.0.2", 40000)
    two = b.handshake("10.0.0.3", "10.0.0.2", 40001)
    six = [b.ether(b.ipv6("2001:db8::1", "2001:db8::2", b.tcp(7, 8, payload=b"xyz")),
                   b.ETH_IPV6)]
    frames = [one[0], two[0], one[1], two[1], one[2], one[3], two[2], two[3], two[4],
              one[4]] + six
    path = tmp_path / "s.pcap"
    path.write_bytes(b.pcap(frames))
    ix = read_capture(path)
    rows = list_streams(ix)
    assert list(rows["stream"]) == [0, 1, 2]
    assert list(rows["packets"]) == [5, 5, 1]
    assert list(rows["bytes"]) == [5, 5, 3]
    assert list(rows["packets_ab"]) == [3, 3, 1]
    assert list(rows["first_frame"]) == [1, 2, 11] and list(rows["last_frame"]) == [10, 9, 11]
    times = ix.packets["time_ns"]
    assert rows["first_ns"][0] == times[0] and rows["last_ns"][0] == times[9]
    assert stream_label(ix, rows[0]) == "10.0.0.1:40000 <-> 10.0.0.2:80"
    assert stream_label(ix, rows[2]) == "[2001:db8::1]:7 <-> [2001:db8::2]:8"


def test_no_streams(tmp_path: Path) -> None:
    path = tmp_path / "e.pcap"
    path.write_bytes(b.pcap([b.ether(bytes(28), 0x0806)]))
    ix = read_capture(path)
    assert len(list_streams(ix)) == 0 and ix.non_tcp == 1
