"""The layering contract, read from the code's own imports (module level, as Python runs them):

* no import cycles among memdash's modules;
* the library (``memory_core``) never imports the app (``dashboard``): the ``memdash`` command loads ``memdash
  user`` from the app only when it is installed (``tests/test_library_alone.py`` runs the library without it);
* the dashboard's pages reach stores only through ``dashboard.services`` (no page imports a provider).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules() -> dict[str, Path]:
    found = {}
    for path in [*ROOT.glob("memory_core/**/*.py"), *ROOT.glob("dashboard/**/*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The memdash modules ``path`` imports at module level (``from pkg import sub`` counts as ``pkg.sub``)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{alias.name}" for alias in node.names} & set(known)
            found |= subs | ({node.module} if len(subs) < len(node.names) else set())
    return found & set(known)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_library_does_not_import_the_app() -> None:
    offenders = {name: sorted(t for t in targets if t.split(".")[0] == "dashboard")
                 for name, targets in graph().items() if name.startswith("memory_core")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_pages_reach_stores_only_through_services() -> None:
    offenders = {name: sorted(t for t in targets if t.startswith("memory_core.providers"))
                 for name, targets in graph().items() if name.startswith("dashboard.app_pages")}
    assert {name: found for name, found in offenders.items() if found} == {}
