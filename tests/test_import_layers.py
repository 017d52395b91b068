"""The import contract: packages import only the layers below them, never up or across.

    rag                          (entry points: wires everything, reads settings)
    evals                        (takes what it measures as arguments)
    routing | knowledge_graph    (side by side: neither imports the other)
    indexing                     (the ground; routing may use only its `levels` module)

Every module's imports are read with `ast`, including lazy imports inside functions and imports under
`TYPE_CHECKING`, so a cycle cannot hide behind a function-level import.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ALLOWED: dict[str, frozenset[str]] = {
    "indexing": frozenset(),
    "routing": frozenset({"indexing.levels"}),
    "knowledge_graph": frozenset({"indexing"}),
    "evals": frozenset({"indexing", "routing", "knowledge_graph"}),
    "rag": frozenset({"indexing", "routing", "knowledge_graph", "evals"}),
}


def imported_packages(source: str, package: str) -> list[tuple[int, str]]:
    """(line, top-level project package) of every import in `source`, a module of `package`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [package] if node.level else [node.module or ""]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in ALLOWED]
    return found


def _allowed(target: str, package: str) -> bool:
    """A module may import its own package, and a lower package (or one named lower module) it is allowed."""
    top = target.split(".")[0]
    return top == package or any(target == a or target.startswith(a + ".") or top == a for a in ALLOWED[package])


def violations(source: str, package: str, where: str) -> list[str]:
    """Lines `where:line imports X` for each import of a project package `package` may not use."""
    return [f"{where}:{line} ({package}) imports {target.split('.')[0]}"
            for line, target in imported_packages(source, package) if not _allowed(target, package)]


def project_modules() -> list[tuple[str, Path]]:
    return [(package, path) for package in ALLOWED for path in sorted((ROOT / package).rglob("*.py"))]


def test_when_reading_every_module_then_no_import_goes_up_or_across() -> None:
    modules = project_modules()
    assert len(modules) > 50, "the packages were not found; run from the repository root"
    problems = [problem for package, path in modules
                for problem in violations(path.read_text(encoding="utf-8"), package, str(path.relative_to(ROOT)))]
    assert problems == [], "imports against the layering:\n" + "\n".join(problems)


@pytest.mark.parametrize(("package", "source", "bad"), [
    ("indexing", "from rag.config import Settings\n", ["rag"]),
    ("routing", "def f():\n    from indexing.types import Chunk\n", ["indexing"]),
    ("routing", "import knowledge_graph.store as kg\n", ["knowledge_graph"]),
    ("knowledge_graph", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import routing.levels\n", ["routing"]),
    ("evals", "class A:\n    def m(self):\n        from rag.types import Principal\n", ["rag"]),
    ("routing", "from indexing.store import IndexStore\n", ["indexing"]),
    ("indexing", "import routing.levels\n", ["routing"]),
])
def test_when_module_imports_up_or_across_then_it_is_reported(package: str, source: str, bad: list[str]) -> None:
    assert [v.rsplit(" ", 1)[-1] for v in violations(source, package, "m.py")] == bad


@pytest.mark.parametrize(("package", "source"), [
    ("knowledge_graph", "from indexing.types import Chunk\nfrom . import tables\n"),
    ("evals", "def f():\n    from routing.policy import decide\n"),
    ("rag", "import evals.runner\nfrom knowledge_graph.store import KnowledgeGraph\n"),
    ("routing", "from indexing.levels import Level\nimport numpy\n"),
])
def test_when_module_imports_down_then_nothing_is_reported(package: str, source: str) -> None:
    assert violations(source, package, "m.py") == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_when_tests_import_a_package_then_it_is_this_repository_s(package: str) -> None:
    """A tests/ folder named like a package (tests/evals with an __init__.py) must not shadow it."""
    import importlib

    module = importlib.import_module(package)
    assert Path(module.__file__).resolve().parent == ROOT / package
