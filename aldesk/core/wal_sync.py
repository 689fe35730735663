"""Power-cut durability without an fsync on the caller's thread: fsync the WAL just after commits
(and checkpoint it when it grows large).

A project runs SQLite in WAL mode with ``synchronous=NORMAL``. Then a COMMIT is a ``write()``
of the transaction's pages into the ``-wal`` file, and from that moment the change survives the
process being killed (the operating system holds the bytes and writes them out on its own); it
is lost only if the machine loses power or the OS crashes before they reach the disk, and even
then the database stays consistent (WAL recovery drops the incomplete tail). ``synchronous=FULL``
closes that window by fsyncing the WAL inside every COMMIT, which put an fsync on every label key
press (up to 7 ms here, and a frame is 16 ms; docs/benchmarks.md, "Key press to next image painted").

So the key press commits with NORMAL (a fraction of a millisecond, killed-process safe), and
this thread fsyncs the WAL right after, off the GUI thread: a power cut can lose at most the
commits of the last few milliseconds. An fsync flushes the file's data whichever descriptor
wrote it, so a separate descriptor is enough. The thread ends after a short idle time (no
thread is left behind by a project nobody closed) and is started again by the next commit.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("aldesk.wal_sync")

IDLE_SECONDS = 0.5  # the thread ends after this long without a commit
# Copy the WAL back into the database once it is this large (SQLite's own default is 1,000 pages,
# ~4 MB); the project's connection has automatic checkpoints off, so they never run in a commit.
CHECKPOINT_BYTES = 4 * 1024 * 1024
# The project's connection cuts a restarted WAL back to this size (journal_size_limit), so the
# file's size keeps telling how much was written since the last complete checkpoint.
RESTARTED_WAL_BYTES = 1024 * 1024
# A writer committing back to back never leaves the background checkpoint a moment to finish;
# past this size it checkpoints inline (SQLite's own automatic checkpoint does it at ~4 MB).
INLINE_CHECKPOINT_BYTES = 64 * 1024 * 1024


class WalSyncer:
    """Fsyncs ``<database>-wal`` in a background thread after each ``request()``."""

    def __init__(self, database: Path) -> None:
        self._database = Path(database)
        self._wal = Path(f"{database}-wal")
        self._folder = Path(database).parent
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._synced_folder = False
        self.syncs = 0  # completed fsyncs (tests)
        self.checkpoints = 0  # complete checkpoints, every frame copied (tests)

    def request(self) -> None:
        """A transaction was just committed: make it power-cut durable soon. Returns at once."""
        with self._lock:
            if self._closed:
                return
            self._wanted.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="aldesk-wal-sync", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread and fsync once more in the caller: everything committed is on disk."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._wanted.set()
        if thread is not None:
            thread.join(timeout)
        self._sync()

    def _run(self) -> None:
        while True:
            if not self._wanted.wait(IDLE_SECONDS):
                with self._lock:
                    if not self._wanted.is_set():  # idle: end; the next request starts a new thread
                        self._thread = None
                        return
            if self._closed:
                return
            self._wanted.clear()  # commits from now on ask for another round
            self._sync()
            self._checkpoint_if_large()

    def _wal_bytes(self) -> int:
        try:
            return self._wal.stat().st_size
        except OSError:
            return 0

    def _checkpoint_if_large(self) -> None:
        """A PASSIVE checkpoint through a connection of this thread's own: it never waits for
        and never blocks the writer; pages that readers still need are copied next time."""
        if self._wal_bytes() < CHECKPOINT_BYTES:
            return
        try:
            conn = sqlite3.connect(self._database, isolation_level=None)
            try:
                self._count(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
            finally:
                conn.close()  # never the last connection: the project's own stays open
        except sqlite3.Error as exc:
            log.warning("checkpoint of %s failed (retried after the next commit): %s", self._database, exc)

    def checkpoint_if_huge(self, conn: sqlite3.Connection) -> None:
        """Called by the writer after a commit: checkpoint inline once the WAL is huge."""
        if self._wal_bytes() >= INLINE_CHECKPOINT_BYTES:
            self._count(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def _count(self, result: tuple[int, int, int] | None) -> None:
        # (busy, frames in the WAL, frames copied): complete when every frame was copied.
        if result is not None and result[0] == 0 and result[1] == result[2]:
            self.checkpoints += 1

    def _sync(self) -> None:
        try:
            fd = os.open(self._wal, os.O_RDWR)  # Windows' fsync needs a writable descriptor
        except FileNotFoundError:
            return  # the last connection closed: SQLite checkpointed and removed the WAL
        except OSError as exc:
            log.warning("cannot open %s to make it durable: %s", self._wal, exc)
            return
        try:
            os.fsync(fd)
            self.syncs += 1
        except OSError as exc:
            log.warning("fsync of %s failed: %s", self._wal, exc)
        finally:
            os.close(fd)
        if not self._synced_folder and hasattr(os, "O_DIRECTORY"):
            # The WAL file's own directory entry must reach the disk once, too.
            try:
                folder = os.open(self._folder, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
                self._synced_folder = True
            except OSError as exc:
                log.warning("fsync of %s failed: %s", self._folder, exc)
