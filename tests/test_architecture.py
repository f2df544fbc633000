"""The package's shape: no import cycle, no private name used across modules, a lazy public API."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import genretag

PACKAGE = Path(genretag.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = ["genretag", *f.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imports(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """Module -> the package modules it imports (anywhere in it), and (module, name) of private imports."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    private = []
    for mod, path in modules.items():
        package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
                if not target.startswith("genretag"):
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    dest = full if full in modules else target
                    if dest != mod and dest in modules:
                        edges[mod].add(dest)
                    if alias.name.startswith("_") and not alias.name.startswith("__") and full not in modules:
                        private.append((mod, full))
            elif isinstance(node, ast.Import):
                edges[mod].update(a.name for a in node.names if a.name in modules and a.name != mod)
    return edges, private


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_cycle_and_a_private_import():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    modules = _modules()
    edges, _ = _imports(modules)
    assert "genretag.runs" in edges["genretag.training"]  # function-level imports count too


def test_no_import_cycle_in_the_package():
    edges, _ = _imports(_modules())
    assert _cycles(edges) == []


def test_no_private_name_imported_across_modules():
    _, private = _imports(_modules())
    assert private == []


def test_rundir_and_the_cli_start_without_torch():
    code = "import sys, genretag.rundir, genretag.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_decision_rule_is_torch_free():
    code = "import sys, genretag.decision; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_public_api_is_lazy_and_complete():
    code = ("import sys, genretag; assert 'torch' not in sys.modules; "
            "names = ['TrainConfig', 'train', 'tune', 'load_run', 'Run', 'tag_csv', 'GenreTagger', 'evaluate', "
            "'write_report', 'build_ensemble', 'export_run', 'GenretagError', 'DataError', 'ConfigError', "
            "'ModelError', 'OutputExistsError']; assert all(callable(getattr(genretag, n)) for n in names)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
