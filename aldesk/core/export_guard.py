"""What an export may never write onto: the project's own files and the items' source images.

Refused with or without ``force``: the project file, its SQLite ``-wal``/``-shm``/``-journal``
files and its ``-lock`` file, and every item's source file, however the path is spelled
(symlinks, hard links, ``..``, another case on a case-insensitive disk). A folder export replaced
with ``force`` is refused when it holds the project or any item's source file, because replacing
it deletes everything inside. Files are compared by device and inode (``os.path.samestat``),
which sees through every spelling; names that do not exist yet by their resolved path.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project

# The project's own files beside PROJECT, and what each is, for the message.
_SIDECARS = (
    ("", "the project file itself"),
    ("-wal", "the project's write-ahead log"),
    ("-shm", "the project's shared-memory file"),
    ("-journal", "the project's journal"),
    ("-lock", "the project's lock file"),
)


class ProtectedFileError(AldeskError):
    """The export's target is one of the project's files or an item's source file."""


def check_not_project_file(project: Project, target: Path) -> None:
    """Refuse ``target`` (file or folder) if it is, or would replace, one of the project's files."""
    for suffix, what in _SIDECARS:
        own = project.path.with_name(project.path.name + suffix)
        if _same(target, own):
            raise ProtectedFileError(
                f"{target} is {what} ({own}); exporting there would destroy the project. Choose another --out."
            )


def check_not_source_file(project: Project, target: Path) -> None:
    """Refuse ``target`` if it is an item's source file (by stored path, or same inode)."""
    hit = _source_at(project, target)
    if hit is not None:
        raise ProtectedFileError(
            f"{target} is the source image of item {hit[0]} ({hit[1]}) in {project.path}; "
            "exporting there would destroy it. Choose another --out."
        )


def check_folder_holds_nothing_of(project: Project, folder: Path) -> None:
    """Refuse to replace ``folder`` if the project or any item's source file lies inside it.

    One pass over the stored paths (about 1 s at 1M items): each distinct folder of an item is
    resolved once and its ancestors compared by inode with ``folder``, memoized across items.
    """
    try:
        info = os.stat(folder)
    except OSError:
        return  # nothing there to delete
    inside = _Inside((info.st_dev, info.st_ino))
    if inside(str(project.path.parent)):
        raise ProtectedFileError(
            f"{folder} holds the project {project.path}; replacing it would delete the project. Choose another --out."
        )
    seen: set[str] = set()
    for item_id, stored in project.conn.execute("SELECT id, path FROM items"):
        parent = os.path.dirname(stored)
        if parent in seen:
            continue
        seen.add(parent)
        if inside(str(project.root / parent) if not os.path.isabs(stored) else parent):
            raise ProtectedFileError(
                f"{folder} holds source images of {project.path} (e.g. {project.resolve(stored)}, "
                f"item {item_id}); replacing it would delete them. Choose another --out."
            )


class _Inside:
    """Whether a folder path lies in (or is) the folder with inode ``key``, memoized."""

    def __init__(self, key: tuple[int, int]) -> None:
        self.key = key
        self.memo: dict[str, bool] = {}

    def __call__(self, path: str) -> bool:
        current = os.path.realpath(path)  # resolves symlinks, so the lexical parents are the real ones
        chain: list[str] = []
        result = False
        while True:
            if current in self.memo:
                result = self.memo[current]
                break
            chain.append(current)
            try:
                info = os.stat(current)
                if (info.st_dev, info.st_ino) == self.key:
                    result = True
                    break
            except OSError:
                pass  # a missing folder: its parents decide
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for entry in chain:
            self.memo[entry] = result
        return result


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samestat(os.stat(a), os.stat(b))
    except OSError:  # one does not exist (yet): compare where it would be
        return _spelling(a) == _spelling(b)


def _spelling(path: Path) -> str:
    # casefold: on a case-insensitive disk P-WAL would be P-wal. Refusing that name on a
    # case-sensitive disk too costs nothing.
    return os.path.normcase(os.path.realpath(path)).casefold()


def _source_at(project: Project, target: Path) -> tuple[int, Path] | None:
    """(item id, source path) of the item whose source ``target`` is, or None."""
    conn = project.conn
    for spelling in {os.path.abspath(target), os.path.realpath(target)}:
        row = conn.execute("SELECT id, path FROM items WHERE path = ?", (project.stored_path(spelling),)).fetchone()
        if row is not None:
            return row[0], project.resolve(row[1])
    try:
        info = os.stat(target)
    except OSError:
        return None
    # Another spelling of an existing file (hard link, symlinked folder, other case): its bytes
    # were hashed at import, so only a file of an item's size needs hashing, and then one lookup.
    if (
        not os.path.isfile(target)
        or conn.execute("SELECT 1 FROM items WHERE bytes = ? LIMIT 1", (info.st_size,)).fetchone() is None
    ):
        return None
    with open(target, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    row = conn.execute("SELECT id, path FROM items WHERE sha256 = ?", (digest,)).fetchone()
    if row is None:
        return None
    source = project.resolve(row[1])
    try:
        same = os.path.samestat(info, os.stat(source))
    except OSError:
        same = False
    return (row[0], source) if same else None
