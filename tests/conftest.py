"""Shared fixtures: real data under ../shared, a CLI runner, and the CI rule that a skip of a
test that needs something (../shared, Java, a browser) is a failure when CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memberlens.cli import app

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` when ``condition`` is false — except in CI, where that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run in CI)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    require(SHARED_DATA.is_dir(), f"needs the real data folder {SHARED_DATA}")
    return SHARED_DATA


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str, exception: BaseException | None) -> None:
        self.exit_code, self.stdout, self.stderr, self.exception = exit_code, stdout, stderr, exception


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``memberlens ARGS`` in-process in ``tmp_path`` as a user would, capturing both streams."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMBERLENS_DEBUG", raising=False)
    monkeypatch.delenv("MEMBERLENS_DB", raising=False)
    runner = CliRunner()

    def run(*args: str) -> CliResult:
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=True)
        exception = result.exception if not isinstance(result.exception, SystemExit) else None
        return CliResult(result.exit_code, result.stdout, result.stderr, exception)

    return run


# -- lanes -----------------------------------------------------------------------------------
# `make test-fast` leaves out tests marked slow, spark (any test that starts Spark: marked here from
# its fixtures) and browser (the report in Chromium).
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_spark = "spark_backend" in getattr(item, "fixturenames", ()) or (
            callspec is not None and "spark" in callspec.params.values()
        )
        if on_spark:
            item.add_marker(pytest.mark.spark)


# -- engines ---------------------------------------------------------------------------------
# Every metric test takes the `con` fixture and runs once per engine. Tables are loaded with
# `load(con, name, frame)`; results are compared with a pandas oracle after sorting.
ENGINES = ["duckdb", "spark"]


def _java_available() -> bool:
    import shutil

    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


@pytest.fixture(scope="session")
def spark_backend():
    try:
        import pyspark  # noqa: F401  (is PySpark installed?)
    except ImportError:
        require(False, "needs PySpark (pip install -e '.[test]')")
    require(_java_available(), "needs Java for Spark")
    import time

    from memberlens.io.engines import connect

    os.environ["TZ"] = "UTC"  # before the JVM starts: naive timestamps must not shift
    time.tzset()
    backend = connect(
        "spark",
        spark_conf={"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2", "spark.driver.memory": "2g"},
    )
    yield backend


@pytest.fixture(params=ENGINES)
def con(request):
    if request.param == "spark":
        yield request.getfixturevalue("spark_backend")
        return
    import ibis

    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


def load(con, name: str, frame):
    """Put a pandas frame into ``con`` as table ``name`` and return it as an Ibis table."""
    return con.create_table(name, frame, overwrite=True)


# -- the demo data, shared -------------------------------------------------------------------
DEMO_TABLES = ("orders", "members", "events", "campaigns", "marketing_costs", "customer_360", "referrals")


def build_demo_workspace(root: Path, **options: int) -> tuple[Path, dict]:
    """Generate demo data into ``root/data`` (``customers``, ``years``, ``seed``: the generator's
    defaults where not given) and ingest every table into ``root/demo.duckdb``."""
    from memberlens.demo.generator import generate_demo_data
    from memberlens.ingest import ingest
    from memberlens.io.workspace import Workspace

    files = generate_demo_data(root / "data", **options)
    path = root / "demo.duckdb"
    with Workspace(path) as ws:
        for table in DEMO_TABLES:
            ingest(ws, files[table]["path"], table=table, name=table)
    return path, files


def build_demo_orders(root: Path, **options: int) -> Path:
    """A demo shop's orders alone (Parquet, so values keep their types) ingested into
    ``root/shop.duckdb``: for tests of analyses over time that need no other table."""
    from memberlens.demo.generator import generate_demo_data
    from memberlens.ingest import ingest
    from memberlens.io.workspace import Workspace

    files = generate_demo_data(root / "data", fmt="parquet", **options)
    path = root / "shop.duckdb"
    with Workspace(path) as ws:
        ingest(ws, files["orders"]["path"], table="orders", name="orders")
    return path


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory):
    """Demo data (6,000 customers over two years, seed 11) ingested into a workspace, shared by
    every test that needs realistic member data. Returns ``(workspace path, files)``, where
    ``files[table]["path"]`` is each generated file, ``truth`` included (who dropped out, when).
    Open it with ``Workspace(path, read_only=True)``; never write to it."""
    return build_demo_workspace(tmp_path_factory.mktemp("demo-shared"), customers=6_000, years=2, seed=11)


@pytest.fixture(scope="session")
def default_demo_workspace(tmp_path_factory):
    """The demo a user gets from ``memberlens demo`` (the generator's defaults: 20,000 customers
    over two years, seed 7), ingested like :func:`demo_workspace`. About a minute to build: only
    for the checks a 6,000-customer shop is too small to make."""
    return build_demo_workspace(tmp_path_factory.mktemp("demo-default"))
