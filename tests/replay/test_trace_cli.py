"""``synack trace`` and ``synack streams`` on the corpus: the exact JSON schema, numbers
that agree with tshark's truth, both sides' states, and one-line errors on bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.capture import read_capture
from core.tcp.states import TcpState
from gui.app.cli import main
from tests.analysis import verdict_captures
from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parents[2]
STATES = {s.value for s in TcpState}
SEGMENT_KEYS = {"frame", "time", "from", "flags", "seq", "ack", "len", "win", "analysis",
                "tshark", "verdict", "differences", "client_state", "server_state",
                "arrived", "uncertain"}
FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.pcap*")) \
    if CORPUS.is_dir() else []


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def truth(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_suffix(".truth.json").read_text())
    return data


def test_trace_json_schema_and_states(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = corpus / "kernel" / "close_client_first_delayed.pcap"
    code, out, _ = run(capsys, "trace", str(path), "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"file", "stream", "client", "server", "segments", "final", "events",
                         "uncertain"}
    assert data["client"] == {"address": "127.0.0.1", "port": 34680}
    assert data["server"] == {"address": "127.0.0.1", "port": 5000}
    assert data["final"] == {"client": "TIME_WAIT", "server": "CLOSED"}
    segs = data["segments"]
    assert all(set(s) == SEGMENT_KEYS for s in segs)
    hello = segs[3]
    assert (hello["frame"], hello["from"], hello["flags"], hello["seq"], hello["ack"],
            hello["len"]) == (4, "client", "[P.]", 1, 1, 5)
    assert segs[0]["ack"] is None and segs[0]["flags"] == "[S]"
    states = [(s["frame"], s["client_state"], s["server_state"]) for s in segs]
    assert states[0] == (1, "SYN_SENT", "SYN_RECEIVED")
    assert states[7] == (8, "FIN_WAIT_1", "CLOSE_WAIT")
    assert states[8] == (9, "FIN_WAIT_2", "CLOSE_WAIT")
    assert states[9] == (10, "TIME_WAIT", "LAST_ACK")
    assert states[10] == (11, "TIME_WAIT", "CLOSED")
    assert data["uncertain"] == []                   # loopback: seen is done
    events = [(e["side"], e["from"], e["to"], e["frame"]) for e in data["events"]]
    assert events == [
        ("client", "CLOSED", "SYN_SENT", 1), ("server", "LISTEN", "SYN_RECEIVED", 1),
        ("client", "SYN_SENT", "ESTABLISHED", 2), ("server", "SYN_RECEIVED", "ESTABLISHED", 3),
        ("client", "ESTABLISHED", "FIN_WAIT_1", 8), ("server", "ESTABLISHED", "CLOSE_WAIT", 8),
        ("client", "FIN_WAIT_1", "FIN_WAIT_2", 9), ("server", "CLOSE_WAIT", "LAST_ACK", 10),
        ("client", "FIN_WAIT_2", "TIME_WAIT", 10), ("server", "LAST_ACK", "CLOSED", 11)]
    times = [e["time"] for e in data["events"]]
    assert times == sorted(times)


@pytest.mark.parametrize("name", FILES)
def test_trace_agrees_with_tshark(corpus: Path, capsys: pytest.CaptureFixture[str],
                                  name: str) -> None:
    """Every stream of every readable corpus file: frame, time, direction, flags, seq,
    ack, len and win as tshark computed them; states are always one of the eleven."""
    path = corpus / name
    try:
        index = read_capture(str(path))
    except Exception as exc:  # noqa: BLE001 - the broken files are tested in tests/capture
        code, _, err = run(capsys, "trace", str(path))
        assert code == 1 and err.count("\n") == 1 and err.startswith("synack: "), err
        pytest.skip(f"unreadable on purpose: {exc}")
    packets = {p["frame"]: p for p in truth(path)["packets"] if p.get("tcp")}
    streams = sorted({int(s) for s in index.packets["stream"].tolist()})
    seen = 0
    for stream in streams:
        code, out, _ = run(capsys, "trace", str(path), "--stream", str(stream), "--json")
        assert code == 0
        data = json.loads(out)
        first = packets[data["segments"][0]["frame"]]
        client = (data["client"]["address"], data["client"]["port"])
        for seg in data["segments"]:
            t = packets[seg["frame"]]
            seen += 1
            assert t["stream"] == stream
            sender = (t["src"], t["sport"])
            assert (seg["from"] == "client") == (sender == client), seg
            assert seg["time"] == pytest.approx(t["time_relative"], abs=2e-6)
            assert (seg["flags"], seg["seq"], seg["ack"], seg["len"], seg["win"]) == \
                (t["flags"], t["seq"], t["ack"], t["len"], t["win"]), (seg, t)
            assert seg["client_state"] in STATES and seg["server_state"] in STATES
        assert first["stream"] == stream
    assert seen == len(packets) - sum(1 for p in packets.values() if p["stream"] is None)


def test_trace_text_is_tcpdump_style(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = corpus / "kernel" / "close_client_first_delayed.pcap"
    code, out, _ = run(capsys, "trace", str(path))
    assert code == 0
    line = next(x for x in out.splitlines() if " 4 " in x[:8])
    assert "IP 127.0.0.1.34680 > 127.0.0.1.5000: Flags [P.], seq 1:6, ack 1, win 64, " \
           "length 5" in line
    assert line.endswith("| client ESTABLISHED, server ESTABLISHED")


TABLE_KEYS = {"stream", "client", "server", "client_by", "packets", "bytes", "client_packets",
              "client_bytes", "server_packets", "server_bytes", "first", "last", "duration",
              "flags", "reused_ports"}


def test_streams_lists_every_stream(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = corpus / "public" / "tfo-5c1fa7f9ae91.pcap"
    code, out, _ = run(capsys, "streams", str(path), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["file"] == str(path) and data["states"] is False
    rows = data["streams"]
    assert [r["stream"] for r in rows] == [0, 1, 2]
    for r in rows:
        assert set(r) == TABLE_KEYS                      # no replay: no states, no labels
        assert set(r["flags"]) == {"client", "server"}
        assert set(r["flags"]["client"]) == {"syn", "syn_ack", "fin", "rst"}
        assert r["packets"] == r["client_packets"] + r["server_packets"]
    assert rows[2]["client"] == {"address": "192.168.0.100", "port": 13048}
    assert rows[2]["flags"]["client"] == {"syn": 1, "syn_ack": 0, "fin": 1, "rst": 0}
    code, out, _ = run(capsys, "streams", str(path), "--json", "--states")
    data = json.loads(out)
    assert data["states"] is True
    for r in data["streams"]:
        assert set(r) == TABLE_KEYS | {"final", "analysis"}
        assert r["final"]["client"] in STATES and r["final"]["server"] in STATES
    assert sum(r["analysis"].get("tfo_syn", 0) for r in data["streams"]) == 1
    assert [r["final"] for r in data["streams"]][2] == {"client": "FIN_WAIT_1",
                                                        "server": "ESTABLISHED"}
    code, out, _ = run(capsys, "streams", str(path))
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("# ") and "--states" in lines[0]
    assert lines[1].split()[:3] == ["stream", "client", "server"]
    assert "state" not in lines[1] and len(lines) == 5
    code, out, _ = run(capsys, "streams", str(path), "--states")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["stream", "client", "server"]
    assert "client state" in lines[0] and len(lines) == 4
    assert lines[3].split()[-3:] == ["FIN_WAIT_1", "ESTABLISHED", "tfo_syn×1"]


def test_streams_of_the_lossy_capture(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = corpus / "kernel" / "loss5_delay20_bulk_server.pcap"
    code, out, _ = run(capsys, "streams", str(path), "--json", "--states")
    row = json.loads(out)["streams"][0]
    summary = truth(path)["analysis_summary"]
    assert row["final"] == {"client": "TIME_WAIT", "server": "CLOSED"}
    assert row["analysis"]["fast_retransmission"] == summary["fast_retransmission"]["count"]
    assert row["analysis"]["duplicate_ack"] == summary["duplicate_ack"]["count"]
    code, out, _ = run(capsys, "streams", str(path), "--json")
    plain = json.loads(out)["streams"][0]
    assert plain == {k: v for k, v in row.items() if k not in ("final", "analysis")}
    assert plain["packets"] == 2242 and plain["flags"]["client"]["syn"] == 1


def test_streams_imports_no_replay_qt_or_scapy(corpus: Path) -> None:
    path = corpus / "kernel" / "close_client_first_delayed.pcap"
    code = ("import sys\nfrom gui.app.cli import main\n"
            f"main(['streams', {str(path)!r}])\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'scapy', "
            "'pyqtgraph') or m.startswith(('core.replay', 'core.analysis', 'core.simulate'))]\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.splitlines()[-1] == "HEAVY []"


@pytest.mark.parametrize("content,words", [
    (b"", "empty"),
    (b"not a capture at all" * 4, "magic"),
])
def test_bad_files_give_one_line(tmp_path: Path, content: bytes, words: str) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(content)
    for command in ("trace", "streams"):
        out = subprocess.run([sys.executable, "-m", "gui", command, str(bad)], cwd=ROOT,
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 1
        assert out.stderr.count("\n") == 1 and str(bad) in out.stderr, out.stderr
        assert words in out.stderr.lower() and "Traceback" not in out.stderr


def test_missing_stream_and_missing_file(corpus: Path, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    path = corpus / "kernel" / "closed_port.pcap"
    code, _, err = run(capsys, "trace", str(path), "--stream", "7")
    assert code == 1 and "no TCP stream 7" in err and "1 stream" in err
    code, _, err = run(capsys, "trace", str(tmp_path / "nope.pcap"))
    assert code == 1 and "nope.pcap" in err and err.count("\n") == 1


def test_cut_file_warns_and_keeps_what_it_read(corpus: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = corpus / "kernel" / "broken_truncated_midrecord.pcap"
    code, out, err = run(capsys, "trace", str(path), "--json")
    assert code == 0
    assert "warning" in err and "867" in err
    data = json.loads(out)
    assert len(data["segments"]) == 10
    assert data["final"] == {"client": "TIME_WAIT", "server": "LAST_ACK"}


def test_trace_keeps_tshark_labels_beside_the_verdict(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = str(verdict_captures.fin_reack(tmp_path))
    code, out, _ = run(capsys, "trace", path, "--json")
    assert code == 0
    segs = json.loads(out)["segments"]
    last = segs[8]
    assert last["analysis"] == last["tshark"] == ["duplicate_ack"]
    assert last["verdict"] == ["fin_reack"]
    [diff] = last["differences"]
    assert (diff["rule"], diff["tshark"], diff["synack"]) == ("fin_reack", ["duplicate_ack"],
                                                              ["fin_reack"])
    assert diff["why"].startswith("Frame 8 repeated the FIN of frame 6")
    assert all(s["differences"] == [] and s["verdict"] == s["tshark"] for s in segs[:8])
    code, out, _ = run(capsys, "trace", path)
    lines = out.splitlines()
    assert lines[-1].endswith("length 0  [tshark: duplicate_ack #1 of frame 7; "
                              "SynAck: fin_reack]  | client TIME_WAIT, server CLOSED")
    assert "length 0  [retransmission]  | client" in lines[-2]
