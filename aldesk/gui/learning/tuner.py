"""GUI-thread side of fine-tuning the text encoder: when to tune, storing what comes back, adopting.

The tuning runs in a worker of its own (its own child process), beside the refreshes: a tuning
takes tens of seconds, and the queue must keep following the labels meanwhile. What it sends is
stored here: the weights by a background thread through a second connection (45 MB, in short
transactions), the re-embedded vectors chunk by chunk into a set of their own, which no round
reads until the tuned encoder is adopted. Adoption is one meta row (tuned_encoders.adopt), made
only when everything was stored and the tuned encoder's model did at least as well on the audits;
then the controller retrains, and the next model and queue come from the new vectors together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from aldesk.core import tuned_encoders
from aldesk.core.disk import reserve_error
from aldesk.core.store import Project, second_connection
from aldesk.gui.background import BackgroundTask
from aldesk.gui.learning.chunk_store import PAUSED, store_chunk
from aldesk.gui.learning.worker import EmbedChunk, LearningWorker, WorkerThread
from aldesk.gui.write_guard import WRITE_ERRORS
from aldesk.ml.loop.encoder_tuning import TunedWeights, TuneOutcome, tuning_due

log = logging.getLogger("aldesk.tuner")


class EncoderTuner(QObject):
    state_changed = Signal(str, int, int)  # stage, done, total (as the controller's)
    adopted = Signal(str)  # what happened, in words: the encoder in use changed
    refused = Signal(str)  # the tuned encoder was not better: the one in use stays
    write_failed = Signal(object)  # storing failed: the AldeskError / OSError / sqlite3.Error
    error = Signal(str)
    _run_tune = Signal()

    def __init__(self, project: Project, backbone: str | None = None) -> None:
        super().__init__()
        self.project = project
        self._busy = False
        self._closed = False
        self._lost = False  # a chunk or the weights could not be stored: this tuning is not adopted
        self._weights_stored: str | None = None  # the identity whose weights are stored
        self._outcome: TuneOutcome | None = None  # waiting for the weights' write to end
        self._tasks: list[BackgroundTask] = []
        self.worker = LearningWorker(project.path, backbone)
        self.thread = WorkerThread(self.worker)
        self.thread.setObjectName("aldesk-tuning-worker")
        self.worker.progress.connect(self.state_changed)
        self.worker.chunk_ready.connect(self._store_chunk)
        self.worker.event.connect(self._event)
        self.worker.failed.connect(self._failed)
        self.worker.idle.connect(self._finished)
        self._run_tune.connect(self.worker.tune)
        self.thread.start()  # the child process starts with the first tuning, not before

    @property
    def busy(self) -> bool:
        return self._busy

    def consider(self, n_learning: int, n_audits: int) -> bool:
        """After a model was stored: start a tuning when one is due (encoder_tuning.tuning_due)."""
        if self._busy or self._closed:
            return False
        tried = self.project.meta(tuned_encoders.TRIED_KEY)
        if not tuning_due(n_learning, n_audits, int(tried) if tried else None):
            return False
        return self.start()

    def start(self) -> bool:
        if self._busy or self._closed:
            return False
        try:
            tuned_encoders.pin_active(self.project)  # the candidate's vectors must not become the newest set in use
        except WRITE_ERRORS as exc:
            self.write_failed.emit(exc)
            return False
        self._busy, self._lost, self._weights_stored, self._outcome = True, False, None, None
        self.state_changed.emit("fine-tuning the encoder", 0, 1)
        self._run_tune.emit()
        return True

    # -- what the job sends (GUI thread) -----------------------------------------------------

    def _store_chunk(self, chunk: EmbedChunk) -> None:
        if self._closed or self._lost:
            return
        problem = store_chunk(self.project, chunk, what="re-embedding with the fine-tuned encoder")
        if problem is not None:
            self._lost = True
            self.write_failed.emit(problem)

    def _event(self, kind: str, payload: Any) -> None:
        if self._closed:
            return
        if kind == "tuned_weights":
            self._store_weights(payload)
        elif kind == "tune_done":
            self._outcome = payload
            self._decide()

    def _store_weights(self, tuned: TunedWeights) -> None:
        tight = reserve_error(
            self.project.path, outcome=PAUSED.format("keeping the fine-tuned encoder"), incoming=len(tuned.weights)
        )
        if tight is not None:
            self._lost = True
            self.write_failed.emit(tight)
            return

        def write(connection: Project) -> None:
            tuned_encoders.write_tuned(connection, tuned.identity, tuned.base, tuned.weights, tuned.n_labels)

        def stored(_result: object) -> None:
            self._weights_stored = tuned.identity
            self._decide()

        self._in_background(write, f"aldesk-tuned-{tuned.identity[-12:]}", stored)

    def _decide(self) -> None:
        """Once the outcome is in and the weights are stored (or lost): adopt, or refuse."""
        outcome = self._outcome
        if outcome is None or self._closed:
            return
        if not self._lost and self._weights_stored != outcome.identity:
            return  # the weights are still being written
        self._outcome = None
        try:
            self.project.set_meta(tuned_encoders.TRIED_KEY, str(outcome.n_labels))
            if self._lost:
                log.info("fine-tuned encoder %s not adopted: not everything was stored", outcome.identity)
            elif outcome.adopt:
                tuned_encoders.adopt(self.project, outcome.identity)
                log.info("adopted %s: %s", outcome.identity, outcome.words())
                self.adopted.emit(outcome.words())
            else:
                log.info("kept the encoder in use: %s", outcome.words())
                self.refused.emit(outcome.words())
        except WRITE_ERRORS as exc:
            self.write_failed.emit(exc)
        self._discard_unused()

    def _discard_unused(self) -> None:
        """Remove tuned encoders nobody reads any more (refused ones, superseded ones, leftovers
        of a killed tuning), off the GUI thread; the latest model's set is kept."""
        from aldesk.core import model_store

        latest = model_store.latest_model(self.project)
        keep = latest.set_id if latest is not None else None

        def discard(connection: Project) -> None:
            for identity in tuned_encoders.unused(connection, keep):
                tuned_encoders.discard(connection, identity)

        self._in_background(discard, "aldesk-tuned-discard", lambda _result: None)

    def _in_background(self, work: Callable[[Project], None], name: str, done: Callable[[object], None]) -> None:
        def run(_task: BackgroundTask) -> None:
            connection = second_connection(self.project)
            try:
                work(connection)
            finally:
                connection.close()

        task = BackgroundTask(run, name=name, parent=self)
        task.succeeded.connect(done)
        task.failed.connect(self._write_failed)
        task.finished.connect(lambda: self._tasks.remove(task) if task in self._tasks else None)
        self._tasks.append(task)
        task.start()

    def _write_failed(self, exc: object) -> None:
        if self._closed:
            return
        self._lost = True
        if isinstance(exc, WRITE_ERRORS):
            self.write_failed.emit(exc)
        else:
            log.error("storing the fine-tuned encoder failed", exc_info=exc if isinstance(exc, BaseException) else None)
            self.error.emit(f"Keeping the fine-tuned encoder failed ({exc}); your labels are saved.")
        self._decide()

    def _failed(self, message: str, details: str) -> None:
        if details:
            log.error("%s\n%s", message, details)
        self.error.emit(message)

    def _finished(self) -> None:
        self._busy = False
        if not self._closed:
            self.state_changed.emit("idle", 0, 0)

    # -- shutdown ----------------------------------------------------------------------------

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the tuning (what it has not sent is lost: it is only recomputable work) and wait
        for writes in progress, so the project can be closed after."""
        self._closed = True
        stopped = self.thread.stop(timeout_ms)
        for task in list(self._tasks):
            task.wait(timeout_ms / 1000)
        return stopped
