"""The package has no import cycles: module-level imports between receiver modules form a
DAG (imports only for the type checker, under `if TYPE_CHECKING:`, are not imports), and so
do the packages: the first-level subpackages of receiver/, each root module its own node."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "receiver"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str], root: Path = ROOT) -> set[str]:
    """receiver modules imported at module level (not in functions, not TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.ClassDef) else []:
            if isinstance(sub, ast.Import):
                found |= {a.name for a in sub.names}
            elif isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1]
                                    + ([base] if base else []))  # fmt: skip
                found.add(base)
                found |= {f"{base}.{a.name}" for a in sub.names}
    return {m for m in found if m in modules and m != me}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    root = package.parent
    paths = sorted(package.rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    try:
        return {module_name(p, root): imports_of(p, modules, root) for p in paths}
    except SystemError:
        # CPython 3.11's "AST constructor recursion depth mismatch": after an earlier test
        # of this process hit a RecursionError, ast.parse can fail on valid source
        # (python/cpython#106905). The same walk in a fresh interpreter.
        return _graph_elsewhere(package)


def _graph_elsewhere(package: Path) -> dict[str, set[str]]:
    code = (
        "import json, sys; from pathlib import Path; from tests.unit.test_imports import graph;"
        "print(json.dumps({k: sorted(v) for k, v in graph(Path(sys.argv[1])).items()}))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(package)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return {k: set(v) for k, v in json.loads(out).items()}


def node_of(module: str) -> str:
    """A module's package: its first-level subpackage (receiver.api for receiver.api.state),
    or the root module itself (receiver.models)."""
    return ".".join(module.split(".")[:2])


def package_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """Which package imports which other one (imports inside a package are not edges)."""
    packages: dict[str, set[str]] = {}
    for m, deps in g.items():
        packages.setdefault(node_of(m), set()).update(node_of(d) for d in deps)
    return {p: deps - {p} for p, deps in packages.items()}


def edges_between(g: dict[str, set[str]], a: str, b: str) -> list[str]:
    """The module imports that make package `a` import package `b` (for the message)."""
    return [f"{m} → {d}" for m, deps in sorted(g.items()) if node_of(m) == a
            for d in sorted(deps) if node_of(d) == b]  # fmt: skip


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(g[m]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_no_import_cycles() -> None:
    g = graph()
    assert "receiver.server.settings" in g["receiver.server.check"]  # the walker sees imports
    assert find_cycle(g) is None, " → ".join(find_cycle(g) or [])


def test_no_package_import_cycles() -> None:
    g = graph()
    packages = package_graph(g)
    assert "receiver.store" in packages["receiver.server"]  # the packages see imports
    assert "receiver.cli" in packages and "receiver.models" in packages  # root modules too
    cycle = find_cycle(packages)
    assert cycle is None, (
        " → ".join(cycle or [])
        + ": "
        + "; ".join(
            e
            for a, b in zip(cycle or [], (cycle or [])[1:], strict=False)
            for e in edges_between(g, a, b)
        )
    )


def test_the_package_checker_finds_an_injected_cycle(tmp_path: Path) -> None:
    # Two packages whose modules form no module cycle, but a package one (a → b → a),
    # beside a root module; and the same tree with the edge back under TYPE_CHECKING.
    pkg = tmp_path / "receiver"
    for name, text in {
        "__init__.py": "",
        "models.py": "X = 1\n",
        "a/__init__.py": "",
        "a/one.py": "from receiver.b.two import Y\n",
        "a/three.py": "from receiver import models\nZ = 3\n",
        "b/__init__.py": "",
        "b/two.py": "Y = 2\n",
        "b/four.py": "from receiver.a.three import Z\n",
    }.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    g = graph(pkg)
    assert find_cycle(g) is None  # the module-level check cannot see it
    assert package_graph(g) == {"receiver": set(), "receiver.models": set(),
                                "receiver.a": {"receiver", "receiver.b", "receiver.models"},
                                "receiver.b": {"receiver.a"}}  # fmt: skip
    assert find_cycle(package_graph(g)) == ["receiver.a", "receiver.b", "receiver.a"]
    assert edges_between(g, "receiver.b", "receiver.a") == ["receiver.b.four → receiver.a.three"]
    (pkg / "b/four.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from receiver.a.three import Z\n"
    )
    assert find_cycle(package_graph(graph(pkg))) is None


def test_the_checker_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_store_does_not_import_the_composed_settings() -> None:
    # Each package owns its config section; settings.py composes them, not the reverse.
    g = graph()
    for m, deps in g.items():
        if m.startswith(("receiver.store", "receiver.pipeline", "receiver.notifiers")):
            assert "receiver.server.settings" not in deps, m
