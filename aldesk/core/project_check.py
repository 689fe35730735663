"""Checks made before a project is opened: is it an aldesk project, can it be written here, is it
intact. None of them writes anything to the file.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

from aldesk import __version__
from aldesk.core import schema
from aldesk.core.disk import mount_point
from aldesk.core.errors import NewerProjectError, NotAProjectError, ProjectError
from aldesk.core.sqlite_errors import damaged_message, is_damage, one_line, project_error

_SQLITE_MAGIC = b"SQLite format 3\x00"

# The tables that hold the person's work, checked at every open. The large tables (embeddings,
# model predictions; gigabytes at a million items) are recomputable and skipped here: checking
# them would cost seconds per open (docs/reliability.md); damage there surfaces when they are
# read, and marks the project damaged then.
PRECIOUS_TABLES = ("meta", "classes", "items", "label_events", "item_truth", "queue", "suspect_runs", "suspects", "models")
MAX_PROBLEMS = 20
# Up to this size the whole-file check is integrity_check (about 2 s per GB here, cached), above
# it quick_check (0.3-0.4 s per GB): docs/reliability.md.
INTEGRITY_CHECK_BYTES = 512 * 1024 * 1024


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
        conn = connect_read_only(path)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except UnicodeDecodeError as exc:  # SQLite's own message quotes the damaged schema's bytes
        raise NotAProjectError(
            f"{path} is damaged so badly that it cannot be opened (its list of tables is unreadable). "
            f"Try 'aldesk recover {path.name} --out NEW.aldesk'; if that fails too, restore it from a backup."
        ) from exc
    except sqlite3.Error as exc:
        if is_damage(exc):
            raise NotAProjectError(
                f"{path} is damaged so badly that it cannot be opened ({one_line(exc)}). Try 'aldesk recover "
                f"{path.name} --out NEW.aldesk'; if that fails too, restore it from a backup."
            ) from exc
        raise project_error(path, exc, what="reading it", reading=True) from exc
    if app_id != schema.APPLICATION_ID:
        raise NotAProjectError(f"{path} is a SQLite database but not an aldesk project; aldesk leaves it untouched.")
    if version > schema.SCHEMA_VERSION:
        raise NewerProjectError(
            f"{path} was written by a newer aldesk (project schema version {version}); this is "
            f"aldesk {__version__}, which reads schema versions up to {schema.SCHEMA_VERSION}. "
            "Update aldesk to open it; the file was not changed."
        )
    return int(version)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection. On a read-only medium where SQLite cannot create the WAL's index
    file (``-shm``), the file is opened as immutable: nothing can change it there anyway."""
    try:
        conn = _connect_uri(path, "mode=ro")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        wal = Path(f"{path}-wal")
        if read_only_reason(path) is None or (wal.exists() and wal.stat().st_size > 0):
            raise  # writable place, or a WAL with content that immutable mode would ignore
        return _connect_uri(path, "mode=ro&immutable=1")


def _connect_uri(path: Path, params: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{quote(str(path))}?{params}", uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def read_only_reason(path: Path) -> str | None:
    """Why the project at ``path`` cannot be written here, or None if it can.

    SQLite writes two files beside the project (``-wal``, ``-shm``) and aldesk a lock file, so
    the folder must be writable too.
    """
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"it is on a read-only disk or mount ({mount_point(folder)})"
    except (OSError, AttributeError):
        pass  # no statvfs (Windows): the permission checks below still apply
    if not os.access(path, os.W_OK):
        return "the file is read-only (no write permission)"
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is read-only (aldesk writes its lock and journal files there)"
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists() and not os.access(side, os.W_OK):
            return f"{side.name} beside it is read-only"
    return None


def find_damage(conn: sqlite3.Connection, *, full: bool = False, limit_bytes: int | None = None) -> list[str]:
    """SQLite's own checks; [] when intact.

    ``full``: the whole file. ``PRAGMA integrity_check`` (every page, the free-page list, NOT
    NULL and CHECK constraints, and that every index matches its table) for files up to
    ``limit_bytes`` (default INTEGRITY_CHECK_BYTES), else ``PRAGMA quick_check`` (all of that
    but the index comparison, at a quarter of the cost). Otherwise ``quick_check`` of the tables
    that hold the person's work (0.3 s at a million items).
    """
    if full:
        size = _file_size(conn)
        limit = INTEGRITY_CHECK_BYTES if limit_bytes is None else limit_bytes
        pragma = "integrity_check" if size <= limit else "quick_check"
        return _quick_check(conn, f"PRAGMA {pragma}({MAX_PROBLEMS})", "the file")
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    problems: list[str] = []
    for table in PRECIOUS_TABLES:
        if table in present:
            problems += _quick_check(conn, f"PRAGMA quick_check({table})", table)
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems[:MAX_PROBLEMS]


def _file_size(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    return int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])


def _quick_check(conn: sqlite3.Connection, pragma: str, what: str) -> list[str]:
    try:
        rows = conn.execute(pragma).fetchall()
    except sqlite3.DatabaseError as exc:
        return [f"{what}: {one_line(exc)}"]
    except UnicodeDecodeError:  # the report itself quotes damaged bytes (a table's name)
        return [f"{what}: damaged beyond a readable report"]
    # A check of the whole file heads its first problem with "*** in database main ***\n".
    problems = [" ".join(re.sub(r"^\*\*\* in database \w+ \*\*\*\s*", "", str(r[0])).split()) for r in rows if r[0] != "ok"]
    return [p or "damage" for p in problems]


def damaged_error_text(path: Path, problems: list[str]) -> str:
    more = f" and {len(problems) - 1} more problems" if len(problems) > 1 else ""
    return damaged_message(path, f"SQLite's check found: {problems[0]}{more}")
