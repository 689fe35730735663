"""One writer per project: an OS file lock on ``PROJECT-lock`` beside the project file.

The OS releases the lock when its process dies, however it dies, so a stale lock file left by a
killed aldesk is simply taken over. The file holds the owner's pid and host for the message.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from aldesk.core.errors import ProjectLockedError

# On Windows a locked byte cannot be read by others, so the owner info sits after it.
_INFO_OFFSET = 16


def lock_path_for(project: Path) -> Path:
    return project.with_name(project.name + "-lock")


class ProjectLock:
    """Exclusive, non-blocking, process-lifetime lock for writing one project."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.path = lock_path_for(project)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                owner = _read_owner(fd)
                os.close(fd)
                raise ProjectLockedError(
                    f"{self.project} is open in another aldesk ({owner}). Close it there first; "
                    f"if that aldesk is gone, delete {self.path.name}."
                )
            # Another process may have removed the file between our open and lock: then we hold
            # a lock on an orphaned inode and must retry on the current file.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.lseek(fd, _INFO_OFFSET, os.SEEK_SET)
        os.ftruncate(fd, _INFO_OFFSET)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Remove while still holding the lock, so nobody can take the file we are deleting.
            self.path.unlink(missing_ok=True)
        except OSError:
            pass  # e.g. a read-only folder: the unlocked file stays and is harmless
        os.close(fd)  # closing releases the lock

    def __enter__(self) -> "ProjectLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_owner(fd: int) -> str:
    try:
        os.lseek(fd, _INFO_OFFSET, os.SEEK_SET)
        text = os.read(fd, 256).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
