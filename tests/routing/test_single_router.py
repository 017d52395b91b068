"""One routing entry point: no module but routing/router.py (and the policy itself) calls `decide`."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("indexing", "knowledge_graph", "routing", "rag", "evals")
ALLOWED = {Path("routing/router.py"), Path("routing/policy.py")}


def _uses_of_decide(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "decide":
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "routing.policy":
            if any(alias.name == "decide" for alias in node.names):
                lines.append(node.lineno)
    return lines


def _modules() -> list[Path]:
    return sorted(p.relative_to(ROOT) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_when_packages_scanned_then_only_the_router_calls_decide():
    offenders = {str(p): lines for p in _modules() if p not in ALLOWED and (lines := _uses_of_decide(ROOT / p))}

    assert offenders == {}, f"route through routing.router.Router instead of calling decide(): {offenders}"


@pytest.mark.parametrize("source, expected", [
    ("from routing.policy import decide\n", [1]),
    ("import routing.policy as p\np.decide([], [], [], 1, {}, None)\n", [2]),
    ("from routing.router import Router\n", []),
])
def test_when_source_calls_decide_then_scanner_finds_it(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)

    assert _uses_of_decide(path) == expected


def test_when_packages_scanned_then_one_token_estimator():
    defined = {node.name for p in _modules() for node in ast.walk(ast.parse((ROOT / p).read_text(encoding="utf-8")))
               if isinstance(node, ast.FunctionDef) and ("estimate_tokens" in node.name or "token_count" in node.name)}

    assert defined == {"estimate_tokens"}  # routing/prompt_tokens.py's, and no copy
