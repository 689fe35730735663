"""Partial exports: the temporary files and folders an export writes before renaming them into
place, and the removal of those a killed export left behind.

A partial is named ``.<target name>.partial-<host>-<pid>-<token>``: the host and pid say which
process writes it, so a later export (or opening the project) can tell a live writer's partial
from a dead one's without any age guess. Stale means: written on this host by a pid that no
longer runs. A pid reused by another process keeps the partial only until that process ends
(never removes a live writer's). For a partial written on another host (a shared folder), or
where pids cannot be checked (Windows: ``os.kill(pid, 0)`` would terminate the process there),
or an unnamed one from an older aldesk, the only safe test is age: untouched for
``STALE_AFTER_S``, far longer than any export takes to write its top-level entries.

Partials are created with mode 0o666 (0o777 for folders) so the umask gives the finished export
the usual permissions; ``tempfile.mkstemp``/``mkdtemp`` create owner-only files, which the rename
would keep.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import sys
import time
from pathlib import Path

STALE_AFTER_S = 2 * 24 * 3600

# .<name>.partial-<host>-<pid>-<8 hex>, or .<name>.partial-<8 hex> (folders of older versions).
# A partial project (aldesk recover) has SQLite's and aldesk's files beside it: -wal, -shm, -lock.
_PARTIAL = re.compile(
    r"^\..+\.partial-(?:(?P<host>[A-Za-z0-9]*)-(?P<pid>\d+)-)?[0-9a-f]{8}"
    r"(?:-wal|-shm|-lock|-journal)?$"
)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32]


def partial_path(target: Path) -> Path:
    """A fresh partial name beside ``target`` (not created)."""
    return target.with_name(f".{target.name}.partial-{_host()}-{os.getpid()}-{secrets.token_hex(4)}")


def create_partial_file(target: Path) -> tuple[int, Path]:
    """An open, new partial file beside ``target``: (fd for writing, its path)."""
    for _ in range(100):
        path = partial_path(target)
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {target.parent}")


def create_partial_folder(target: Path) -> Path:
    """A new, empty partial folder beside ``target``."""
    for _ in range(100):
        path = partial_path(target)
        try:
            path.mkdir()  # mode 0o777 & ~umask
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {target.parent}")


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether ``path`` is a partial whose writer is gone (see the module docstring)."""
    match = _PARTIAL.match(path.name)
    if match is None:
        return False
    if match["pid"] is not None and match["host"] == _host() and sys.platform != "win32":
        return not _pid_alive(int(match["pid"]))
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S


def remove_stale_partials(folder: Path) -> list[Path]:
    """Remove the partial files and folders in ``folder`` whose writer is gone; returns them.
    Never raises: a partial that cannot be removed now is tried again next time."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if ".partial-" not in entry.name:
            continue
        path = Path(entry.path)
        if not is_stale(path):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return True  # unknown: keep the partial
    return True
