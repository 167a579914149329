"""The ``synack`` command: help, version, headless export, the no-display path, errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gui.app import display
from gui.app.display import display_problem

ROOT = Path(__file__).resolve().parents[2]


def synack(*args: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gui", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)})


def test_version_and_help_import_no_qt() -> None:
    code = ("import sys\nfrom gui.app.cli import main\n"
            "for args in (['--version'], ['--help'], ['states', '--help']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
            "main(['states']); main(['scenarios'])\n"
            "print('QT' if any(m.startswith('PySide6') for m in sys.modules) else 'NOQT')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip().endswith("NOQT")
    assert "synack 0.1.0" in out.stdout and "usage: synack" in out.stdout


def test_export_writes_a_png(tmp_path: Path) -> None:
    out = synack("export", "-o", str(tmp_path / "d.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = synack("export", "--scenario", "closed_port", "--set", "delay=0.05",
                 "-o", str(tmp_path / "c.png"))
    assert out.returncode == 0 and (tmp_path / "c.png").exists(), out.stderr


def test_no_display_renders_the_demo_instead(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-m", "gui"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env={**env, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == ("synack: no display (DISPLAY is not set); "
                        "rendering the diagram to PNG instead")
    assert lines[1].startswith(f"wrote {tmp_path / 'synack-demo.png'} (")
    assert (tmp_path / "synack-demo.png").exists() and out.stderr == ""


def _listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(1)
    return sock


def test_display_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display, "X11_SOCKET_DIR", str(tmp_path))
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_problem({}) == "no display (DISPLAY is not set)"
    assert "no X server socket" in (display_problem({"DISPLAY": ":987"}) or "")
    assert "cannot reach" in (display_problem({"DISPLAY": "127.0.0.1:99"}) or "")
    assert "not a display name" in (display_problem({"DISPLAY": "nonsense"}) or "")
    with _listener(tmp_path / "X5"):  # a live X server socket
        assert display_problem({"DISPLAY": ":5"}) is None
        assert display_problem({"DISPLAY": "unix:5.0"}) is None
    # the server died and left its socket file: Qt would abort, so no display
    assert "no X server answers" in (display_problem({"DISPLAY": ":5"}) or "")
    wayland = {"WAYLAND_DISPLAY": "wayland-7", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert "has no socket" in (display_problem(wayland) or "")
    with _listener(tmp_path / "wayland-7"):
        assert display_problem(wayland) is None


def test_states_dot_matches_the_docs() -> None:
    out = synack("states", "--dot")
    assert out.stdout.strip() == (ROOT / "docs" / "states.dot").read_text().strip()


def test_scenarios_and_simulate_json() -> None:
    listing = json.loads(synack("scenarios", "--json").stdout)
    assert {"handshake", "simultaneous_close", "time_wait_lost_ack"} <= {
        s["name"] for s in listing}
    data = json.loads(synack("simulate", "hello_ok", "--json").stdout)
    assert data["client"] == {"address": "10.0.0.1", "port": 34694}
    hello = data["segments"][3]
    assert (hello["flags"], hello["seq"], hello["ack"], hello["len"], hello["from"]) == (
        "[P.]", 1, 1, 5, "client")
    assert data["segments"][0]["ack"] is None
    assert data["final"] == {"client": "ESTABLISHED", "server": "ESTABLISHED"}
    assert any(e["type"] == "call" and e["call"] == "read" for e in data["events"])


@pytest.mark.parametrize(("args", "message"), [
    (["simulate", "nope"], "unknown scenario 'nope'"),
    (["simulate", "hello_ok", "--set", "loss=2"], "probability"),
    (["simulate", "hello_ok", "--set", "delay=-1"], "delay must be >= 0"),
    (["simulate", "hello_ok", "--set", "colour=red"], "unknown parameter 'colour'"),
    (["export", "missing.pcap", "-o", "x.png"], "missing.pcap"),
])
def test_errors_are_one_line(args: list[str], message: str) -> None:
    out = synack(*args)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("synack: ")
    assert message in out.stderr and "Traceback" not in out.stderr
