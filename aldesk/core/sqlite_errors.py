"""What a SQLite error means for the person: full disk, read-only, damage, busy or a failing disk.

Every error from a project's connection passes through ``project_error`` before it reaches a
person, so the message names the file and says what to do, and a file that SQLite found damaged
is never called anything else (nor a fine file damaged).
"""

from __future__ import annotations

import resource
import sqlite3
from pathlib import Path

from aldesk.core.disk import MIN_FREE_BYTES, disk_full_error, free_bytes
from aldesk.core.errors import DamagedProjectError, ProjectError, ReadOnlyProjectError

# SQLite's primary result codes, by name (Python 3.11+ gives sqlite_errorname).
_FULL = "SQLITE_FULL"
_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_READONLY = "SQLITE_READONLY"
_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
_IOERR = "SQLITE_IOERR"
_CANTOPEN = "SQLITE_CANTOPEN"
_LIMIT_SLACK = 1024 * 1024  # a write that failed near the limit: a few pages, or a WAL frame run


def one_line(exc: BaseException) -> str:
    """SQLite's message on one line (a malformed schema's message quotes its SQL, newlines and all)."""
    return " ".join(str(exc).split())


def error_name(exc: sqlite3.Error) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def is_damage(exc: sqlite3.Error) -> bool:
    name = error_name(exc)
    if name:
        return name.startswith(_CORRUPT)
    return "malformed" in str(exc) or "not a database" in str(exc)


def file_size_limited(path: Path) -> bool:
    """True when a file-size limit (ulimit -f), not the disk, stopped a write to the project."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft == resource.RLIM_INFINITY:
        return False
    sizes = []
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        try:
            sizes.append((path.parent / name).stat().st_size)
        except OSError:
            pass
    # The failed write would have grown one of the files past the limit (a page or a few).
    return max(sizes, default=0) + _LIMIT_SLACK >= soft


def damaged_message(path: Path, detail: str) -> str:
    return (
        f"{path} is damaged ({detail}); aldesk will not write into it. What is readable can "
        f"still be viewed and exported, and 'aldesk recover {path.name} --out NEW.aldesk' "
        "copies every readable row into a new project and lists what was lost."
    )


def project_error(path: Path, exc: sqlite3.Error, *, what: str = "the last change", reading: bool = False) -> ProjectError:
    """The error to show for ``exc``, raised while writing the project at ``path`` (``what``: the
    change not saved) or, with ``reading``, while reading it (``what``: what was being done)."""
    name = error_name(exc)
    detail = one_line(exc)
    if reading:
        return _read_error(path, exc, what)
    if name == _FULL or "full" in detail:
        return _no_space(path, what)
    if is_damage(exc):
        return DamagedProjectError(damaged_message(path, detail), reason=detail)
    if name.startswith(_READONLY) or "readonly" in detail or "read-only" in detail:
        return ReadOnlyProjectError(
            f"{path} cannot be written ({detail}); {what} was not saved. It may have been "
            "made read-only or its disk remounted read-only; reading still works.",
            reason=detail,
        )
    if name.startswith(_BUSY) or "locked" in detail:
        return ProjectError(f"{path} is busy in another program ({detail}); {what} was not saved. Try again.")
    if name.startswith(_IOERR):
        # A short write under a file-size limit or on a nearly full disk shows up as an I/O
        # error, not SQLITE_FULL: say which it is rather than blame the disk.
        free = free_bytes(path.parent)
        if file_size_limited(path) or (free is not None and free < MIN_FREE_BYTES):
            return _no_space(path, what)
        return ProjectError(
            f"The disk holding {path} reported an I/O error ({detail}); {what} was not saved. "
            "Check the disk and its connection, then try again; what was saved before is intact."
        )
    if name.startswith(_CANTOPEN):
        return ProjectError(f"{path} could not be opened ({detail}): check that it and its folder exist and can be read.")
    return ProjectError(f"{path}: {what} failed: {detail}")


def _read_error(path: Path, exc: sqlite3.Error, doing: str) -> ProjectError:
    name, detail = error_name(exc), one_line(exc)
    if is_damage(exc):
        return DamagedProjectError(damaged_message(path, detail), reason=detail)
    if name == _FULL or name.startswith(_IOERR):
        free = free_bytes(path.parent)
        if name == _FULL or file_size_limited(path) or (free is not None and free < MIN_FREE_BYTES):
            # Even reading a project writes its WAL index (-shm) beside it.
            return disk_full_error(
                path, outcome=f"it could not be opened ({detail} while {doing})", limit=file_size_limited(path)
            )
        return ProjectError(
            f"The disk holding {path} reported an I/O error ({detail}) while {doing}. "
            "Check the disk and its connection, then try again."
        )
    if name.startswith(_CANTOPEN):
        return ProjectError(f"{path} could not be opened ({detail}): check that it and its folder exist and can be read.")
    return ProjectError(f"{path}: {doing} failed: {detail}")


def _no_space(path: Path, what: str) -> ProjectError:
    # The WAL is copied back into the project at the next checkpoint: room for it, twice.
    try:
        wal = Path(f"{path}-wal").stat().st_size
    except OSError:
        wal = 0
    return disk_full_error(path, what=what, needed=2 * wal, limit=file_size_limited(path))
