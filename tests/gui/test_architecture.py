"""gui/ is feature packages in layers, without import cycles.

    diagram                      the two-lane diagram (imports no other gui package)
    inspector, sources, export   each on the diagram only
    playback                     the diagram and the inspector (the bottom panel holds both)
    app                          everything: the command, the main window, its menus
"""

from __future__ import annotations

import ast

from tests.imports import ROOT, cycles, import_graph, module_files

GUI = ROOT / "gui"

#: each package of gui/ and the gui packages it may import
LAYERS: dict[str, set[str]] = {
    "diagram": set(),
    "inspector": {"diagram"},
    "sources": {"diagram"},
    "export": {"diagram"},
    "playback": {"diagram", "inspector"},
    "app": {"diagram", "inspector", "sources", "export", "playback"},
}


def test_gui_is_packages_only() -> None:
    loose = sorted(p.name for p in GUI.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"], f"modules outside a package: {loose}"
    packages = {p.name for p in GUI.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages == set(LAYERS)


def test_every_package_says_what_it_holds() -> None:
    for name in LAYERS:
        init = GUI / name / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree)
        assert doc and "\n" not in doc, f"{init}: a one-line docstring"
        assert tree.body[1:] == [], f"{init} holds its docstring only (importing it is free)"


def test_no_import_cycles_between_gui_modules() -> None:
    assert cycles(import_graph("gui")) == []


def test_gui_packages_import_in_layers() -> None:
    wrong = []
    for module, imported in import_graph("gui").items():
        parts = module.split(".")
        if len(parts) < 3:            # gui, gui.__main__ and the packages' __init__
            continue
        for other in imported:
            target = other.split(".")
            if len(target) >= 2 and target[1] != parts[1] and target[1] not in LAYERS[parts[1]]:
                wrong.append(f"{module} imports {other}")
    assert wrong == []


def test_the_entry_point_is_the_app_command() -> None:
    assert import_graph("gui")["gui.__main__"] == {"gui.app.cli"}
    assert set(module_files("gui")) >= {"gui.app.cli", "gui.app.main_window"}
