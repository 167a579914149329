"""The one rule, checked: core imports no Qt, pyqtgraph or gui; only core.capture imports scapy.

Also: core has no import cycle, and the TCP endpoint (``core.tcp``) stands on core's shared
modules alone, below the capture reader, the replay, the analysis and the simulator.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.imports import ROOT, cycles, import_graph, imported_names

CORE = ROOT / "core"
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "gui")
CAPTURE_EDGE = CORE / "capture"
CORE_FILES = sorted(CORE.rglob("*.py"))


def test_core_has_modules() -> None:
    assert len(CORE_FILES) >= 8


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports(path: Path) -> None:
    for name in imported_names(path):
        top = name.split(".")[0]
        assert not name.startswith("."), f"{path.name}: relative import {name!r}"
        assert top not in FORBIDDEN, f"{path.name} imports {name}: core must stay Qt-free"
        if top == "scapy":
            assert CAPTURE_EDGE in path.parents, \
                f"{path.name} imports scapy: only core/capture/ may"


def test_importing_core_loads_no_qt() -> None:
    modules = [p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
               for p in CORE_FILES]
    modules = [m.removesuffix(".__init__") for m in modules]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "", f"importing core loaded: {out.stdout.strip()}"
    assert len(modules) == len(CORE_FILES)


def test_scapy_stays_out_of_core_outside_capture() -> None:
    code = ("import sys, core.tcp.machine, core.simulate.pair, core.trace, core.demo\n"
            "print(any(m.split('.')[0] == 'scapy' for m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_import_cycles_between_core_modules() -> None:
    assert cycles(import_graph("core")) == []


def test_the_endpoint_imports_no_core_package_but_its_own() -> None:
    packages = {p.name for p in CORE.iterdir() if (p / "__init__.py").exists()}
    assert {"tcp", "capture", "replay", "analysis", "simulate", "streams"} <= packages
    wrong = [f"{module} imports {other}"
             for module, imported in import_graph("core").items()
             if module.split(".")[:2] == ["core", "tcp"]
             for other in imported
             if other.split(".")[1] in packages - {"tcp"}]
    assert wrong == []
