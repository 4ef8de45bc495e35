"""Layer boundaries, enforced by reading the imports (as narwhals does): engine libraries are
imported only in memberlens.io, so analyses stay engine-agnostic Ibis."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "memberlens"
ENGINE_LIBRARIES = {"duckdb", "pyspark"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_engine_libraries_only_in_io(path):
    if path.relative_to(PACKAGE).parts[0] == "io":
        return
    assert not imported_modules(path) & ENGINE_LIBRARIES, f"{path} imports an engine library outside memberlens/io"


def test_the_check_sees_imports():
    assert "duckdb" in imported_modules(PACKAGE / "io" / "workspace.py")
