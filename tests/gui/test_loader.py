"""``CaptureLoader`` and its progress dialog: load, progress, cancel, errors, warnings.

Every wait is on a signal (``qtbot.wait_signal``); the one test that must hold the worker
back does it with a ``threading.Event`` the test sets, never with a sleep.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from core.capture import read_capture
from core.capture.writer import write_pcap
from core.demo import demo_timeline
from core.progress import DECODING, INDEXING, WALKING
from core.streams.stream_output import row_dicts
from gui.sources import loader as loader_module
from gui.sources.loader import READING, STREAMS, CaptureLoader, LoadedCapture, LoadProgressDialog

TIMEOUT = 60_000


@pytest.fixture
def demo_pcap(tmp_path: Path) -> Path:
    path = tmp_path / "demo.pcap"
    write_pcap(demo_timeline(), path)
    return path


@pytest.fixture
def loader(qtbot: QtBot) -> Any:
    owner = QWidget()
    qtbot.add_widget(owner)
    made = CaptureLoader(owner)
    yield made
    made.cancel()
    assert made.wait(TIMEOUT)


class Seen:
    """Every signal of a loader, in order."""

    def __init__(self, loader: CaptureLoader) -> None:
        self.progress: list[tuple[str, int, int]] = []
        self.ends: list[tuple[str, object]] = []
        loader.progressed.connect(lambda *a: self.progress.append(a))
        loader.loaded.connect(lambda r: self.ends.append(("loaded", r)))
        loader.failed.connect(lambda m: self.ends.append(("failed", m)))
        loader.cancelled.connect(lambda: self.ends.append(("cancelled", None)))


def _load(qtbot: QtBot, loader: CaptureLoader, path: Path) -> LoadedCapture:
    with qtbot.wait_signal(loader.loaded, timeout=TIMEOUT) as blocker:
        loader.start(path)
    result = blocker.args[0]
    assert isinstance(result, LoadedCapture)
    return result


def test_small_capture_loads_with_progress(qtbot: QtBot, loader: CaptureLoader,
                                           demo_pcap: Path) -> None:
    seen = Seen(loader)
    result = _load(qtbot, loader, demo_pcap)
    assert not loader.busy
    assert result.path == str(demo_pcap) and result.name == "demo.pcap"
    assert result.warnings == ()
    assert result.rows.streams.tolist() == [0]
    assert result.rows.rows["packets"].tolist() == [len(result.index)]
    assert len(result.replay(0).timeline) == len(result.index)
    size = demo_pcap.stat().st_size
    assert seen.progress[0] == (READING, 0, size)
    assert (READING, size, size) in seen.progress
    assert seen.progress[-1] == (STREAMS, 1, 1)
    assert [kind for kind, _ in seen.ends] == ["loaded"]


def test_corpus_capture_gives_the_rows_of_core(qtbot: QtBot, loader: CaptureLoader,
                                               corpus: Path) -> None:
    path = corpus / "public" / "tfo-5c1fa7f9ae91.pcap"
    result = _load(qtbot, loader, path)
    assert list(row_dicts(result.rows)) == list(row_dicts(loader_module.stream_table(
        read_capture(path))))
    assert len(result.rows) == 3 and result.rows.index is result.index
    assert result.replay(2).timeline.client.port == 13048


def test_cancel_on_the_first_progress(qtbot: QtBot, loader: CaptureLoader,
                                      demo_pcap: Path) -> None:
    seen = Seen(loader)
    loader.progressed.connect(loader.cancel)
    with qtbot.wait_signal(loader.cancelled, timeout=TIMEOUT):
        loader.start(demo_pcap)
    assert len(seen.progress) == 1           # nothing is told once cancel was asked
    assert [kind for kind, _ in seen.ends] == ["cancelled"]
    assert not loader.busy


def test_cancel_stops_the_worker_inside_core(qtbot: QtBot, loader: CaptureLoader,
                                             demo_pcap: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    replayed: list[int] = []
    real_read = loader_module.read_capture

    def held_read(path: str, **kw: Any) -> Any:
        assert release.wait(TIMEOUT / 1000)
        return real_read(path, **kw)

    real_table = loader_module.stream_table

    def spy_rows(*args: Any, **kw: Any) -> Any:
        replayed.append(1)
        return real_table(*args, **kw)

    monkeypatch.setattr(loader_module, "read_capture", held_read)
    monkeypatch.setattr(loader_module, "stream_table", spy_rows)
    with qtbot.wait_signal(loader.cancelled, timeout=TIMEOUT):
        loader.start(demo_pcap)
        loader.cancel()
        release.set()
    assert loader.wait(TIMEOUT)
    assert replayed == []                    # core's first progress call raised Cancelled


def test_garbage_fails_with_the_path(qtbot: QtBot, loader: CaptureLoader,
                                     tmp_path: Path) -> None:
    path = tmp_path / "garbage.pcap"
    path.write_bytes(bytes(range(256)) * 8)
    with qtbot.wait_signal(loader.failed, timeout=TIMEOUT) as blocker:
        loader.start(path)
    message = blocker.args[0]
    assert str(path) in message
    assert "at byte 0" in message and "not a pcap or pcapng file" in message


def test_missing_file_fails(qtbot: QtBot, loader: CaptureLoader, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.pcap"
    with qtbot.wait_signal(loader.failed, timeout=TIMEOUT) as blocker:
        loader.start(path)
    assert str(path) in blocker.args[0] and "cannot read the file" in blocker.args[0]


def test_unexpected_errors_fail_too(qtbot: QtBot, loader: CaptureLoader, demo_pcap: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(loader_module, "stream_table", broken)
    with qtbot.wait_signal(loader.failed, timeout=TIMEOUT) as blocker:
        loader.start(demo_pcap)
    assert str(demo_pcap) in blocker.args[0] and "RuntimeError: boom" in blocker.args[0]


def test_cut_file_loads_with_a_warning(qtbot: QtBot, loader: CaptureLoader,
                                       demo_pcap: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(demo_pcap.read_bytes()[:-10])
    result = _load(qtbot, loader, cut)
    assert len(result.warnings) == 1 and "the file ends inside record" in result.warnings[0]
    assert len(result.index) == len(read_capture(demo_pcap)) - 1


def test_corpus_cut_file(qtbot: QtBot, loader: CaptureLoader, corpus: Path) -> None:
    result = _load(qtbot, loader, corpus / "kernel" / "broken_truncated_midrecord.pcap")
    assert any("ends inside record" in w for w in result.warnings)
    assert result.rows


def test_a_new_start_replaces_the_running_load(qtbot: QtBot, loader: CaptureLoader,
                                               demo_pcap: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pcap"
    other.write_bytes(demo_pcap.read_bytes())
    seen = Seen(loader)
    with qtbot.wait_signal(loader.loaded, timeout=TIMEOUT) as blocker:
        loader.start(demo_pcap)
        loader.start(other)
    assert blocker.args[0].path == str(other)
    assert loader.wait(TIMEOUT)
    QApplication.processEvents()             # what the first job might still have queued
    assert [kind for kind, _ in seen.ends] == ["loaded"]
    assert {what for what, _, _ in seen.progress} <= {READING, WALKING, DECODING, INDEXING,
                                                        STREAMS}


# ----- the dialog ----------------------------------------------------------------------------
def _dialog(qtbot: QtBot, loader: CaptureLoader) -> LoadProgressDialog:
    parent = loader.parent()
    assert isinstance(parent, QWidget)
    dialog = LoadProgressDialog(loader, parent, show_after_ms=0)
    return dialog


def test_dialog_follows_a_load(qtbot: QtBot, loader: CaptureLoader, demo_pcap: Path) -> None:
    dialog = _dialog(qtbot, loader)
    seen: list[tuple[str, int, str]] = []            # after the dialog's own slot
    loader.progressed.connect(
        lambda stage, *_: seen.append((stage, dialog.bar.value(), dialog.label.text())))
    _load(qtbot, loader, demo_pcap)
    assert not dialog.isVisible()
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == [READING, WALKING, DECODING, INDEXING, STREAMS]
    for stage in stages:                             # each stage's bar moves forward
        values = [value for s, value, _ in seen if s == stage]
        assert values == sorted(values) and values[-1] == dialog.STEPS
    size = demo_pcap.stat().st_size
    assert ("demo.pcap\nDecoding the packets: "
            f"{size:,} bytes of {size:,} bytes") in [text for _, _, text in seen]
    assert "demo.pcap\nNumbering the streams: step 4 of 4" in [text for _, _, text in seen]
    assert dialog.bar.value() == 0                   # ready for the next load
    assert dialog.error_box is None


def test_dialog_cancel_button_cancels(qtbot: QtBot, loader: CaptureLoader,
                                      demo_pcap: Path) -> None:
    dialog = _dialog(qtbot, loader)
    cancel = dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
    loader.progressed.connect(cancel.click)                 # press Cancel at once
    with qtbot.wait_signal(loader.cancelled, timeout=TIMEOUT):
        loader.start(demo_pcap)
    assert not dialog.isVisible()


def test_dialog_shows_core_message_on_failure(qtbot: QtBot, loader: CaptureLoader,
                                              tmp_path: Path) -> None:
    dialog = _dialog(qtbot, loader)
    path = tmp_path / "bad.pcapng"
    path.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))
    with qtbot.wait_signal(loader.failed, timeout=TIMEOUT) as blocker:
        loader.start(path)
    box = dialog.error_box
    assert box is not None and box.isVisible()
    assert box.text() == blocker.args[0] and str(path) in box.text()
    box.close()


def test_run_with_progress(qtbot: QtBot, demo_pcap: Path) -> None:
    parent = QWidget()
    qtbot.add_widget(parent)
    made = loader_module.run_with_progress(parent, demo_pcap)
    assert len(parent.findChildren(LoadProgressDialog)) == 1
    results: list[LoadedCapture] = []
    made.loaded.connect(results.append)
    with qtbot.wait_signal(made.destroyed, timeout=TIMEOUT):  # deleted once loaded
        pass
    assert len(results) == 1 and results[0].rows
    QApplication.processEvents()
    assert parent.findChildren(LoadProgressDialog) == []
