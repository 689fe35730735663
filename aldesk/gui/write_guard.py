"""The window's writes that may fail (a full disk, a file gone read-only, an I/O error).

A key press whose write fails is refused visibly: the session has not moved (it writes before it
changes anything in memory), and the banner says why. For a full disk the banner names the disk
and how much to free, and a timer hides it once that much is free again. Each press is still
tried while the banner is up: a label needs a few kB, so it may fit before the margin the
message asks for is back, and a press that can be saved is never refused. A write that succeeds
hides the banner. Background writes (embedding chunks, a model) that fail show the same banner
once; they are retried when the space is back (or with Retry).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from aldesk.core.disk import free_bytes
from aldesk.core.errors import AldeskError, DiskFullError, ReadOnlyProjectError
from aldesk.gui.banner import Banner

log = logging.getLogger("aldesk.write_guard")
T = TypeVar("T")

POLL_MS = 3_000  # how often free space is checked while a disk-full banner is up
# Besides AldeskError (the store's own errors), what a write can raise unwrapped.
WRITE_ERRORS = (AldeskError, sqlite3.Error, OSError)
REFUSED = "\nNothing moved on"
ROOM_NOTE = ": press the key again once there is room (this message then goes by itself)."


class WriteGuard(QObject):
    space_back = Signal()  # after a full disk, the space asked for is free again
    # A write found the project read-only now (disk remounted, damage met): the ReadOnlyProjectError.
    write_access_lost = Signal(object)

    def __init__(self, banner: Banner, parent: QObject | None = None, *, poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self.banner = banner
        self._disk: DiskFullError | None = None  # the full disk being watched
        self._shown = ""  # the banner message this guard put up (others are left alone)
        self.background_failed = False  # a background write waits to be retried
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.check_space)

    def attempt(self, write: Callable[[], T]) -> tuple[bool, T | None]:
        """Run a key press's write: (True, its result), or (False, None) once the failure is shown."""
        try:
            result = write()
        except WRITE_ERRORS as exc:
            self.refused(exc)
            return False, None
        self.succeeded()
        return True, result

    def refused(self, exc: BaseException) -> None:
        """A key press's write failed: say why (a repeat counts up in the banner, no new one)."""
        self._show(exc, note=REFUSED + (ROOM_NOTE if isinstance(exc, DiskFullError) else "."), retry=False)
        if isinstance(exc, ReadOnlyProjectError):
            self.write_access_lost.emit(exc)

    def background(self, exc: BaseException) -> None:
        """A background write failed; shown once while its disk stays full, retried later."""
        self.background_failed = True
        if isinstance(exc, DiskFullError) and self._disk is not None and self.banner.message == self._shown:
            return  # the disk-full banner is up already: one per full disk, not one per chunk
        self._show(exc, note="", retry=True)
        if isinstance(exc, ReadOnlyProjectError):
            self.write_access_lost.emit(exc)

    def succeeded(self) -> None:
        """A write went through: a refusal shown before is no longer true."""
        if self._shown and self.banner.message == self._shown:
            self.banner.dismiss()
        self._shown = ""
        if not self.background_failed:
            self._stop_watching()

    def check_space(self) -> None:
        """Timer: hide the disk-full banner once the space it asks for is free."""
        if self._disk is None:
            return
        free = free_bytes(self._disk.folder)
        if free is None or free < self._disk.needed:
            return
        self._stop_watching()
        if self._shown and self.banner.message == self._shown:
            self.banner.dismiss()
        self._shown = ""
        self.space_back.emit()

    def take_background_retry(self) -> bool:
        """True once per failed background write: the caller retries it now."""
        failed, self.background_failed = self.background_failed, False
        return failed

    def reset(self) -> None:
        """The project closed: nothing left to watch or retry."""
        self._stop_watching()
        self._shown = ""
        self.background_failed = False

    @property
    def watching(self) -> bool:
        return self._timer.isActive()

    def _show(self, exc: BaseException, *, note: str, retry: bool) -> None:
        if isinstance(exc, AldeskError):
            message = str(exc)  # the store's message names the file and what to do
        else:  # not put in words by the store: the traceback goes to the log
            log.error("a write failed", exc_info=exc)
            message = f"Saving failed ({exc}; the details are in the log). Everything saved before is intact."
        if isinstance(exc, DiskFullError):
            self._disk = exc
            self._timer.start()
        self._shown = message + note
        self.banner.show_message(self._shown, retry=retry, logged=False)

    def _stop_watching(self) -> None:
        self._disk = None
        self._timer.stop()
