"""The project file: opening safely, connections, transactions and stored paths.

A project is one SQLite file (WAL mode, foreign keys on). Opening checks the file before writing
anything to it: not SQLite, damaged, another program's database, or written by a newer aldesk
are refused and the file is left untouched.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from aldesk import __version__
from aldesk.core import schema
from aldesk.core.errors import NewerProjectError, NotAProjectError, ProjectError
from aldesk.core.lock import ProjectLock
from aldesk.core import wal_sync
from aldesk.core.wal_sync import WalSyncer

PROJECT_SUFFIX = ".aldesk"
_SQLITE_MAGIC = b"SQLite format 3\x00"


class Project:
    """An open project. Writable projects hold the one-writer lock until ``close``."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: ProjectLock | None, *,
                 borrowed_lock: bool = False, foreground_writing: threading.Event | None = None) -> None:
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
        try:
            if self._syncer is not None:
                self._syncer.close()
            self.conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

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
        if not self.writable:
            raise ProjectError(f"{self.path} was opened read-only")
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
        except sqlite3.OperationalError as exc:
            raise _write_error(self.path, exc) from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")
            if self._syncer is not None:
                self._syncer.request()
                # Back-to-back writers (imports, embedding chunks) outrun the background
                # checkpoint; past this size the writer checkpoints itself, as SQLite would.
                self._syncer.checkpoint_if_huge(self.conn)
        except sqlite3.OperationalError as exc:
            _rollback(self.conn)
            raise _write_error(self.path, exc) from exc
        except BaseException:
            _rollback(self.conn)
            raise

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def has_table(self, name: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
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
        conn = _connect(path, read_only=False)
        try:
            schema.migrate(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            path.unlink(missing_ok=True)
            raise _write_error(path, exc) from exc
    except BaseException:
        lock.release()
        raise
    project = Project(path, conn, lock)
    now = str(time.time())
    with project.transaction() as c:
        c.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?)",
            [("created_at", now), ("created_by", f"aldesk {__version__}")],
        )
    return project


def open_project(path: str | os.PathLike[str], *, write: bool = True) -> Project:
    """Open an existing project, upgrading an older schema when opened for writing."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    version = check_project_file(path)
    if not write:
        return Project(path, _connect(path, read_only=True), None)
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise ProjectError(
            f"{path} cannot be written (read-only file or folder). Copy it somewhere writable, "
            "or open it read-only."
        )
    lock = ProjectLock(path)
    lock.acquire()
    try:
        conn = _connect(path, read_only=False)
        if version < schema.SCHEMA_VERSION:
            try:
                schema.migrate(conn)
            except sqlite3.OperationalError as exc:
                conn.close()
                raise _write_error(path, exc) from exc
    except BaseException:
        lock.release()
        raise
    return Project(path, conn, lock)


def second_connection(project: Project) -> Project:
    """Another writable connection to a project this process holds open for writing, for one
    background thread: SQLite lets one of the two write at a time, the other waits (busy
    timeout). It keeps SQLite's own WAL checkpoints, which then run in that thread. Close it
    before the project."""
    if not project.writable:
        raise ProjectError(f"{project.path} was opened read-only")
    return Project(project.path, _connect(project.path, read_only=False), None, borrowed_lock=True,
                   foreground_writing=project._foreground_writing)


def check_project_file(path: Path) -> int:
    """Validate ``path`` as an aldesk project without modifying it; return its schema version."""
    if not path.exists():
        raise ProjectError(f"No such project: {path}. Create one with: aldesk new {path.name}")
    if path.is_dir():
        raise ProjectError(f"{path} is a folder, not an aldesk project file.")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ProjectError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if header != _SQLITE_MAGIC:
        raise NotAProjectError(f"{path} is not an aldesk project (it is not a SQLite database).")
    try:
        conn = _connect(path, read_only=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise NotAProjectError(
            f"{path} is damaged and cannot be opened ({exc}). Restore it from a backup."
        ) from exc
    if app_id != schema.APPLICATION_ID:
        raise NotAProjectError(
            f"{path} is a SQLite database but not an aldesk project; aldesk leaves it untouched."
        )
    if version > schema.SCHEMA_VERSION:
        raise NewerProjectError(
            f"{path} was written by a newer aldesk (project schema version {version}); this is "
            f"aldesk {__version__}, which reads schema versions up to {schema.SCHEMA_VERSION}. "
            "Update aldesk to open it; the file was not changed."
        )
    return int(version)


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        uri = f"file:{quote(str(path))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not read_only:
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


def _write_error(path: Path, exc: sqlite3.OperationalError) -> ProjectError:
    message = str(exc)
    if "full" in message:
        return ProjectError(
            f"The disk holding {path} is full; the last change was not saved. Free some space "
            "and try again (everything saved before is intact)."
        )
    if "readonly" in message or "read-only" in message:
        return ProjectError(f"{path} cannot be written ({message}).")
    if "locked" in message or "busy" in message:
        return ProjectError(f"{path} is busy in another program ({message}); try again.")
    return ProjectError(f"Writing {path} failed: {message}")
