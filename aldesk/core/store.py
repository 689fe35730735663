"""The project file: opening safely, connections, transactions and stored paths.

A project is one SQLite file (WAL mode, foreign keys on). Opening checks the file before writing
anything to it: not SQLite, damaged, another program's database, or written by a newer aldesk
are refused and the file is left untouched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aldesk import __version__
from aldesk.core import schema
from aldesk.core.errors import DamagedProjectError, ProjectError, ReadOnlyProjectError
from aldesk.core.lock import ProjectLock
from aldesk.core import wal_sync
from aldesk.core.project_check import check_project_file, connect_read_only, damaged_error_text, find_damage, read_only_reason
from aldesk.core.project_files import checkpoint, discard_new_file, remove_idle_wal, start_tidying
from aldesk.core.sqlite_errors import project_error
from aldesk.core.wal_sync import WalSyncer

__all__ = ["PROJECT_SUFFIX", "Project", "check_project_file", "create_project", "open_project", "second_connection"]

log = logging.getLogger("aldesk.store")

PROJECT_SUFFIX = ".aldesk"


class Project:
    """An open project. Writable projects hold the one-writer lock until ``close``."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        lock: ProjectLock | None,
        *,
        borrowed_lock: bool = False,
        foreground_writing: threading.Event | None = None,
    ) -> None:
        self.path = path
        # Set while the project's own connection (the GUI thread's) wants to write or writes. A
        # second connection's transaction waits for it to clear: a back-to-back background
        # writer would otherwise begin its next transaction before SQLite's busy handler, which
        # polls after 1, 3, 8, 18 ms, lets the waiting one in (20 ms waits were measured).
        self._foreground_writing = foreground_writing if foreground_writing is not None else threading.Event()
        self.root = path.parent
        self.conn = conn
        self._lock = lock
        self._borrowed_lock = borrowed_lock  # a second connection of the process holding the lock
        # Problems SQLite's check found (opened read-only then), or damage met later: no more writes.
        self.damage: list[str] = []
        # Why a project opened read-only could not have been opened for writing (None: it could).
        self.read_only_reason: str | None = None
        # Writable projects commit with synchronous=NORMAL; this makes each commit power-cut
        # durable a few ms later, off the caller's thread (see aldesk.core.wal_sync).
        self._syncer = WalSyncer(path) if lock is not None else None
        if self._syncer is not None:
            # Checkpoints run in the syncer's thread too: SQLite's automatic one runs inside
            # whichever commit crosses 1,000 WAL pages, often a key press's (up to 229 ms seen).
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            # A restarted WAL is cut back to this size, so its file size tells how much is new.
            conn.execute(f"PRAGMA journal_size_limit = {wal_sync.RESTARTED_WAL_BYTES}")

    # -- life cycle -------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        return self._lock is not None or self._borrowed_lock

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close, leaving everything in the ``.aldesk`` file itself: a copy of that one file holds
        every label (until a checkpoint, committed changes live in ``-wal``)."""
        tidy = False
        try:
            if self._syncer is not None:
                self._syncer.close()
            if self._lock is not None and not self.damage:
                checkpoint(self.conn, self.path)
            tidy = self._lock is None and not self._borrowed_lock and not self.damage
            self.conn.close()  # the last connection to close removes -wal and -shm
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
        if tidy:
            remove_idle_wal(self.path)

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; committed on success, rolled back on any error.

        A full disk or a read-only file becomes a ProjectError naming the file; nothing that was
        committed before is lost.
        """
        if self.damage:
            raise DamagedProjectError(damaged_error_text(self.path, self.damage), reason=self.damage[0])
        if not self.writable:
            raise ReadOnlyProjectError(
                f"{self.path} was opened read-only"
                + (f" because {self.read_only_reason}" if self.read_only_reason else "")
                + "; the change was not saved.",
                reason=self.read_only_reason or "opened read-only",
            )
        if self._borrowed_lock:
            self._let_foreground_write_first()
        else:
            self._foreground_writing.set()
        try:
            yield from self._transaction()
        finally:
            if not self._borrowed_lock:
                self._foreground_writing.clear()

    def _let_foreground_write_first(self, limit_s: float = 5.0) -> None:
        deadline = time.monotonic() + limit_s  # bounded: a stuck flag must not stop the writer
        while self._foreground_writing.is_set() and time.monotonic() < deadline:
            time.sleep(0.0005)

    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(self.conn)
            raise self._error(exc) from exc
        except BaseException:
            _rollback(self.conn)
            raise
        if self._syncer is not None:
            self._syncer.request()
            try:
                # Back-to-back writers (imports, embedding chunks) outrun the background
                # checkpoint; past this size the writer checkpoints itself, as SQLite would.
                self._syncer.checkpoint_if_huge(self.conn)
            except sqlite3.Error as exc:  # committed already: the WAL keeps it until the next try
                log.warning("checkpoint of %s failed: %s", self.path, exc)

    def _error(self, exc: sqlite3.Error) -> ProjectError:
        """The person's message for ``exc``; damage found now stops every later write."""
        error = project_error(self.path, exc)
        if isinstance(error, DamagedProjectError):
            self.damage = [error.reason]
        return error

    def check_fully(self, limit_bytes: int | None = None) -> list[str]:
        """The whole file's check (``find_damage(full=True)``), through a connection of the
        caller's thread (safe in a background thread); damage found stops every later write.
        Returns the problems."""
        try:
            conn = connect_read_only(self.path)
            try:
                problems = find_damage(conn, full=True, limit_bytes=limit_bytes)
            finally:
                conn.close()
        except UnicodeDecodeError:
            problems = ["damaged beyond a readable report"]
        except sqlite3.Error as exc:
            error = project_error(self.path, exc, what="checking it", reading=True)
            problems = [error.reason] if isinstance(error, DamagedProjectError) else []
        if problems:
            self.damage = problems
        return problems

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def has_table(self, name: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None

    # -- paths ------------------------------------------------------------------------------

    def stored_path(self, path: str | os.PathLike[str]) -> str:
        """How a file's path is kept: relative to the project's folder when inside it."""
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            return str(absolute)

    def resolve(self, stored: str) -> Path:
        """The absolute path of a stored item path."""
        candidate = Path(stored)
        return candidate if candidate.is_absolute() else self.root / candidate


# -- opening and creating ----------------------------------------------------------------------


def create_project(path: str | os.PathLike[str]) -> Project:
    """Create a new, empty project file and open it for writing."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    if path.exists():
        raise ProjectError(f"{path} already exists. Open it, or choose another name.")
    if not path.parent.is_dir():
        raise ProjectError(f"Cannot create {path}: the folder {path.parent} does not exist.")
    lock = ProjectLock(path)
    lock.acquire()
    try:
        try:
            conn = _connect(path, read_only=False)
            schema.migrate(conn)
        except sqlite3.Error as exc:
            discard_new_file(path, locals().get("conn"))
            raise project_error(path, exc, what="the new project") from exc
    except BaseException:
        lock.release()
        raise
    project = Project(path, conn, lock)
    now = str(time.time())
    try:
        with project.transaction() as c:
            c.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)", [("created_at", now), ("created_by", f"aldesk {__version__}")]
            )
    except BaseException:
        project.damage = ["not created"]  # no checkpoint into a file about to be removed
        project.close()
        discard_new_file(path, None)
        raise
    return project


def open_project(path: str | os.PathLike[str], *, write: bool = True, check: bool = True, full_check: bool = True) -> Project:
    """Open an existing project, upgrading an older schema when opened for writing.

    For writing, a project that cannot be written here raises ReadOnlyProjectError and a
    damaged one DamagedProjectError, before anything is written; both can be opened with
    ``write=False`` (``Project.read_only_reason``, ``Project.damage`` say why).

    Checks: a read-only open checks the tables holding the person's work (``check=False``: none;
    the learning process opens the project the window checked, at every job). Opening for
    writing checks the whole file (integrity_check up to 512 MB, else quick_check);
    ``full_check=False`` checks only those tables, for the
    window, which then checks the rest in the background (``Project.check_fully``).
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    version = check_project_file(path)
    if not write:
        conn = connect_read_only(path)
        project = Project(path, conn, None)
        project.read_only_reason = read_only_reason(path)
        if check:
            project.damage = _damage(path, conn)
        return project
    reason = read_only_reason(path)
    if reason is not None:
        raise ReadOnlyProjectError(
            f"{path} cannot be written here: {reason}. It can be opened read-only (browse, "
            "review, export); to label or change it, copy it to a writable folder.",
            reason=reason,
        )
    lock = ProjectLock(path)
    lock.acquire()
    try:
        checker = connect_read_only(path)  # checked before a writing connection touches the file
        try:
            problems = _damage(path, checker, full=full_check)
        finally:
            checker.close()
        if problems:
            raise DamagedProjectError(damaged_error_text(path, problems), reason=problems[0])
        try:
            conn = _connect(path, read_only=False)
            if version < schema.SCHEMA_VERSION:
                schema.migrate(conn)
        except sqlite3.Error as exc:
            raise project_error(path, exc, what="opening it for writing", reading=True) from exc
    except BaseException:
        lock.release()
        raise
    start_tidying(path.parent)
    return Project(path, conn, lock)


def _damage(path: Path, conn: sqlite3.Connection, *, full: bool = False) -> list[str]:
    try:
        return find_damage(conn, full=full)
    except sqlite3.Error as exc:
        raise project_error(path, exc, what="checking it", reading=True) from exc


def second_connection(project: Project) -> Project:
    """Another writable connection to a project this process holds open for writing, for one
    background thread: SQLite lets one of the two write at a time, the other waits (busy
    timeout). It keeps SQLite's own WAL checkpoints, which then run in that thread. Close it
    before the project."""
    if not project.writable:
        raise ProjectError(f"{project.path} was opened read-only")
    return Project(
        project.path,
        _connect(project.path, read_only=False),
        None,
        borrowed_lock=True,
        foreground_writing=project._foreground_writing,
    )


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        return connect_read_only(path)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL: a commit is a write() to the WAL, which survives a killed process; FULL's fsync
    # per commit cost a whole frame per key press, so Project fsyncs the WAL just after each
    # commit in a background thread instead (aldesk.core.wal_sync): a power cut loses at most
    # the last few milliseconds, never consistency.
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the transaction may already be gone (e.g. SQLite rolled it back on disk-full)


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid of the row the INSERT just run on ``cursor`` wrote. sqlite3 types ``lastrowid``
    as ``int | None``: it is None only on a cursor that has run no INSERT yet."""
    row_id = cursor.lastrowid
    if row_id is None:
        raise TypeError("inserted_id() of a cursor that has run no INSERT")  # what int(None) raised
    return row_id
