"""The index-only stream list (``core.streams.stream_table``) against the per-stream replay.

Rules checked, on every corpus capture and on synthetic ones:
- endpoints are the replay's client and server; ``client_by`` is the replay's reason;
- packets, bytes (per side too), first/last times and flag counts per side agree with a
  per-stream computation over the stream's own packets (the replay's ``from_client``);
- ``reused_ports`` is the analysis's ``reused_ports`` count;
- ``stream_rows`` (``--states``) is the table row plus the final states and label counts
  the former path gave (``analyze_capture`` + ``replay_stream`` per stream);
- per-stream packet counts agree with tshark's ``tcp.stream`` in the corpus truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.analysis import analyze_capture
from core.capture import read_capture
from core.capture.index import CaptureIndex
from core.errors import CaptureError
from core.replay import replay_stream
from core.replay.outcomes import StreamOutcomes
from core.replay.report import stream_outcomes, stream_rows
from core.replay.roles import client_is_a
from core.streams.stream_output import row_dicts, row_json, table_lines
from core.streams.stream_table import CLIENT_BY, FLAGS, SIDES, stream_table
from tests.capture import builders as b
from tests.conftest import CORPUS

FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.pcap*")) \
    if CORPUS.is_dir() else []
REASONS = {"sent the SYN": "syn", "received the SYN+ACK": "syn_ack",
           "no SYN captured; the server has the well-known port": "port",
           "no SYN captured; the client sent the first packet": "first"}
SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04


def _flag_counts(flags: np.ndarray[Any, Any]) -> dict[str, int]:
    syn_ack = flags & (SYN | ACK)
    return {"syn": int((syn_ack == SYN).sum()), "syn_ack": int((syn_ack == SYN | ACK).sum()),
            "fin": int(((flags & FIN) != 0).sum()), "rst": int(((flags & RST) != 0).sum())}


def _former_rows(index: CaptureIndex) -> list[dict[str, Any]]:
    """Each stream by the former path of ``stream_rows``, with the per-stream numbers."""
    out = []
    for analysis in analyze_capture(index):
        replay = replay_stream(index, analysis.stream, analysis)
        tl = replay.timeline
        p = index.packets[replay.rows]
        mine = replay.from_client
        times = (p["time_ns"] - np.int64(index.start_ns)) / 1e9
        client, server = tl.states_after(len(tl) - 1)
        out.append({
            "stream": analysis.stream,
            "client": {"address": tl.client.address, "port": tl.client.port},
            "server": {"address": tl.server.address, "port": tl.server.port},
            "client_by": REASONS[replay.roles_reason],
            "packets": len(p), "bytes": int(p["payload_len"].sum()),
            "client_packets": int(mine.sum()),
            "client_bytes": int(p["payload_len"][mine].sum()),
            "server_packets": int((~mine).sum()),
            "server_bytes": int(p["payload_len"][~mine].sum()),
            "first": round(float(times[0]), 9), "last": round(float(times[-1]), 9),
            "duration": round(max(0.0, float(times[-1] - times[0])), 9),
            "flags": {"client": _flag_counts(p["flags"][mine]),
                      "server": _flag_counts(p["flags"][~mine])},
            "reused_ports": analysis.counts()["reused_ports"] == 1,
            "final": {"client": client.value, "server": server.value},
            "analysis": {k: v for k, v in analysis.counts().items() if v},
        })
    return out


def _check(index: CaptureIndex) -> None:
    former = _former_rows(index)
    rows = list(row_dicts(stream_table(index)))
    assert list(row_json(stream_table(index))) == [json.dumps(r) for r in rows]
    for mine, theirs in zip(rows, former, strict=True):
        assert mine["duration"] == pytest.approx(theirs.pop("duration"), abs=2e-9)
        mine.pop("duration")
        assert mine == {k: v for k, v in theirs.items() if k not in ("final", "analysis")}
    states = stream_rows(index)
    outcomes = stream_outcomes(index)
    assert list(row_json(stream_table(index), outcomes)) == [json.dumps(r) for r in states]
    for row in states:
        row.pop("duration")
    assert states == former


@pytest.mark.corpus
@pytest.mark.parametrize("name", FILES)
def test_corpus_table_agrees_with_the_replay(corpus: Path, name: str) -> None:
    try:
        index = read_capture(corpus / name)
    except CaptureError:
        pytest.skip("not a readable capture (its own tests cover it)")
    _check(index)
    truth = json.loads((corpus / name).with_name(
        Path(name).name.rsplit(".", 1)[0] + ".truth.json").read_text())
    per_stream: dict[int, int] = {}
    for packet in truth["packets"]:
        if packet.get("stream") is not None:
            per_stream[packet["stream"]] = per_stream.get(packet["stream"], 0) + 1
    table = stream_table(index)
    assert {int(s): int(n) for s, n in zip(table.streams, table.rows["packets"],
                                           strict=True)} == per_stream


def _capture(tmp_path: Path, frames: list[bytes]) -> CaptureIndex:
    path = tmp_path / "t.pcap"
    path.write_bytes(b.pcap(frames))
    return read_capture(path)


def test_every_client_rule(tmp_path: Path) -> None:
    shake = b.handshake("10.0.0.1", "10.0.0.2", 40000)
    frames = [
        shake[0], shake[1], shake[2],                                     # 0: the SYN
        b.ether(b.ipv4("10.0.0.9", "10.0.0.8", b.tcp(80, 40001, 5, 10, 0x12))),  # 1
        b.ether(b.ipv4("10.0.0.5", "10.0.0.6", b.tcp(443, 50000, 5, 9, 0x10,
                                                     payload=b"abc"))),   # 2: port 443
        b.ether(b.ipv4("10.0.0.5", "10.0.0.6", b.tcp(50001, 50002, 5, 9, 0x18,
                                                     payload=b"hi"))),    # 3: first
        b.ether(b.ipv4("10.0.0.6", "10.0.0.5", b.tcp(50002, 50001, 9, 7, 0x14))),
        b.ether(b.ipv6("2001:db8::1", "2001:db8::2", b.tcp(7, 8, flags=0x02)), b.ETH_IPV6),
        shake[3], shake[4],
        b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(40000, 80, 106, 901, 0x11))),
        b.ether(b.ipv4("10.0.0.1", "10.0.0.2", b.tcp(40000, 80, 99999, 0, 0x02))),  # 5
    ]
    index = _capture(tmp_path, frames)
    table = stream_table(index)
    by = [CLIENT_BY[k] for k in table.rows["client_by"]]
    assert by == ["syn", "syn_ack", "port", "first", "syn", "syn"]
    assert [table.endpoint(k, "client") for k in range(6)] == [
        "10.0.0.1:40000", "10.0.0.8:40001", "10.0.0.6:50000", "10.0.0.5:50001",
        "[2001:db8::1]:7", "10.0.0.1:40000"]
    assert table.rows["reused_ports"].tolist() == [False] * 5 + [True]
    assert table.flags_text(3, "server") == "R" and table.flags_text(0, "client") == "S F"
    assert table.flags_text(1, "client") == "-"
    assert 5 in table and 6 not in table and len(table) == 6
    _check(index)


def _aligned(cells: list[tuple[str, ...]]) -> list[str]:
    """The text layout, from the cells: every column but the last padded to its widest."""
    widths = [max(len(line[c]) for line in cells) for c in range(len(cells[0]) - 1)]
    return ["  ".join(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True))
            + "  " + line[-1] for line in cells]


def _cells(line: str, columns: int) -> tuple[str, ...]:
    parts = [p for p in line.split("  ") if p]
    return tuple(p.strip() for p in parts[:columns - 1]) + ("  ".join(parts[columns - 1:]).strip(),)


def test_text_widths_are_the_widest_cells(tmp_path: Path) -> None:
    frames = [b.ether(b.ipv6("2001:db8::1", "2001:db8::2", b.tcp(7, 8, flags=0x02)),
                      b.ETH_IPV6)]
    for k in range(12):
        frames += b.handshake(f"10.0.0.{k * 20 + 1}", "10.0.0.2", 40000 + k * 997)[:2 + k % 4]
        frames += [b.ether(b.ipv4("10.0.0.2", f"10.0.0.{k * 20 + 1}",
                                  b.tcp(80, 40000 + k * 997, 5, 9, 0x12)))] * (k % 3)
    index = _capture(tmp_path, frames)
    table = stream_table(index)
    for outcomes in (None, stream_outcomes(index)):
        lines = list(table_lines(table, outcomes))
        columns = 13 if outcomes else 10
        assert lines == _aligned([_cells(line, columns) for line in lines])
        assert len(lines) == 14 and len({len(line.rstrip()) for line in lines[1:]}) > 1


def test_text_lines(tmp_path: Path) -> None:
    index = _capture(tmp_path, b.handshake("10.0.0.1", "10.0.0.2", 40000))
    lines = list(table_lines(stream_table(index)))
    assert lines[0].split()[:3] == ["stream", "client", "server"]
    assert lines[1].split()[:5] == ["0", "10.0.0.1:40000", "10.0.0.2:80", "5", "5"]
    assert lines[1].split()[-2:] == ["S", "SA"]
    states = list(table_lines(stream_table(index), stream_outcomes(index)))
    assert states[0].endswith("client state  server state  analysis")


def test_no_streams(tmp_path: Path) -> None:
    index = _capture(tmp_path, [b.ether(bytes(28), 0x0806)])
    table = stream_table(index)
    assert len(table) == 0 and not table and list(row_dicts(table)) == []
    assert stream_rows(index) == [] and len(StreamOutcomes(index)) == 0


def test_outcomes_do_not_depend_on_the_batch(tmp_path: Path) -> None:
    frames: list[bytes] = []
    for k in range(6):
        frames += b.handshake("10.0.0.1", "10.0.0.2", 40000 + k)[:2 + k % 4]
    index = _capture(tmp_path, frames)
    outcomes = StreamOutcomes(index)
    alone = [outcomes.compute([s])[0] for s in range(6)]
    assert outcomes.compute([5, 0, 3, 1, 4, 2]) == [alone[s] for s in (5, 0, 3, 1, 4, 2)]
    assert [o.stream for o in alone] == list(range(6))


# ----- random packets: the vectorised columns against a per-stream loop ---------------------
_HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
_PORTS = [80, 443, 40000, 40001]
_packet = st.tuples(st.sampled_from(_HOSTS), st.sampled_from(_PORTS),
                    st.sampled_from(_HOSTS), st.sampled_from(_PORTS),
                    st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x01, 0x00]),
                    st.sampled_from([1000, 5000, 77]), st.integers(0, 3))


@given(st.lists(_packet, min_size=1, max_size=40))
def test_random_packets_agree_with_a_loop(tmp_path_factory: pytest.TempPathFactory,
                                          packets: list[tuple[Any, ...]]) -> None:
    frames = [b.ether(b.ipv4(src, dst, b.tcp(sp, dp, seq, seq + 1, flags,
                                             payload=b"x" * size)))
              for src, sp, dst, dp, flags, seq, size in packets]
    index = _capture(tmp_path_factory.mktemp("r"), frames)
    table = stream_table(index)
    p = index.packets
    for s in range(len(table)):
        mine = p[p["stream"] == s]
        head = mine[0]
        from_a = (mine["src"] == head["src"]) & (mine["sport"] == head["sport"])
        a_client, _ = client_is_a(mine["flags"].astype(np.int64), from_a,
                                  int(head["sport"]), int(head["dport"]))
        fc = from_a if a_client else ~from_a
        row = table.rows[s]
        client = (head["src"], head["sport"]) if a_client else (head["dst"], head["dport"])
        assert (row["client"], row["client_port"]) == client
        assert row["packets"] == len(mine) and row["client_packets"] == fc.sum()
        assert row["bytes"] == mine["payload_len"].sum()
        assert row["client_bytes"] == mine["payload_len"][fc].sum()
        assert (row["first_ns"], row["last_ns"]) == (mine["time_ns"][0], mine["time_ns"][-1])
        for side, sel in zip(SIDES, (fc, ~fc), strict=True):
            counts = _flag_counts(mine["flags"][sel])
            assert [int(row[f"{side}_{n}"]) for n in FLAGS] == [counts[n] for n in FLAGS]
        earlier = p[p["stream"] < s]
        key = {(head["src"], head["sport"]), (head["dst"], head["dport"])}
        shared = any({(e["src"], e["sport"]), (e["dst"], e["dport"])} == key for e in earlier)
        assert row["reused_ports"] == (shared and head["flags"] & 0x12 == 0x02)
