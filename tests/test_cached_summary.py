"""The CLV summary is computed once and kept in the engine (Ibis cache); closing the workspace
drops it first, so no finalizer runs against a closed connection (each printed a traceback)."""

from __future__ import annotations

import subprocess
import sys

from memberlens.io.workspace import Workspace
from memberlens.results import Results


def test_closing_a_workspace_drops_the_kept_summary_first(demo_workspace):
    path, _ = demo_workspace
    ws = Workspace(path, read_only=True)
    results = Results(ws)
    results.get("clv")
    assert ws.con._cache_name_to_entry  # the summary is kept while the workspace is open
    ws.close()
    assert not ws.con._cache_name_to_entry


def test_a_command_that_fits_clv_exits_without_tracebacks(demo_workspace, tmp_path):
    path, _ = demo_workspace
    done = subprocess.run(
        [sys.executable, "-c", "from memberlens.cli import main; main()", "clv", "predict", "--db", str(path)]
        + ["--out", str(tmp_path / "v.csv")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
