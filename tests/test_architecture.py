"""Layer boundaries, enforced by reading the imports (as narwhals does): engine libraries are
imported only in memberlens.io, so analyses stay engine-agnostic Ibis."""

from __future__ import annotations

import ast
import re
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


# -- time: one snapshot module cuts tables by date ------------------------------------------------
def compares_with_a_date_literal(source: str) -> list[int]:
    """Lines comparing something with ``ibis.date(...)`` or ``ibis.timestamp(...)``: a cut by
    date written out by hand."""

    def is_date_literal(node: ast.AST) -> bool:
        while isinstance(node, (ast.Call, ast.Attribute)):  # ibis.date(x).cast("timestamp")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("date", "timestamp") \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "ibis":
                return True
            node = node.func if isinstance(node, ast.Call) else node.value
        return False

    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Compare) and any(is_date_literal(n) for n in [node.left, *node.comparators])]


# modules allowed to compare with a day, and why: none of them cuts a table by time
DATE_CHECKS = {
    Path("snapshot.py"): "the one cut by date",
    Path("schema/cleaning.py"): "ingest sets aside implausible dates (a typo'd year): a check of the value, not a cut",
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_snapshot_cuts_by_a_date(path):
    if path.relative_to(PACKAGE) in DATE_CHECKS:
        return
    lines = compares_with_a_date_literal(path.read_text(encoding="utf-8"))
    assert not lines, f"{path} compares with a date at lines {lines}: cut tables through memberlens.snapshot"


def test_the_date_check_sees_a_hand_written_cut():
    assert compares_with_a_date_literal('orders.filter(orders.ordered_at < ibis.timestamp(f"{d} 00:00:00"))') == [1]
    assert compares_with_a_date_literal('t.filter(t.sent_at >= ibis.date("2024-01-01").cast("timestamp"))') == [1]
    assert compares_with_a_date_literal("t.filter(t.ordered_at < start_of(day))") == []


# -- words: no references to our source documents in what users read -----------------------------
SOURCE_DOCUMENT = re.compile(r"seed[ _-]?00\d|种子文档|种子 ?00\d", re.IGNORECASE)


def test_no_source_document_references_in_the_package():
    """Users have no "seed 000/001/002" (种子文档) to look up: say what the analysis is instead."""
    found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
             for path in sorted([*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.toml")])
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if SOURCE_DOCUMENT.search(line)]
    assert not found, "references to the source documents:\n" + "\n".join(found)


def test_the_source_document_check_sees_each_spelling():
    for text in ("seed 000's super orders", "Seed 002 §3.4", "SEED_001", "seed_001", "seed-000 stage", "种子文档 000",
                 "（种子 001）"):
        assert SOURCE_DOCUMENT.search(text), text
    for text in ("--seed 7", "random seed", "seed=11", "seeds 11 and 14", "按固定种子抽取", "SeedSequence(seed, spawn_key=(0,))"):
        assert not SOURCE_DOCUMENT.search(text), text
