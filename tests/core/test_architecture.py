"""The one rule, checked: core imports no Qt, pyqtgraph or gui; only core.capture imports scapy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "gui")
CAPTURE_EDGE = CORE / "capture"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("." * node.level + (node.module or ""))
            elif node.module:
                names.add(node.module)
    return names


CORE_FILES = sorted(CORE.rglob("*.py"))


def test_core_has_modules() -> None:
    assert len(CORE_FILES) >= 8


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports(path: Path) -> None:
    for name in imported_modules(path):
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
    code = ("import sys, core.machine, core.pair, core.trace, core.demo\n"
            "print(any(m.split('.')[0] == 'scapy' for m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"
