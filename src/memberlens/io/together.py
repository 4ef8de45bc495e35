"""Files that belong together replace the old ones together: a report and the member lists
beside it are one unit, so a reader never finds a new report beside old lists.

:func:`files_together` yields a hidden staging folder inside the output folder; everything is
written there. On success a marker naming the entries is written (the point of no return), then
each entry is renamed over its old self — a folder is first moved aside, since a folder cannot be
renamed over another. A process killed before the marker leaves only its staging folder, which
the next start removes; one killed after it is finished by the next start (the renames are
repeated where they had not happened), so the unit lands whole or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memberlens.io.files import leftover_prefix, leftovers, remove_leftovers, write_text_atomic
from memberlens.io.jsonable import json_text

STAGING = "memberlens-output"
COMPLETE = ".complete"  # in a staging folder: the names to move in, once all are written
REPLACED = ".replaced"  # in a staging folder: the old folders moved aside


@contextmanager
def files_together(out_dir: str | Path) -> Iterator[Path]:
    """A folder to write the unit into; on success its entries replace ``out_dir``'s entries of
    the same names together (others in ``out_dir`` are left alone). On failure nothing changes."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    finish_interrupted(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=leftover_prefix(STAGING), dir=out_dir))
    try:
        yield staging
        names = sorted(os.listdir(staging))
        write_text_atomic(staging / COMPLETE, json_text(names, indent=None))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _move_in(staging, out_dir)
    shutil.rmtree(staging)


def finish_interrupted(out_dir: str | Path) -> None:
    """Finish the units a killed process had written whole into ``out_dir``; remove the rest of
    what it left."""
    for staging in leftovers(out_dir, STAGING):
        if (staging / COMPLETE).is_file():
            _move_in(staging, Path(out_dir))
    remove_leftovers(out_dir, STAGING)


def _move_in(staging: Path, out_dir: Path) -> None:
    """Rename each entry the marker names over its namesake in ``out_dir`` (entries already moved
    by an interrupted run are skipped)."""
    names = json.loads((staging / COMPLETE).read_text(encoding="utf-8"))
    aside = staging / REPLACED
    for name in names:
        new, target = staging / name, out_dir / name
        if not os.path.lexists(new):
            continue
        if os.path.lexists(target) and (target.is_dir() or new.is_dir()):
            aside.mkdir(exist_ok=True)
            shutil.rmtree(aside / name, ignore_errors=True)
            os.rename(target, aside / name)
        os.replace(new, target)
