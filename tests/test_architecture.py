"""Layer boundaries, enforced by reading the imports (as narwhals does): engine libraries are
imported only in memberlens.io, so analyses stay engine-agnostic Ibis; each module imports from
its own layer and the layers below it, never above; and no modules import each other in a circle."""

from __future__ import annotations

import ast
import re
import textwrap
from collections import deque
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


# -- layers: a module imports from its own layer and the layers below it -------------------------
# The layers, lowest first, by the name under memberlens/ ("__init__" is the package's own
# __init__.py). An import inside a function or under `if TYPE_CHECKING` counts like any other:
# hiding it does not change which way the code depends. Drawn from every memberlens import of
# the modules when this test was written (520, 39 of them inside functions): where the code's
# direction was sound and the first draft of the order was not, the order follows the code (the
# notes below); where the code pointed up or in a circle, the code moved (the referral rules to
# schema/, the number formatting to format.py, the version to _version.py; the circles through
# io/ledger_tables.py, models/_combinations.py and _registry.py, reports/inert.py, i18n.said and
# the segments' ProfileNumbers). What is still imported inside a function is there for import
# time (SciPy, scikit-learn) and says so.
LAYERS: tuple[tuple[str, ...], ...] = (
    # words and numbers as people read them, and the version. `format` (the report's number and
    # date formatting, moved down from reports/) is here because the segment explorer's findings
    # print numbers too, and it needs nothing but the catalogues. `parameters` (the one check of
    # a parameter, with one message) is here because models, predictions, referrals and the demo
    # shop all check theirs with it, and it needs nothing but `errors`
    ("errors", "i18n", "messages", "format", "_version", "parameters"),
    # the demo shop imports only `errors` and `parameters`, and is kept just above the bottom on
    # purpose: it draws a shop's raw exports as the shop's own systems would, so it must never
    # come to lean on the code that analyses them (data shaped by the analysis would test
    # nothing). Only `memberlens demo` (cli/demo.py) and the tests use it
    ("demo",),
    # below io, not above it as first drawn: the data contract and the ledger say what the tables
    # are; io (the workspace, the engines, the sources) is where they are kept and read, and it
    # imports schema.contract and schema.ledger (four imports) while schema reads no file and
    # opens no engine (none the other way)
    ("schema",),
    ("io",),
    ("snapshot", "metrics"),
    ("models",),
    ("predict", "segments", "referrals"),
    # the package's __init__ (the public API: ingest, Workspace, the mapping) and the monitor
    # (alerts over the analyses' series) sit with the analyses they are made of
    ("ingest", "analyses", "migration", "scores", "monitor", "__init__"),
    # the one registry of everything computed (the analyses and the models' results), and its
    # cache: what `analyze`, the report's sections and the exports read
    ("results",),
    ("reports",),
    ("cli",),
)


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(package: Path) -> dict[str, dict[str, int]]:
    """``{module: {imported module: line}}`` for every import of the package by its own modules,
    wherever it stands: at module level, inside a function, under ``if TYPE_CHECKING``."""
    root = package.name
    paths = {module_name(path, package): path for path in sorted(package.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    for module, path in paths.items():
        targets = graph.setdefault(module, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(node, module, path.name == "__init__.py", root, set(paths)):
                targets.setdefault(target, node.lineno)
    return graph


def _imported(node: ast.AST, module: str, is_package: bool, root: str, modules: set[str]) -> list[str]:
    inside = lambda name: name == root or name.startswith(root + ".")  # noqa: E731
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if inside(alias.name)]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # from . import x, from ..io import files
        here = module.split(".") if is_package else module.split(".")[:-1]
        here = here[: len(here) - node.level + 1]
        base = ".".join([*here, base] if base else here)
    if not inside(base):
        return []
    # `from memberlens.reports import format` imports the module memberlens.reports.format
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]


def layer_name(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(graph: dict[str, dict[str, int]], layers=LAYERS) -> list[str]:
    """The imports of a higher layer by a lower one, and the modules in no layer."""
    rank = {name: number for number, names in enumerate(layers) for name in names}
    found = []
    for module, targets in sorted(graph.items()):
        if layer_name(module) not in rank:
            found.append(f"{module} is in no layer: place {layer_name(module)!r} in LAYERS")
            continue
        for target, line in sorted(targets.items()):
            if layer_name(target) not in rank:
                found.append(
                    f"{module} (line {line}) imports {target}, in no layer: place {layer_name(target)!r} in LAYERS"
                )
            elif rank[layer_name(target)] > rank[layer_name(module)]:
                found.append(
                    f"{module} (line {line}) imports {target}: {layer_name(target)} is above {layer_name(module)}"
                )
    return found


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One circle of imports per group of modules that import each other (a strongly connected
    component, Tarjan's), as ``[a, b, ..., a]`` from the group's first module by name."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1 or module in graph.get(module, {}):
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(_circle(graph, group) for group in groups)


def _circle(graph: dict[str, dict[str, int]], group: set[str]) -> list[str]:
    """The shortest way from the group's first module back to itself, within the group."""
    start = min(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for target in sorted(graph.get(module, {})):
            if target == start:
                path = [module]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target in group and target not in came_from:
                came_from[target] = module
                queue.append(target)
    raise AssertionError(f"no circle in {sorted(group)}")  # pragma: no cover


def test_each_module_imports_only_its_own_layer_and_lower():
    found = upward_imports(package_imports(PACKAGE))
    assert not found, (
        "imports against the layers (lowest first: "
        + " < ".join("/".join(names) for names in LAYERS)
        + "):\n"
        + "\n".join(found)
    )


def test_no_modules_import_each_other_in_a_circle():
    graph = package_imports(PACKAGE)
    circles = [
        " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(circle, circle[1:])) + f" -> {circle[-1]}"
        for circle in import_cycles(graph)
    ]
    assert not circles, "modules importing each other:\n" + "\n".join(circles)


def test_the_import_graph_sees_imports_in_functions_and_under_type_checking(tmp_path):
    assert "memberlens.models" in package_imports(PACKAGE)["memberlens.analyses"]  # inside _member_value_fit
    package = _plant(
        tmp_path,
        {
            "schema/cleaning.py": """
            def rules():
                from memberlens.referrals.graph import CLOSES_CYCLE  # hidden in a function
                return CLOSES_CYCLE
            """,
            "referrals/graph.py": """
            from memberlens.schema import cleaning
            CLOSES_CYCLE = "closes_cycle"
            """,
            "io/files.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                import memberlens.cli.app
            """,
            "io/text.py": "from ..reports import format as f\n",
            "reports/format.py": "from .. import errors\n",
            "errors.py": "",
            "cli/app.py": "",
        },
    )
    graph = package_imports(package)
    assert graph["memberlens.schema.cleaning"] == {"memberlens.referrals.graph": 2}
    assert graph["memberlens.referrals.graph"] == {"memberlens.schema.cleaning": 1}
    assert graph["memberlens.io.files"] == {"memberlens.cli.app": 3}
    assert graph["memberlens.io.text"] == {"memberlens.reports.format": 1}
    assert graph["memberlens.reports.format"] == {"memberlens.errors": 1}


def test_the_layer_check_fails_on_a_planted_upward_import(tmp_path):
    package = _plant(
        tmp_path,
        {
            "schema/cleaning.py": """
            def rules():
                from memberlens.referrals.graph import CLOSES_CYCLE
                return CLOSES_CYCLE
            """,
            "referrals/graph.py": "from memberlens.schema.cleaning import rules\n",
            "segments/observations.py": "from memberlens import errors\n",
            "errors.py": "",
            "gadgets.py": "",
        },
    )
    found = upward_imports(package_imports(package))
    assert found == [
        "memberlens.gadgets is in no layer: place 'gadgets' in LAYERS",
        "memberlens.schema.cleaning (line 2) imports memberlens.referrals.graph: referrals is above schema",
    ]
    assert upward_imports({"memberlens.segments.observations": {"memberlens.reports.format": 56}}) == [
        "memberlens.segments.observations (line 56) imports memberlens.reports.format: reports is above segments"
    ]
    assert upward_imports({"memberlens.reports.base": {"memberlens.segments": 1, "memberlens.reports.charts": 2}}) == []


def test_the_circle_check_finds_a_planted_circle(tmp_path):
    package = _plant(
        tmp_path,
        {
            "io/catalog.py": """
            def open_tables():
                from memberlens.io.workspace import Workspace
                return Workspace
            """,
            "io/workspace.py": "from memberlens.io.catalog import open_tables\nclass Workspace: ...\n",
            "io/files.py": "from memberlens.io import workspace\n",
        },
    )
    assert import_cycles(package_imports(package)) == [
        ["memberlens.io.catalog", "memberlens.io.workspace", "memberlens.io.catalog"]
    ]
    graph = {"c": {"a": 1}, "a": {"b": 1}, "b": {"c": 1, "d": 1}, "d": {}, "e": {"e": 1}}
    assert import_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert import_cycles({"a": {"b": 1}, "b": {"c": 1}}) == []


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    """A fake ``memberlens`` package under ``tmp_path`` holding ``files`` (and every __init__.py)."""
    package = tmp_path / "memberlens"
    for name, text in files.items():
        path = package / name
        for folder in [package, *path.relative_to(package).parents[:-1]]:
            folder = folder if folder == package else package / folder
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").touch()
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return package


# -- time: one snapshot module cuts tables by date ------------------------------------------------
def compares_with_a_date_literal(source: str) -> list[int]:
    """Lines comparing something with ``ibis.date(...)`` or ``ibis.timestamp(...)``: a cut by
    date written out by hand."""

    def is_date_literal(node: ast.AST) -> bool:
        while isinstance(node, (ast.Call, ast.Attribute)):  # ibis.date(x).cast("timestamp")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("date", "timestamp")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ibis"
            ):
                return True
            node = node.func if isinstance(node, ast.Call) else node.value
        return False

    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Compare) and any(is_date_literal(n) for n in [node.left, *node.comparators])
    ]


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
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted([*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.toml")])
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SOURCE_DOCUMENT.search(line)
    ]
    assert not found, "references to the source documents:\n" + "\n".join(found)


def test_the_source_document_check_sees_each_spelling():
    for text in (
        "seed 000's super orders",
        "Seed 002 §3.4",
        "SEED_001",
        "seed_001",
        "seed-000 stage",
        "种子文档 000",
        "（种子 001）",
    ):
        assert SOURCE_DOCUMENT.search(text), text
    for text in (
        "--seed 7",
        "random seed",
        "seed=11",
        "seeds 11 and 14",
        "按固定种子抽取",
        "SeedSequence(seed, spawn_key=(0,))",
    ):
        assert not SOURCE_DOCUMENT.search(text), text
