"""Faults of the machine, not of memberlens: a full disk, a read-only folder, a folder where a
file is needed. They are the user's to fix, so they get the user's answer — one line naming the
path and a hint, exit status 2 — not "internal error ... report it".

:func:`environment_error` recognises such a fault anywhere in an exception's chain (DuckDB
reports a full disk as an ``IOException`` whose text names the cause, and a failed ``COMMIT`` may
be followed by a second error that hides the first). :func:`check_output_file` and
:func:`check_output_folder` try an output path before any long work starts, by creating and
removing a file where the output will go.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from memberlens.errors import ConfigError, MemberlensError

# errno -> (what is wrong, what to do)
_CAUSES = {
    errno.ENOSPC: ("no space left on the device", "free some space, or write to another disk (--out, --db, TMPDIR)"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space, or write to another disk (--out, --db, TMPDIR)"),
    errno.EFBIG: (
        "the file grew larger than this system allows",
        "raise the file size limit (ulimit -f), or write to another disk",
    ),
    errno.EROFS: ("the file system is read-only", "write to a folder you can write to (--out, --db)"),
    errno.EACCES: ("permission denied", "write to a folder you can write to (--out, --db), or change its permissions"),
    errno.EPERM: ("the operation is not permitted", "write to a folder you can write to (--out, --db)"),
    errno.EISDIR: ("is a folder where a file is needed", "name a file inside it, e.g. FOLDER/result.csv"),
    errno.ENOTDIR: ("a part of the path is a file where a folder is needed", "choose another path"),
}
# how engines that do not set errno (DuckDB, Arrow) word the same causes
_WORDS = {
    "no space left on device": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "file too large": errno.EFBIG,
    "read-only file system": errno.EROFS,
    "permission denied": errno.EACCES,
}


def environment_error(exc: BaseException, path: str | Path | None = None) -> MemberlensError | None:
    """The fault of the machine behind ``exc`` (or an exception it was raised from or while
    handling) as a user's error naming ``path`` (default: the file the error names), or None
    when there is none."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _fault(current, path)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _cause(exc: BaseException) -> tuple[str, str] | None:
    """What is wrong and what to do, when ``exc`` itself is a fault of the machine."""
    code = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    if code not in _CAUSES:
        lowered = str(exc).lower()
        code = next((c for words, c in _WORDS.items() if words in lowered), None)
    return None if code is None else _CAUSES[code]


def _fault(exc: BaseException, path: str | Path | None) -> MemberlensError | None:
    cause = _cause(exc)
    if cause is None:
        return None
    what, hint = cause
    text = str(exc)
    # a rename names its target second: that is the path the user gave
    where = path or ((exc.filename2 or exc.filename) if isinstance(exc, OSError) else None)
    if where is None:
        first = text.splitlines()[0] if text else ""
        plain = not first or (isinstance(exc, OSError) and first == f"[Errno {exc.errno}] {exc.strerror}")
        return ConfigError(what if plain else f"{what}: {first}", hint)
    return ConfigError(f"{where}: {what}", hint)


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """``path`` if a file can be written there: not a folder or a special file, and its folder
    (or the nearest one that exists) takes a new file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"{option} {path}: is a folder; a file is needed", f"name a file inside it, e.g. {path / 'result.csv'}"
        )
    if path.exists() and not path.is_file():
        raise ConfigError(
            f"{option} {path}: is not a regular file (a device, pipe or socket)",
            f"name a new file, or leave out {option} to print the rows",
        )
    _try_writing_in(_nearest_folder(path.parent, option), option)
    return path


def check_output_folder(path: str | Path, option: str = "--out") -> Path:
    """``path`` if files can be written into it (or into the nearest folder above it that exists,
    where it will be made)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: exists and is not a folder", f"choose a folder for {option}")
    _try_writing_in(_nearest_folder(path, option), option)
    return path


def _nearest_folder(path: Path, option: str) -> Path:
    current = path.absolute()
    while not current.exists():
        current = current.parent
    if not current.is_dir():
        raise ConfigError(f"{option}: {current} is a file where a folder is needed", f"choose another {option}")
    return current


def _try_writing_in(folder: Path, option: str) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".memberlens-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        what, hint = _cause(exc) or ((exc.strerror or type(exc).__name__).lower(), f"choose another {option}")
        raise ConfigError(f"{option}: cannot write into {folder}: {what}", hint) from None
