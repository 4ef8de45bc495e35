"""Odd files, implausible dates, a missing extra and hints: each gets a clear answer.

Through the CLI as a user would run it (the ``run_cli`` fixture): an input memberlens can read is
ingested and its ledger balances; one it cannot is refused with one ``error:`` line (and a
``hint:`` line), exit status 2, never an internal error or a hang. Every input is built here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def one_line_error(result, *names: str, hint: str | None = None) -> str:
    """The command failed as the user's to fix: exit 2, ``error: ...`` naming ``names``, an
    optional hint line, nothing else."""
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    if hint is not None:
        assert len(lines) == 2 and hint in lines[1], result.stderr
    return lines[0]


# -- a missing optional dependency ---------------------------------------------------------------
@pytest.fixture
def without_pyspark(monkeypatch):
    """PySpark cannot be imported (as without the spark extra), even if this process loaded it."""
    for name in [n for n in sys.modules if n == "pyspark" or n.startswith("pyspark.")] + ["pyspark"]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize("command", [("analyze", "rfm"), ("report",), ("predict", "churn"), ("clv", "fit")])
def test_spark_without_the_spark_extra_names_the_package_and_the_install(command, without_pyspark, run_cli, tmp_path):
    (tmp_path / "tables").mkdir()
    result = run_cli(*command, "--engine", "spark", "--db", tmp_path / "tables")
    one_line_error(result, "pyspark", hint="pip install 'memberlens[spark]'")
    assert "internal error" not in result.stderr
