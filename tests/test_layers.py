"""The layers hold, read from the source (ARCHITECTURE.md "Who may import whom").

``cli`` → ``actors`` → ``jobs`` → ``engine``, and ``netsim`` beside them: ``engine/`` imports
nothing from ``jobs``, ``actors``, ``cli`` or ``netsim``; ``jobs/`` nothing from ``actors`` or
``cli``; only ``engine/runtime.py`` imports Ray inside ``engine/``; and no module of the
project imports itself back through others. Every import counts, also one inside a function
(it runs in some process sooner or later); only ``if TYPE_CHECKING:`` blocks are ignored.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: the project's top-level packages and modules (``cli`` is a module today and a package after
#: the CLI's split: both are found)
TOP = ("engine", "actors", "jobs", "netsim", "cli")

FORBIDDEN = {
    "engine": ("jobs", "actors", "cli", "netsim"),
    "jobs": ("actors", "cli"),
}

#: Cycles known and being removed elsewhere: each entry names who removes it. An entry whose
#: cycle is gone fails the test below, so the list only ever shrinks.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted (``from a.b import c`` gives a.b and, if a module, a.b.c)
    line: int


def project_modules() -> dict[str, Path]:
    """Dotted name → file of every module of the project (tests, bench and schemas aside)."""
    found: dict[str, Path] = {}
    for top in TOP:
        module_file, package = REPO / f"{top}.py", REPO / top
        if module_file.is_file():
            found[top] = module_file
        if package.is_dir():
            for path in sorted(package.rglob("*.py")):
                parts = path.relative_to(REPO).with_suffix("").parts
                name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                found[name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[Import] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend(Import(module, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node)
            out.append(Import(module, base, node.lineno))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # ``from engine.store import loads``: the module loads
                    out.append(Import(module, sub, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


MODULES = project_modules()
IMPORTS = [imp for name, path in MODULES.items() for imp in imports_of(name, path, set(MODULES))]


def _top(name: str) -> str:
    return name.split(".")[0]


def _where(imp: Import) -> str:
    return f"{MODULES[imp.module].relative_to(REPO)}:{imp.line} imports {imp.target}"


def test_the_project_is_found():
    assert {"engine.runtime", "engine.store.store", "actors.clients", "jobs.registry", "netsim.server"} <= set(MODULES)
    assert any(_top(m) == "cli" for m in MODULES)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer):
    bad = [_where(imp) for imp in IMPORTS
           if _top(imp.module) == layer and _top(imp.target) in FORBIDDEN[layer]]
    assert not bad, f"{layer}/ must not import {', '.join(FORBIDDEN[layer])}:\n" + "\n".join(bad)


def test_only_the_runtime_imports_ray_inside_the_engine():
    bad = [_where(imp) for imp in IMPORTS
           if _top(imp.module) == "engine" and imp.module != "engine.runtime" and _top(imp.target) == "ray"]
    assert not bad, "only engine/runtime.py may import ray inside engine/:\n" + "\n".join(bad)


def _graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (``import a.b.c`` also runs a and a.b)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for imp in IMPORTS:
        parts = imp.target.split(".")
        for i in range(1, len(parts) + 1):
            target = ".".join(parts[:i])
            if target in MODULES and target != imp.module and not imp.module.startswith(target + "."):
                graph[imp.module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_among_the_project_modules():
    cycles = [c for c in _cycles(_graph()) if tuple(c) not in KNOWN_CYCLES]
    assert not cycles, "import cycles (each line one set of modules that import each other):\n" + \
        "\n".join(" ↔ ".join(c) for c in cycles)


def test_every_known_cycle_still_exists():
    gone = set(KNOWN_CYCLES) - {tuple(c) for c in _cycles(_graph())}
    assert not gone, f"remove these from KNOWN_CYCLES, they are fixed: {sorted(gone)}"


def test_the_cycle_finder_finds_a_cycle():
    """The check above can fail: a two-module and a three-module cycle are found, a chain is not."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
