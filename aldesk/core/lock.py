"""One writer per project: an OS file lock on ``PROJECT-lock`` beside the project file.

The OS releases the lock when its process dies, however it dies, so a stale lock file left by a
killed aldesk is simply taken over: nobody ever needs to delete it by hand (and deleting it while
its holder lives would let a second writer in). The file holds the owner's pid, host and start
time for the message.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from aldesk.core.disk import is_no_space
from aldesk.core.errors import ProjectError, ProjectLockedError

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
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise _lock_file_error(self.project, self.path, exc) from exc
            try:
                locked = _try_lock(fd)
            except OSError as exc:
                os.close(fd)
                raise ProjectError(
                    f"{self.project} cannot be locked for writing: its file system refuses locks "
                    f"({exc.strerror or exc}). Copy the project to a local disk to label it; reading works."
                ) from exc
            if not locked:
                owner = _read_owner(fd)
                os.close(fd)
                raise ProjectLockedError(
                    f"{self.project} is open in another aldesk ({_describe(owner)}). Close it there "
                    "first; reading it (info, export) works meanwhile. aldesk takes the lock over "
                    "by itself once that aldesk has ended."
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
        try:
            os.lseek(fd, _INFO_OFFSET, os.SEEK_SET)
            os.ftruncate(fd, _INFO_OFFSET)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.time():.0f}\n".encode())
        except OSError:
            pass  # a full disk: the lock holds all the same, only the message's details are missing
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


def _lock_file_error(project: Path, lock_file: Path, exc: OSError) -> ProjectError:
    if is_no_space(exc):
        from aldesk.core.disk import disk_full_error

        return disk_full_error(lock_file, outcome="the project was not opened for writing")
    return ProjectError(
        f"{project} cannot be opened for writing: its lock file {lock_file.name} cannot "
        f"be made ({exc.strerror or exc}). Check that its folder is writable."
    )


def _describe(owner: str) -> str:
    """'pid 12 on host since 1700000000' -> 'pid 12 on host, since 14:02 on 3 Dec'."""
    words = owner.split()
    if len(words) >= 6 and words[0] == "pid" and words[2] == "on" and words[4] == "since":
        try:
            since = time.strftime("%H:%M on %d %b %Y", time.localtime(float(words[5])))
        except (ValueError, OverflowError, OSError):
            return owner
        where = words[3]
        if where != socket.gethostname():
            where += ", another computer sharing this folder"
        return f"pid {words[1]} on {where}, since {since}"
    return owner


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
