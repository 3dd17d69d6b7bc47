"""The package's shape, read from its source (AST): no import cycles, no module imports the CLI."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "img2gif"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool) -> set[str]:
    """img2gif modules ``path`` imports (relative or absolute), at module level or anywhere."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "img2gif"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "img2gif":
                continue
            for alias in node.names:  # "from . import x" may name a module
                candidate = f"{base}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists()
                          or (PACKAGE.parent / Path(*candidate.split(".")) / "__init__.py").exists() else base)
    return {m for m in found if m != module_name(path)}


def graph(top_level_only: bool) -> dict[str, set[str]]:
    return {module_name(p): imports(p, top_level_only) for p in PACKAGE.rglob("*.py")}


def find_cycle(edges: dict[str, set[str]]):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt == "img2gif":  # the package root re-exports lazily; it imports nothing at load
                continue
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle():
    assert find_cycle(graph(top_level_only=False)) is None  # lazy imports inside functions count too


def test_no_module_imports_the_cli():
    for module, targets in graph(top_level_only=False).items():
        if module in ("img2gif.cli", "img2gif.__main__"):
            continue
        assert "img2gif.cli" not in targets, f"{module} imports the CLI"


def test_the_version_module_imports_nothing():
    tree = ast.parse((PACKAGE / "_version.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_package_root_imports_only_the_version():
    assert imports(PACKAGE / "__init__.py", top_level_only=True) == {"img2gif._version"}


def test_the_checker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_module_names_a_bench_script():
    """The product stands on its own: help texts, errors and comments send nobody to bench/
    (which only calls the product); measurements are cited by their BENCHMARKS.md section."""
    offenders = [str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")
                 if "bench/" in p.read_text() or "import bench" in p.read_text() or "from bench" in p.read_text()]
    assert offenders == []


def test_sizes_say_their_order():
    """Pair.size is (width, height), as files write it; field_size is (height, width), as a
    tensor's shape is: each named in its type."""
    import numpy as np

    from img2gif.fit import FitSettings, build_ode
    from img2gif.pair import Pair
    from img2gif.sizes import HeightWidth, WidthHeight

    a = np.zeros((30, 50, 3), np.uint8)
    settings = FitSettings(working_size=25)
    pair = Pair(a, a, build_ode(settings, 3, (15, 25)), settings)
    assert pair.size == WidthHeight(width=50, height=30) and pair.size.width == 50
    assert pair.field_size == HeightWidth(height=15, width=25) and pair.field_size.height == 15


def test_no_test_module_imports_another():
    """Tests share helpers through conftest.py and helpers.py only, anywhere in a module (a test
    module imported by another runs its module-level code twice and couples the two)."""
    tests = Path(__file__).resolve().parent
    modules = {p.stem for p in tests.glob("test_*.py")}
    offenders = []
    for path in tests.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name} imports {name}" for name in names if name.split(".")[0] in modules]
    assert offenders == []
