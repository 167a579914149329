"""Regenerate the screenshots in docs/: ``.venv/bin/python docs/screenshots.py``.

- ``demo.png`` and ``time_wait_lost_ack.png``: exported diagrams (headless).
- ``replay_simultaneous_close.png``: a corpus capture replayed (needs ../shared/corpus).
- ``replay_lost_last_ack.png``: a simulation captured next to the server, replayed.
- ``window-*.png``: the real main window under Xvfb (started here on a free display
  unless DISPLAY is already set), grabbed from the X screen: the demo mid-close, a lossy
  capture (needs the corpus), a replayed simultaneous close in TIME_WAIT past the end of
  the capture, and the zero-window scenario (``flow_control``) with the bars flagged;
  ``window-1024x768.png``: the bundled lossy example on a 1024x768 screen (the narrow
  arrangement: details under the sources).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SCREEN = (1600, 1000)


def export_diagrams() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from core.demo import demo_timeline
    from core.simulate.scenarios import get
    from gui.export.export import export_png

    for name, timeline in (("demo", demo_timeline()),
                           ("time_wait_lost_ack", get("time_wait_lost_ack").run())):
        size = export_png(timeline, DOCS / f"{name}.png")[0][1:]
        print(f"wrote docs/{name}.png {size}")
    export_replayed_simulation()
    capture = ROOT.parent / "shared" / "corpus" / "kernel" / "simultaneous_close_client.pcap"
    if capture.exists():
        from core.analysis import analyze_stream
        from core.capture import read_capture
        from core.replay import replay_stream
        index = read_capture(str(capture))
        replayed = replay_stream(index, 0, analyze_stream(index, 0)).timeline
        size = export_png(replayed, DOCS / "replay_simultaneous_close.png")[0][1:]
        print(f"wrote docs/replay_simultaneous_close.png {size}")


def export_replayed_simulation() -> None:
    """``replay_lost_last_ack.png``: time_wait_lost_ack captured next to the server (with
    timestamps) and replayed: the client's re-ACK echoes the first FIN, so the client's
    lost ACK is drawn, not a lost FIN."""
    import tempfile

    from core.capture import read_capture
    from core.capture.taps import TapPoint, write_capture
    from core.replay import replay_stream
    from core.simulate.scenarios import get
    from gui.export.export import export_png

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "time_wait_lost_ack-server.pcap"
        write_capture(get("time_wait_lost_ack").run(), str(path), TapPoint.parse("server"))
        replayed = replay_stream(read_capture(str(path)), 0).timeline
        size = export_png(replayed, DOCS / "replay_lost_last_ack.png")[0][1:]
    print(f"wrote docs/replay_lost_last_ack.png {size}")


CORPUS = ROOT.parent / "shared" / "corpus" / "kernel"
#: (file name, source, where the cursor goes: "step:N" stops from the start, "at:S"
#: seconds from the start, "end-S" seconds before the end)
SHOTS: tuple[tuple[str, str, str], ...] = (
    ("window-demo", "scenario:close_client_first", "at:0.095"),
    ("window-lossy-capture", "capture:loss5_delay20_bulk_client.pcap", "step:160"),
    ("window-simultaneous-close", "capture:simultaneous_close_client.pcap", "end-20"),
    ("window-zero-window", "scenario:flow_control", "at:0.857"),
)
#: shots on a small screen: (file name, bundled example file, where the cursor goes)
SMALL = (1024, 768)
SMALL_SHOTS: tuple[tuple[str, str, str], ...] = (
    ("window-1024x768", "example:lossy_transfer.pcap", "at:0.03"),
)


def grab_main_window(screen: tuple[int, int] = SCREEN,
                     shots: tuple[tuple[str, str, str], ...] = SHOTS) -> None:
    """Runs with DISPLAY set: show each source in the window, grab it from the screen."""
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from core.demo import demo_timeline
    from gui.app.main_window import MainWindow

    app = QApplication([sys.argv[0]])
    settings = QSettings(str(DOCS / ".screenshots.ini"), QSettings.Format.IniFormat)
    window = MainWindow(demo_timeline(), settings=settings, scenario="close_client_first")
    window.move(0, 0)
    window.resize(screen[0], screen[1])
    window.show()

    def wait(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    wait(800)
    for name, source, place in shots:
        kind, _, what = source.partition(":")
        if kind == "capture":
            path = CORPUS / what
            if not path.exists():
                print(f"skipped docs/{name}.png: {path} is not here")
                continue
            window.open_capture(str(path))
        elif kind == "example":
            from resources import EXAMPLES
            window.open_example(next(e for e in EXAMPLES if e.file == what))
            what = what.rsplit(".", 1)[0]
        else:
            window.simulation.select(what)
        for _ in range(100):
            wait(100)
            timeline = window.timeline
            if timeline is not None and (what in timeline.title):
                break
        panel = window.panel
        assert panel is not None
        controller = panel.controller
        if place.startswith("step:"):
            for _ in range(int(place[5:])):
                controller.step_forward()
        elif place.startswith("at:"):
            controller.seek(controller.start_time + float(place[3:]))
            window.view.set_selected(controller.segment_at_cursor())  # type: ignore[union-attr]
        else:
            controller.seek(controller.end_time - float(place[4:]))
        wait(600)
        geometry = window.frameGeometry()
        shot = window.screen().grabWindow(0, geometry.x(), geometry.y(),
                                          geometry.width(), geometry.height())
        shot.save(str(DOCS / f"{name}.png"))
        print(f"wrote docs/{name}.png ({shot.width()}x{shot.height()})")
    (DOCS / ".screenshots.ini").unlink(missing_ok=True)
    app.quit()


def _free_display() -> int:
    number = 90
    while Path(f"/tmp/.X11-unix/X{number}").exists():
        number += 1
    return number


def main_window_under_xvfb(screen: tuple[int, int] = SCREEN, flag: str = "--window") -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    if env.get("DISPLAY"):
        subprocess.run([sys.executable, __file__, flag], check=True, env=env)
        return
    number = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0",
                             f"{screen[0]}x{screen[1]}x24", "-nolisten", "tcp"],
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # a dev script may wait for the server to come up
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.05)
        subprocess.run([sys.executable, __file__, flag], check=True,
                       env={**env, "DISPLAY": f":{number}"})
    finally:
        xvfb.terminate()
        xvfb.wait()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] == ["--window"]:
        grab_main_window()
    elif sys.argv[1:] == ["--small"]:
        grab_main_window(SMALL, SMALL_SHOTS)
    else:
        export_diagrams()
        main_window_under_xvfb()
        main_window_under_xvfb(SMALL, "--small")
