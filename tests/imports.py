"""SynAck's own import graph, read from the source with ``ast`` (nothing is imported).

Every import counts: at the top, inside functions and under ``TYPE_CHECKING``.
``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg``; a module's own parent packages are no edge (importing it imports them anyway).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_files(top: str) -> dict[str, Path]:
    """Dotted name -> file of every module under ``ROOT/top`` (a package is its ``__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted((ROOT / top).rglob("*.py")):
        name = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        found[name.removesuffix(".__init__")] = path
    return found


def imported_names(path: Path) -> set[str]:
    """Every module name an import statement of ``path`` names (``from a import b``: ``a``
    and ``a.b``); relative imports keep their leading dots."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_graph(*tops: str) -> dict[str, set[str]]:
    """Module -> the modules of ``tops`` it imports."""
    files = {name: path for top in tops for name, path in module_files(top).items()}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges: set[str] = set()
        for imported in imported_names(path):
            if imported in files:
                edges.add(imported)
            elif imported.rpartition(".")[0] in files:   # from pkg import a_function
                edges.add(imported.rpartition(".")[0])
        graph[name] = {e for e in edges if e != name and not name.startswith(e + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected sets of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
