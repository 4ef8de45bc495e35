"""Faults of the machine get the user's answer, and a kill loses nothing.

Each case runs the installed ``memberlens`` command in a subprocess, as a user's shell or
scheduler would, on a small demo shop:

* a full disk — a small tmpfs filled up to a few hundred kilobytes — while ingesting, writing the
  report or exporting the tables: exit 2, one ``error:`` line (and a hint) naming the cause, the
  workspace opening afterwards with its ledger balanced, the previous report and lists intact, no
  temporary file left;
* a read-only folder (a tmpfs mounted read-only) or a folder where a file is needed, given to
  every command that writes: refused in one line before any work starts;
* kill -9 at ten points of an ingest, a report and an export: the workspace opens with its
  ledger balanced and holds the new source whole or not at all; the report and its member lists
  (and the exported tables) are all the previous ones or all the new ones; nothing temporary is
  left once the next command has started.

Mounting needs root: elsewhere these tests skip (and fail under CI=true).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from conftest import require

from memberlens.demo.generator import generate_demo_data
from memberlens.io.together import finish_interrupted
from memberlens.io.workspace import Workspace

# subprocesses of the installed command, mounts, kills: minutes in all (make test runs them)
pytestmark = pytest.mark.slow

AS_OF_BEFORE, AS_OF_AFTER = "2023-09-01", "2023-11-01"  # two reports that differ in every file


# -- running memberlens as a user would ------------------------------------------------------------
def executable() -> str:
    exe = shutil.which("memberlens", path=str(Path(sys.executable).parent))
    require(exe is not None, f"needs the memberlens console script beside {sys.executable} (pip install -e .)")
    return exe


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MEMBERLENS_DEBUG", "MEMBERLENS_DB")}


def memberlens(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [executable(), *map(str, args)], cwd=cwd, env=environment(), capture_output=True, text=True, timeout=600
    )


def assert_one_error_line(done: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2 with one ``error:`` line holding ``words`` (and at most a hint); the line."""
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])
    hints = [line for line in done.stderr.splitlines() if line.startswith("hint: ")]
    assert len(hints) <= 1
    return errors[0]


def leftovers_under(folder: Path) -> list[Path]:
    """Hidden files and folders under ``folder``: the temporary ones memberlens makes while
    writing (the folders these tests use hold no other)."""
    return sorted(folder.rglob(".*"))


# -- the shop and the small disks ------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict[str, Path]:
    """A small demo shop's files, and a workspace holding its orders, members and customer 360."""
    root = tmp_path_factory.mktemp("faults-shop")
    files = generate_demo_data(root / "data", customers=400, years=1, seed=5)
    paths = {table: Path(files[table]["path"]) for table in ("orders", "members", "customer_360")}
    for table, path in paths.items():
        done = memberlens("ingest", path, "--table", table, "--db", root / "shop.duckdb", cwd=root)
        assert done.returncode == 0, done.stderr
    return paths | {"workspace": root / "shop.duckdb"}


@cache
def can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(f"/tmp/memberlens-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True)
    if mounted.returncode == 0:
        subprocess.run(["umount", str(probe)], check=True)
    probe.rmdir()
    return mounted.returncode == 0


@contextmanager
def small_disk(folder: Path, megabytes: int, *, read_only: bool = False) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``megabytes`` (read-only when asked), unmounted afterwards with
    its files copied back out, so the test can look at them."""
    require(can_mount(), "needs root and tmpfs mounts to make a small or a read-only disk")
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={megabytes}m" + (",ro" if read_only else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        kept = folder.with_name(folder.name + "-kept")
        shutil.copytree(folder, kept, symlinks=True)
        subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()
        kept.rename(folder)


def fill(disk: Path, leave: int) -> Path:
    """Write a file that leaves ``leave`` bytes free on ``disk``."""
    stats = os.statvfs(disk)
    filler = disk / "filler.bin"
    with open(filler, "wb") as f:
        f.truncate(0)
        f.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - leave))  # tmpfs counts written pages
    return filler


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every visible file under ``folder`` (relative name -> bytes), a report's "generated at"
    minute left out: two runs of one report differ in it and nothing else."""
    return {
        str(p.relative_to(folder)): GENERATED.sub(b"generated -", p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


GENERATED = re.compile(rb"generated \d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def ledgers_balanced(path: Path) -> dict[str, int]:
    """Open the workspace for writing (as the next command would) and check every ledger; the
    rows each table holds."""
    with Workspace(path) as ws:
        ledgers = ws.ledgers()
        assert all(ledger.balanced for ledger in ledgers), [ledger.to_dict() for ledger in ledgers]
        return ws.row_counts()


# -- a full disk ---------------------------------------------------------------------------------
def test_a_full_disk_while_ingesting_is_one_line_and_the_workspace_stays_as_it_was(shop, tmp_path):
    disk = tmp_path / "disk"
    with small_disk(disk, 32):
        workspace = disk / "w.duckdb"
        assert (
            memberlens("ingest", shop["members"], "--table", "members", "--db", workspace, cwd=tmp_path).returncode == 0
        )
        before = ledgers_balanced(workspace)
        filler = fill(disk, leave=128 * 1024)
        done = memberlens("ingest", shop["orders"], "--table", "orders", "--db", workspace, cwd=tmp_path)
        assert_one_error_line(done, "no space left")
        filler.unlink()
        assert ledgers_balanced(workspace) == before
        assert leftovers_under(disk) == []


@pytest.mark.parametrize("command", ["report", "export-tables"])
def test_a_full_disk_while_writing_keeps_the_previous_files(command, shop, tmp_path):
    disk = tmp_path / "disk"
    first = ["report", "--as-of", AS_OF_BEFORE] if command == "report" else ["export-tables"]
    with small_disk(disk, 64):
        out = disk / "out"
        done = memberlens(*first, "--db", shop["workspace"], "--out", out, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        previous = snapshot(out)
        assert previous
        fill(disk, leave=8 * 1024)
        again = ["report", "--as-of", AS_OF_AFTER] if command == "report" else ["export-tables"]
        done = memberlens(*again, "--db", shop["workspace"], "--out", out, cwd=tmp_path)
        assert_one_error_line(done, "no space left")
        assert snapshot(out) == previous
        assert leftovers_under(disk) == []


# -- read-only folders and folders where a file is needed ---------------------------------------------
WRITERS = {
    "analyze": ["analyze", "rfm", "--out", "{ro}/rfm.csv"],
    "report": ["report", "--out", "{ro}/report"],
    "export-tables": ["export-tables", "--out", "{ro}/tables"],
    "clv fit": ["clv", "fit", "--save", "{ro}/model.json"],
    "clv predict": ["clv", "predict", "--out", "{ro}/clv.csv"],
    "predict churn": ["predict", "churn", "--out", "{ro}/churn.csv"],
    "migrate": ["migrate", "--from", AS_OF_BEFORE, "--to", AS_OF_AFTER, "--out", "{ro}/moves.csv"],
    "segment": ["segment", "--where", "recency_score > 1", "--out", "{ro}/segment.csv"],
}


@pytest.mark.parametrize("command", list(WRITERS))
def test_a_read_only_folder_is_refused_in_one_line_before_any_work(command, shop, tmp_path):
    with small_disk(tmp_path / "ro", 1, read_only=True) as ro:
        args = [a.format(ro=ro) for a in WRITERS[command]]
        done = memberlens(*args, "--db", shop["workspace"], cwd=tmp_path)
        assert_one_error_line(done, str(ro), "read-only")
        # refused before the work: nothing but the error and its hint was printed
        assert all(line.startswith(("error: ", "hint: ")) for line in done.stderr.strip().splitlines()), done.stderr
        assert done.stdout == ""


def test_ingesting_into_a_read_only_folder_is_refused_in_one_line(shop, tmp_path):
    with small_disk(tmp_path / "ro", 1, read_only=True) as ro:
        done = memberlens("ingest", shop["members"], "--table", "members", "--db", ro / "w.duckdb", cwd=tmp_path)
        assert_one_error_line(done, str(ro), "read-only")


@pytest.mark.parametrize("command", [c for c in WRITERS if WRITERS[c][-1].endswith((".csv", ".json"))])
def test_an_out_naming_a_folder_is_refused_before_any_work(command, shop, run_cli, tmp_path):
    (tmp_path / "folder").mkdir()
    args = [a.replace("{ro}/", "").rsplit("/", 1)[0] if a.startswith("{ro}") else a for a in WRITERS[command]]
    args[-1] = "folder"
    result = run_cli(*args, "--db", shop["workspace"])
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith("error: --out folder: is a folder"), result.stderr
    assert result.stdout == ""


def test_an_out_naming_a_device_is_refused_not_replaced(shop, run_cli):
    result = run_cli("analyze", "rfm", "--db", shop["workspace"], "--out", "/dev/null")
    assert result.exit_code == 2 and "not a regular file" in result.stderr
    assert Path("/dev/null").is_char_device()


# -- kill -9 at ten points -------------------------------------------------------------------------
POINTS = 10


def kill_at(args: list[object], cwd: Path, after: float) -> None:
    """Run ``memberlens ARGS`` and kill -9 it ``after`` seconds (if it still runs)."""
    process = subprocess.Popen(
        [executable(), *map(str, args)],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# The same command, killed right after its Nth rename (every file memberlens writes lands by a
# rename): the boundaries between one file landing and the next, where a unit could be torn.
KILL_AFTER_RENAMES = """
import atexit, os, signal, sys
limit, moves = int(os.environ["KILL_AFTER_RENAMES"]), [0]
def counted(real):
    def move(*args, **kwargs):
        real(*args, **kwargs)
        moves[0] += 1
        if moves[0] == limit:
            os.kill(os.getpid(), signal.SIGKILL)
    return move
os.replace, os.rename = counted(os.replace), counted(os.rename)
atexit.register(lambda: open(os.environ["RENAMES_FILE"], "w").write(str(moves[0])))
from memberlens.cli import main
sys.argv[0] = "memberlens"
main()
"""


def kill_after_renames(args: list[object], cwd: Path, renames: int) -> int:
    """Run ``memberlens ARGS`` killed after its ``renames``-th rename (0: not killed); the
    renames it made when it ran to the end."""
    count = cwd / "renames.txt"
    done = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_RENAMES, *map(str, args)],
        cwd=cwd,
        env=environment() | {"KILL_AFTER_RENAMES": str(renames), "RENAMES_FILE": str(count)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if renames:
        assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr[-2000:])
        return renames
    assert done.returncode == 0, done.stderr[-2000:]
    return int(count.read_text())


def spread(total: int, points: int = POINTS) -> list[int]:
    """``points`` of 1..total, evenly spread (all of them when there are fewer)."""
    return sorted({round(1 + k * (total - 1) / max(1, points - 1)) for k in range(points)})


def timed(args: list[object], cwd: Path) -> float:
    start = time.perf_counter()
    done = memberlens(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return time.perf_counter() - start


def test_a_kill_at_ten_points_of_an_ingest_leaves_the_source_whole_or_absent(shop, tmp_path):
    base = tmp_path / "base.duckdb"
    assert memberlens("ingest", shop["members"], "--table", "members", "--db", base, cwd=tmp_path).returncode == 0
    before = ledgers_balanced(base)
    complete = tmp_path / "complete.duckdb"
    shutil.copy(base, complete)
    seconds = timed(["ingest", shop["orders"], "--table", "orders", "--db", complete], tmp_path)
    after = ledgers_balanced(complete)
    for point in range(POINTS):
        folder = tmp_path / f"kill{point}"
        folder.mkdir()
        workspace = folder / "w.duckdb"
        shutil.copy(base, workspace)
        kill_at(
            ["ingest", shop["orders"], "--table", "orders", "--db", workspace], folder, seconds * (point + 0.5) / POINTS
        )
        assert ledgers_balanced(workspace) in (before, after), point
        assert leftovers_under(folder) == [], point


@pytest.mark.parametrize("command", ["report", "export-tables"])
def test_a_kill_at_ten_points_of_a_report_or_export_leaves_the_old_files_or_the_new_ones(command, shop, tmp_path):
    if command == "report":  # two reports of different dates: every file differs
        old_args, new_args = ["report", "--as-of", AS_OF_BEFORE], ["report", "--as-of", AS_OF_AFTER]
        old_db = new_db = shop["workspace"]
    else:  # the tables of a workspace of members alone, then of members and orders
        old_args = new_args = ["export-tables"]
        old_db, new_db = tmp_path / "members.duckdb", shop["workspace"]
        assert memberlens("ingest", shop["members"], "--table", "members", "--db", old_db, cwd=tmp_path).returncode == 0
    reference = tmp_path / "reference"
    assert memberlens(*old_args, "--db", old_db, "--out", reference / "old", cwd=tmp_path).returncode == 0
    seconds = timed([*new_args, "--db", new_db, "--out", reference / "new"], tmp_path)
    old, new = snapshot(reference / "old"), snapshot(reference / "new")
    assert old != new and set(old) - {"report.html"} and set(new) - {"report.html"}
    for point in range(POINTS):  # ten moments of the run
        out = tmp_path / f"kill{point}"
        shutil.copytree(reference / "old", out)
        kill_at([*new_args, "--db", new_db, "--out", out], tmp_path, seconds * (point + 0.5) / POINTS)
        finish_interrupted(out)  # what the next report or export does first
        assert snapshot(out) in (old, new), point
        assert leftovers_under(out) == [], point
    renames = kill_after_renames([*new_args, "--db", new_db, "--out", tmp_path / "counted"], tmp_path, 0)
    for point in spread(renames):  # and right after one file or another has landed
        out = tmp_path / f"renamed{point}"
        shutil.copytree(reference / "old", out)
        kill_after_renames([*new_args, "--db", new_db, "--out", out], tmp_path, point)
        finish_interrupted(out)
        found = snapshot(out)
        assert found in (old, new), (
            f"killed after rename {point} of {renames}: differs from the new files in "
            f"{sorted(k for k in set(found) | set(new) if found.get(k) != new.get(k))}"
        )
        assert leftovers_under(out) == [], point
