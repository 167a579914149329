"""Issue 11, robustness in the app and the command: memory stays flat over many opens,
FIFOs and devices never block the loader, any file name prints, the export suffix picks
a real format, an empty file name is an error."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from gui.app.main_window import MainWindow
from gui.diagram.sequence_view import SequenceView
from gui.export.export import export_png
from gui.playback.timeline_panel import TimelinePanel
from tests.capture import builders as b
from tests.gui.test_cli import ROOT, synack

OPENS = 30


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _live(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_opening_captures_in_a_row_keeps_memory_flat(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    path.write_bytes(b.pcap(b.handshake() * 20))
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    qtbot.add_widget(window)
    window.show()
    rss = []
    for k in range(OPENS):
        with qtbot.wait_signal(window.timeline_shown, timeout=30_000):
            window.open_capture(str(path))
        qtbot.wait(1)                          # deleteLater runs
        if k == 4:
            rss.append(_rss_mb())
    rss.append(_rss_mb())
    assert len(window.bottom_dock.findChildren(TimelinePanel)) == 1
    assert _live(TimelinePanel) <= 2 and _live(SequenceView) <= 2
    assert rss[1] - rss[0] < 15, f"RSS grew {rss[1] - rss[0]:.0f} MB over {OPENS - 5} opens"


def test_a_fifo_never_blocks_the_loader(qtbot: QtBot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    qtbot.add_widget(window)
    good = tmp_path / "good.pcap"
    good.write_bytes(b.pcap(b.handshake()))
    for k in range(3):                       # more than the loader's two threads
        fifo = tmp_path / f"pipe{k}"
        os.mkfifo(fifo)
        with qtbot.wait_signal(window.load_failed, timeout=5_000) as blocker:
            window.open_capture(str(fifo))
        assert "not a regular file" in blocker.args[0] and str(fifo) in blocker.args[0]
        if window.progress.error_box is not None:
            window.progress.error_box.close()
    with qtbot.wait_signal(window.timeline_shown, timeout=30_000):
        window.open_capture(str(good))
    assert window.loader.wait(5_000)


def test_export_suffix_picks_the_format(tmp_path: Path) -> None:
    from core.demo import demo_timeline
    from core.errors import SynAckError
    timeline = demo_timeline()
    for name, magic in (("d.png", b"\x89PNG"), ("d.jpg", b"\xff\xd8\xff"),
                        ("d.JPEG", b"\xff\xd8\xff")):
        export_png(timeline, tmp_path / name)
        assert (tmp_path / name).read_bytes()[:len(magic)] == magic, name
    with pytest.raises(SynAckError, match=r"unknown image type '\.gif'"):
        export_png(timeline, tmp_path / "d.gif")
    assert not (tmp_path / "d.gif").exists()


def test_cli_export_jpeg_and_unknown_suffix(tmp_path: Path) -> None:
    out = synack("export", "-o", str(tmp_path / "x.jpg"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "x.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    out = synack("export", "-o", str(tmp_path / "x.bmp"))
    assert out.returncode == 1 and "unknown image type '.bmp'" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_empty_file_name_is_an_error(tmp_path: Path) -> None:
    for args in (["export", "", "-o", str(tmp_path / "x.png")], ["streams", ""],
                 ["trace", ""]):
        out = synack(*args)
        assert out.returncode == 1 and "the file name is empty" in out.stderr, args
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("command", ["streams", "trace", "export", "streams --json"])
def test_cli_prints_file_names_that_are_not_utf8(tmp_path: Path, command: str) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.pcap"
    with open(raw, "wb") as f:
        f.write(b.pcap(b.handshake()))
    words = command.split()
    args = [os.fsencode(w) for w in words] + [raw]
    if words[0] == "export":
        args += [b"-o", os.fsencode(tmp_path) + b"/out\xe9.png"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8",
           "LANG": "en_US.UTF-8", "LC_ALL": "en_US.UTF-8"}
    out = subprocess.run([sys.executable.encode(), b"-m", b"gui", *args], cwd=ROOT,
                         capture_output=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert b"Traceback" not in out.stderr
    text = out.stdout.decode("utf-8")            # valid UTF-8 whatever the name
    if words[0] in ("export",):
        assert "out\\xe9.png" in text
    elif command == "streams":
        assert "10.0.0.1:40000" in text


def test_cli_reports_a_missing_non_utf8_file(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/nope\xff.pcap"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    out = subprocess.run([sys.executable.encode(), b"-m", b"gui", b"streams", raw],
                         cwd=ROOT, capture_output=True, timeout=60, env=env)
    assert out.returncode == 1
    assert b"nope\\xff.pcap" in out.stderr and b"Traceback" not in out.stderr


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_cli_refuses_devices(path: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"no {path}")
    out = synack("streams", path)
    assert out.returncode == 1
    assert "not a regular file: it is a character device" in out.stderr
