"""The files beside a project file: the WAL copied back at a clean close, idle ``-wal``/``-shm``
removed after reading, partial exports of a killed export, and what a failed creation began.
None of them holds anything that is not also in the project file (or never was).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from aldesk.core.errors import ProjectError, ProjectLockedError
from aldesk.core.lock import ProjectLock
from aldesk.core.project_check import read_only_reason

log = logging.getLogger("aldesk.store")


def start_tidying(folder: Path) -> threading.Thread:
    """Remove partial exports a killed export left beside the project, in a thread: listing a
    folder that also holds a million images takes a while, and nothing waits for it."""
    from aldesk.core.export_partial import remove_stale_partials

    thread = threading.Thread(target=remove_stale_partials, args=(folder,), name="aldesk-tidy", daemon=True)
    thread.start()
    return thread


def checkpoint(conn: sqlite3.Connection, path: Path) -> None:
    """Copy the WAL into the project file and empty it (a clean close)."""
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error as exc:
        # Everything committed is still in the WAL, which SQLite replays on the next open.
        log.warning(
            "note: the latest changes to %s are still only in %s-wal beside it (%s). Keep that file "
            "with the project (copy both); aldesk moves them into the project the next time it "
            "opens it with space free.",
            path,
            path.name,
            " ".join(str(exc).split()),
        )


def remove_idle_wal(path: Path) -> None:
    """After a read-only close: SQLite's read-only connections cannot remove the ``-wal`` and
    ``-shm`` files they open. When the WAL is empty, no aldesk writes the project and the place is
    writable, a passing writable connection lets SQLite remove them, as it does for writers. A
    WAL with content (a killed writer's) is left for the next writer: reading never writes into
    the project file, which may be damaged."""
    wal = Path(f"{path}-wal")
    if not (wal.exists() or Path(f"{path}-shm").exists()):
        return
    try:
        if wal.exists() and wal.stat().st_size > 0:
            return
    except OSError:
        return
    if read_only_reason(path) is not None:
        return
    lock = ProjectLock(path)
    try:
        lock.acquire()
    except (ProjectLockedError, ProjectError, OSError):
        return  # someone writes it (their close tidies up), or the lock cannot be made here
    try:
        conn = sqlite3.connect(str(path), isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.info("could not tidy %s-wal: %s", path.name, exc)
    finally:
        lock.release()


def discard_new_file(path: Path, conn: sqlite3.Connection | None) -> None:
    """A project that could not even be created: remove what was begun."""
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        except OSError:
            pass
