"""PNG export: pages for tall diagrams, scale, the current view, the headless command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from core.demo import demo_timeline
from gui.diagram.diagram_layout import DiagramLayout
from gui.export.export import export_png, page_bands, page_paths, render_pages, render_view
from tests.gui.test_layout import bulk_timeline

ROOT = Path(__file__).resolve().parents[2]


def test_a_tall_diagram_is_split_into_pages_between_rows(qtbot: QtBot, tmp_path: Path) -> None:
    timeline = bulk_timeline(400)
    layout = DiagramLayout(timeline)
    bands = page_bands(layout, 1.0, max_height=4000)
    assert len(bands) > 2
    assert bands[0].top == 0 and bands[-1].bottom == layout.height
    for a, b in zip(bands, bands[1:], strict=False):
        assert a.bottom == b.top                      # nothing lost between pages
        # the cut is just under a row: no send row's label band is split
        for i in range(len(timeline)):
            y0 = layout.arrow(i).y0
            assert not (y0 - layout.label_height - 4 < a.bottom < y0)
    pages = render_pages(timeline, max_height=4000)
    assert len(pages) == len(bands)
    assert all(p.height() <= 4000 for p in pages)
    written = export_png(timeline, tmp_path / "bulk.png")
    assert [Path(name).name for name, _, _ in written] == \
        [Path(p).name for p in page_paths(str(tmp_path / "bulk.png"), len(written))]
    for name, width, height in written:
        image = QImage(name)
        assert (image.width(), image.height()) == (width, height)


def test_scale_multiplies_the_size(qtbot: QtBot) -> None:
    timeline = demo_timeline()
    one = render_pages(timeline)[0]
    two = render_pages(timeline, scale=2.0)[0]
    assert two.width() == pytest.approx(one.width() * 2, abs=2)
    assert two.height() == pytest.approx(one.height() * 2, abs=2)
    with pytest.raises(ValueError, match="scale"):
        render_pages(timeline, scale=10)


def test_current_view_export(qtbot: QtBot) -> None:
    timeline = demo_timeline()
    layout = DiagramLayout(timeline, show_title=False)
    image = render_view(layout, QRectF(0, 300, layout.width, 400), cursor=0.005, selected=0)
    assert image.width() == pytest.approx(layout.width, abs=2)
    assert 400 <= image.height() <= 700


def test_headless_export_command(tmp_path: Path) -> None:
    out = tmp_path / "scenario.png"
    run = subprocess.run([sys.executable, "-m", "gui.app.cli", "export", "--scenario", "hello_ok",
                          "--set", "delay=0.02", "--scale", "150", "--compact", "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and out.stat().st_size > 5000
    bad = subprocess.run([sys.executable, "-m", "gui.app.cli", "export", "--scale", "1000", "-o",
                          str(tmp_path / "x.png")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin",
                                           "QT_QPA_PLATFORM": "offscreen"})
    assert bad.returncode == 1 and bad.stderr.startswith("synack: --scale 1000 is outside")


def test_export_dialog_writes_the_whole_diagram_or_the_view(qtbot: QtBot,
                                                             tmp_path: Path) -> None:
    from gui.diagram.sequence_view import SequenceView
    from gui.export.export_dialog import ExportDialog
    view = SequenceView(demo_timeline())
    qtbot.add_widget(view)
    view.resize(900, 500)
    dialog = ExportDialog(view)
    qtbot.add_widget(dialog)
    dialog.path.setText(str(tmp_path / "whole.png"))
    dialog.scale.setValue(150)
    assert "One image" in dialog.summary.text()
    [(name, width, height)] = dialog.export()
    whole = render_pages(demo_timeline(), scale=1.5)[0]
    assert (width, height) == (whole.width(), whole.height())
    dialog.current.setChecked(True)
    dialog.scale.setValue(100)
    dialog.path.setText(str(tmp_path / "view.png"))
    [(name, width, height)] = dialog.export()
    assert height < whole.height() / 1.5 and Path(name).stat().st_size > 1000


@pytest.mark.parametrize("source", ["demo", "bulk"])
def test_the_dialog_announces_what_it_writes(qtbot: QtBot, tmp_path: Path,
                                             source: str) -> None:
    """The dialog's sizes are the written files' (whole diagram, pages, current view, at
    several scales), and the file is named after what is shown."""
    from gui.diagram.sequence_view import SequenceView
    from gui.export.export_dialog import ExportDialog
    timeline = demo_timeline() if source == "demo" else bulk_timeline(300)
    view = SequenceView(timeline)
    qtbot.add_widget(view)
    view.resize(700, 500)
    view.show()
    qtbot.wait(300)                                   # the view refits to its width
    view.center_on_y(view.diagram_layout().height / 2)
    dialog = ExportDialog(view, folder=str(tmp_path))
    qtbot.add_widget(dialog)
    assert Path(dialog.path.text()).parent == tmp_path
    for current in (False, True):
        dialog.current.setChecked(current)
        for percent in (50, 100, 175):
            dialog.scale.setValue(percent)
            announced = dialog.estimate()
            dialog.path.setText(str(tmp_path / f"{source}-{current}-{percent}.png"))
            written = [(w, h) for _, w, h in dialog.export()]
            assert len(written) == len(announced)
            for (aw, ah), (ww, wh) in zip(announced, written, strict=True):
                assert abs(aw - ww) <= 1 and abs(ah - wh) <= 1
            if len(written) == 1:
                w, h = written[0]
                assert f"{w:,} \u00d7 {h:,} px" in dialog.summary.text()


def test_export_names_come_from_the_source() -> None:
    from gui.export.export import export_name
    assert export_name("handshake_and_close.pcap \u00b7 stream 0") == \
        "handshake_and_close-stream0.png"
    assert export_name("trace.pcapng \u00b7 stream 12") == "trace-stream12.png"
    assert export_name("Scenario: flow_control") == "flow_control.png"
    assert export_name("Demo: handshake, hello / OK, four-way close") == "demo.png"
    assert export_name("a/b: c?") == "a_b_c.png"
    assert export_name("") == "synack.png"
