"""Free space, and the message for a write that ran out of it: which disk, how much is free,
how much to free."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from aldesk.core.errors import DiskFullError

# A label is a few kB, but SQLite may need to grow the WAL and checkpoint it back: ask for room
# to spare so that the next try does not fail again a moment later.
MIN_FREE_BYTES = 8 * 1024 * 1024

# Background work (embeddings, models) is not stored while less than this would stay free, so
# that a full disk stops the recomputable work before it stops the person's labels.
LABEL_RESERVE_BYTES = 64 * 1024 * 1024

# errno values that mean "no room": a full disk, a quota, a file-size limit (ulimit -f).
NO_SPACE_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if e)


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    candidate = Path(os.path.abspath(path))
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    try:
        return shutil.disk_usage(candidate).free
    except OSError:
        return None


def mount_point(path: str | os.PathLike[str]) -> Path:
    """The mount point of the file system holding ``path``: the "disk" named in messages."""
    candidate = Path(os.path.abspath(path))
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    known = _mount_points()
    if known:  # the longest mount point above the path (bind mounts share a device number)
        for parent in (candidate, *candidate.parents):
            if str(parent) in known:
                return parent
    while not os.path.ismount(candidate) and candidate != candidate.parent:
        candidate = candidate.parent
    return candidate


def _mount_points() -> set[str]:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as handle:
            # Fields are space-separated with spaces in paths written as \040.
            return {line.split()[1].replace("\\040", " ") for line in handle if len(line.split()) > 1}
    except OSError:
        return set()


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} bytes"  # unreachable


def is_no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS


def disk_full_error(
    path: str | os.PathLike[str],
    *,
    what: str = "the last change",
    needed: int = MIN_FREE_BYTES,
    limit: bool = False,
    outcome: str | None = None,
    nearly: bool = False,
) -> DiskFullError:
    """The error for a write to ``path`` that found no room. ``what`` names what was not saved
    ("the last label", "the export"), or ``outcome`` says what happened instead; ``limit`` is
    set when a file-size limit, not the disk, stopped it."""
    folder = Path(os.path.abspath(path)).parent
    needed = max(needed, MIN_FREE_BYTES)
    outcome = outcome or f"{what} was not saved"
    if limit:
        message = (
            f"{path} reached this process's file-size limit (ulimit -f); {outcome}. "
            "Raise the limit and try again; everything saved before is intact."
        )
    else:
        free = free_bytes(folder)
        disk = mount_point(folder)
        free_text = f"{human_bytes(free)} free" if free is not None else "free space unknown"
        message = (
            f"The disk holding {path} ({disk}, {free_text}) is {'nearly ' if nearly else ''}full; {outcome}. "
            f"Free at least {human_bytes(needed)} there and try again; everything saved "
            "before is intact."
        )
    return DiskFullError(message, folder, needed)


def reserve_error(path: str | os.PathLike[str], *, outcome: str, incoming: int) -> DiskFullError | None:
    """A DiskFullError (saying ``outcome``) when storing ``incoming`` more bytes of recomputable
    work beside ``path`` would leave less than LABEL_RESERVE_BYTES free; None when there is room
    (or no telling)."""
    free = free_bytes(Path(os.path.abspath(path)).parent)
    if free is None or free - incoming >= LABEL_RESERVE_BYTES:
        return None
    return disk_full_error(path, outcome=outcome, needed=LABEL_RESERVE_BYTES + incoming, nearly=True)
