"""The background learning worker: one job at a time, driven from its own QThread.

The jobs themselves (aldesk/ml/loop/jobs.py) run in a child process by default
(aldesk/ml/loop/compute_process.py): this thread sends a job, turns each message the child sends
back into a Qt signal, and waits, blocked in a pipe read that holds no interpreter lock. With
``ALDESK_WORKER=thread`` the jobs run in this thread instead (debugging; platforms where a
child process cannot start). Either way the worker never writes the project: the GUI thread,
which owns the writable connection, stores what arrives; a newer result replaces one still
waiting to be stored, and results arriving after the project closed are dropped.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from aldesk.core.errors import AldeskError
from aldesk.ml.loop.jobs import (  # noqa: F401 - re-exported: the GUI's names for them
    FALLBACK_LENGTH,
    QUEUE_LENGTH,
    EmbedChunk,
    JobRunner,
    RefreshOutcome,
)

log = logging.getLogger("aldesk.worker")

MODE_ENV = "ALDESK_WORKER"


def worker_mode() -> str:
    """``process`` (default) or ``thread``, from ALDESK_WORKER."""
    mode = os.environ.get(MODE_ENV, "").strip().lower() or "process"
    if mode not in ("process", "thread"):
        raise AldeskError(f"{MODE_ENV}={mode!r}: use 'process' (the default) or 'thread'.")
    return mode


class LearningWorker(QObject):
    progress = Signal(str, int, int)  # stage, done, total
    chunk_ready = Signal(object)  # EmbedChunk
    embedding_done = Signal(str)  # backbone name
    refreshed = Signal(object)  # RefreshOutcome
    failed = Signal(str, str)  # message for the person, details for the log
    event = Signal(str, object)  # any other message: the tune job's (aldesk/ml/loop/encoder_tuning.py)
    idle = Signal()

    def __init__(
        self, project_path: Path, backbone: str | None = None, mode: str | None = None, *, nice: int | None = None
    ) -> None:
        """``nice``: the child process's niceness (process mode; default compute_process.CHILD_NICE)."""
        super().__init__()
        self.project_path = project_path
        self.backbone_name = backbone
        self.mode = mode or worker_mode()
        self._cancel = threading.Event()
        self._runner = JobRunner(project_path, backbone, self._cancel.is_set) if self.mode == "thread" else None
        self._process = None
        if self.mode == "process":
            from aldesk.ml.loop.compute_process import ComputeProcess

            self._process = ComputeProcess(project_path, backbone, nice)
        self.slow_down_for_tests = 0.0  # seconds of extra work per refresh (tests of 'nobody waits')

    def cancel(self) -> None:
        self._cancel.set()
        if self._process is not None:
            self._process.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def child_pid(self) -> int | None:
        """The child process's id while one runs (process mode), for tests and diagnostics."""
        return self._process.pid if self._process is not None else None

    # -- jobs (slots run in the worker thread) -----------------------------------------------

    @Slot()
    def embed(self) -> None:
        self._run("embed")

    @Slot()
    def refresh(self) -> None:
        self._run("refresh")

    @Slot()
    def tune(self) -> None:
        self._run("tune")

    def _run(self, job: str) -> None:
        def deliver(kind: str, payload) -> None:
            if kind == "progress":
                self.progress.emit(*payload)
            elif kind == "chunk":
                self.chunk_ready.emit(payload)
            elif kind == "embedding_done":
                self.embedding_done.emit(payload)
            elif kind == "refreshed":
                self.refreshed.emit(payload)
            elif kind == "failed":
                self.failed.emit(*payload)  # the controller shows it and logs the details
            else:
                self.event.emit(kind, payload)

        try:
            if self._process is not None:
                self._process.run(job, deliver, slow_down=self.slow_down_for_tests)
            else:
                assert self._runner is not None
                self._runner.run(job, deliver, self.slow_down_for_tests)
        except AldeskError as exc:
            log.warning("%s", exc)
            self.failed.emit(str(exc), "")
        except Exception as exc:  # noqa: BLE001 - every failure must reach the person
            details = traceback.format_exc()
            log.error("worker failed: %s\n%s", exc, details)
            self.failed.emit(f"The background worker failed: {exc}", details)
        finally:
            self.idle.emit()

    def stop_process(self, timeout: float = 2.0) -> None:
        """End the child process (if any); called from the worker's thread as it finishes."""
        if self._process is not None:
            self._process.stop(timeout)

    def kill_process(self) -> None:
        """Kill the child now (safe: it only reads); the job waiting on it then ends."""
        if self._process is not None:
            self._process.kill()


# How long a closing window lets a cancelled job in the child process stop by itself before
# the child is killed (between-batch checks usually stop it within a few hundred ms).
CANCEL_GRACE_MS = 1_500


class WorkerThread(QThread):
    """Owns the worker's thread; ``stop`` cancels and waits, bounded."""

    def __init__(self, worker: LearningWorker) -> None:
        super().__init__()
        self.setObjectName("aldesk-learning-worker")
        self.worker = worker
        worker.moveToThread(self)

    def run(self) -> None:  # noqa: D102 - Qt's name; the thread's event loop
        lower_thread_priority()
        try:
            self.exec()
        finally:
            self.worker.stop_process()

    def stop(self, timeout_ms: int = 10_000) -> bool:
        self.worker.cancel()
        self.quit()
        if self.worker.mode == "process" and not self.wait(min(timeout_ms, CANCEL_GRACE_MS)):
            self.worker.kill_process()
        if self.wait(timeout_ms):
            return True
        # Still inside one long computation (it reads only; every label is already committed).
        # Destroying a running QThread aborts the process, so keep it referenced until it ends;
        # the app waits for such threads once more before it exits (wait_for_unfinished).
        _UNFINISHED.add(self)
        self.finished.connect(lambda: _UNFINISHED.discard(self))
        return False


_UNFINISHED: set[WorkerThread] = set()


def wait_for_unfinished(timeout_ms: int = 30_000) -> bool:
    """At exit: wait for worker threads that did not stop in time; True if none is left."""
    for thread in list(_UNFINISHED):
        if thread.wait(timeout_ms):
            _UNFINISHED.discard(thread)
    return not _UNFINISHED


# Niceness of the learning thread: the person's key presses and the image decodes for the next
# items come first (a decode starved by training made the next key press wait; see
# benchmarks/bench_keypress.py); training still gets every core nobody else wants.
BACKGROUND_NICE = 5


def lower_thread_priority() -> None:
    """Lower the calling thread's CPU priority; on Linux niceness is per thread and the threads it
    starts (torch's intra-op pool) inherit it. Elsewhere a no-op (it would lower the process)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), BACKGROUND_NICE))
    except OSError as exc:
        log.info("cannot lower the learning thread's priority: %s", exc)
