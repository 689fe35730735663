"""GUI-thread side of fine-tuning the text encoder: when to tune, storing what comes back, adopting.

The tuning runs in a worker of its own (its own child process, at a lower priority than the
refreshes'), beside the refreshes: a tuning takes tens of seconds, and the queue must keep
following the labels meanwhile. A tuning goes:

    leftovers of earlier tunings removed -> the set in use pinned -> the tune job runs:
    its weights stored by a background thread (45 MB, in short transactions through a second
    connection), its re-embedded vectors chunk by chunk into a set of their own, which no round
    reads -> the outcome: adopted (one meta row, tuned_encoders.adopt) when everything was stored
    and the tuned encoder's model did as well on the audits (tuning_plan.TuneOutcome.adopt),
    else removed

then the controller retrains, and the next model and queue come from the new vectors together.
The tuning counts as tried when it starts (tuning_plan.tuning_due waits for the labels to grow
before the next), so one that fails or ends early is not retried after every model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from aldesk.core import model_store, tuned_encoders
from aldesk.core.disk import reserve_error
from aldesk.core.store import Project, second_connection
from aldesk.gui.background import BackgroundTask
from aldesk.gui.learning.chunk_store import PAUSED, store_chunk
from aldesk.gui.learning.worker import EmbedChunk, LearningWorker, WorkerThread
from aldesk.gui.write_guard import WRITE_ERRORS
from aldesk.ml.loop.tuning_plan import STAGE, TunedWeights, TuneOutcome, tuning_due

log = logging.getLogger("aldesk.tuner")

# The tuning's child process yields to the refreshes' (compute_process.CHILD_NICE is 10): the
# person waits for a refresh's queue, nobody waits for a tuning.
TUNING_NICE = 15


class EncoderTuner(QObject):
    state_changed = Signal(str, int, int)  # stage, done, total (as the controller's)
    adopted = Signal(str)  # what happened, in words: the encoder in use changed
    refused = Signal(str)  # the tuned encoder did worse: the one in use stays
    write_failed = Signal(object)  # storing failed: the AldeskError / OSError / sqlite3.Error
    error = Signal(str)
    _run_tune = Signal()

    def __init__(self, project: Project, backbone: str | None = None) -> None:
        super().__init__()
        self.project = project
        self._closed = False
        self._starting = False  # leftovers being removed before the job
        self._running = False  # the tune job runs
        self._writing = False  # the weights are being written
        self._lost = False  # a chunk or the weights could not be stored: this tuning is not adopted
        self._weights_stored: str | None = None  # the identity whose weights are stored
        self._outcome: TuneOutcome | None = None  # waiting for the weights' write to end
        self._tasks: list[BackgroundTask] = []
        self.worker = LearningWorker(project.path, backbone, nice=TUNING_NICE)
        self.thread = WorkerThread(self.worker)
        self.thread.setObjectName("aldesk-tuning-worker")
        self.worker.progress.connect(self.state_changed)
        self.worker.chunk_ready.connect(self._store_chunk)
        self.worker.event.connect(self._event)
        self.worker.failed.connect(self._failed)
        self.worker.idle.connect(self._job_ended)
        self._run_tune.connect(self.worker.tune)
        self.thread.start()  # the child process starts with the first tuning, not before

    @property
    def busy(self) -> bool:
        """A tuning is under way: starting, running, or its weights or outcome not yet settled."""
        return self._starting or self._running or self._writing or self._outcome is not None

    def consider(self, n_labels: int, n_audits: int, n_classes_learning: int) -> bool:
        """After a model was stored: start a tuning when one is due (tuning_plan.tuning_due) and
        the labels it would learn from (the audits' aside) span two classes."""
        if self.busy or self._closed or n_classes_learning < 2:
            return False
        tried = self.project.meta(tuned_encoders.TRIED_KEY)
        if not tuning_due(n_labels, n_audits, int(tried) if tried else None):
            return False
        return self.start(n_labels)

    def start(self, n_labels: int | None = None) -> bool:
        """Begin a tuning: first remove what earlier ones left (so a leftover set of the same
        identity never mixes with the new vectors), then run the job."""
        if self.busy or self._closed:
            return False
        try:
            if n_labels is not None:
                self.project.set_meta(tuned_encoders.TRIED_KEY, str(n_labels))
            # The candidate's vectors must never become the newest set in use.
            tuned_encoders.pin_active(self.project)
        except WRITE_ERRORS as exc:
            self.write_failed.emit(exc)
            return False
        self._starting, self._lost, self._weights_stored, self._outcome = True, False, None, None
        self.state_changed.emit(STAGE, 0, 1)
        self._discard_unused(then=self._run_job)
        return True

    def _run_job(self) -> None:
        self._starting = False
        if self._closed:
            return
        self._running = True
        self._run_tune.emit()

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

        def write(connection: Project, _task: BackgroundTask) -> None:
            tuned_encoders.write_tuned(connection, tuned.identity, tuned.base, tuned.weights, tuned.n_labels)

        def stored(_result: object) -> None:
            self._writing = False
            self._weights_stored = tuned.identity
            self._decide()

        def failed(exc: object) -> None:
            self._writing = False
            self._lost = True
            self._report(exc, "Keeping the fine-tuned encoder")
            self._decide()

        self._writing = True
        self._in_background(write, f"aldesk-tuned-{tuned.identity[-12:]}", stored, failed)

    def _decide(self) -> None:
        """Once the outcome is in and the weights are stored (or lost): adopt, or refuse."""
        outcome = self._outcome
        if outcome is None or self._closed or self._writing:
            return
        self._outcome = None
        adopted = False
        try:
            if self._lost or self._weights_stored != outcome.identity:
                log.info("fine-tuned encoder %s not adopted: not everything was stored", outcome.identity)
            elif outcome.adopt:
                tuned_encoders.adopt(self.project, outcome.identity)
                adopted = True
                log.info("adopted %s: %s", outcome.identity, outcome.words())
            else:
                log.info("kept the encoder in use: %s", outcome.words())
        except WRITE_ERRORS as exc:
            self.write_failed.emit(exc)
        if adopted:
            self.adopted.emit(outcome.words())
        elif not self._lost:
            self.refused.emit(outcome.words())
        self._discard_unused()

    def _discard_unused(self, then: Callable[[], None] | None = None) -> None:
        """Remove tuned encoders nobody reads (refused, superseded, left by a killed tuning) off
        the GUI thread; the latest model's set is kept. ``then`` runs after, whatever happened."""
        latest = model_store.latest_model(self.project)
        keep = latest.set_id if latest is not None else None

        def discard(connection: Project, task: BackgroundTask) -> None:
            for identity in tuned_encoders.unused(connection, keep):
                if task.cancelled:
                    return
                tuned_encoders.discard(connection, identity, cancel=lambda: task.cancelled)

        def done(_result: object) -> None:
            if then is not None:
                then()

        def failed(exc: object) -> None:  # only space not given back: this tuning goes on
            self._report(exc, "Removing an unused fine-tuned encoder")
            done(None)

        self._in_background(discard, "aldesk-tuned-discard", done, failed)

    def _in_background(
        self,
        work: Callable[[Project, BackgroundTask], None],
        name: str,
        done: Callable[[object], None],
        failed: Callable[[object], None],
    ) -> None:
        def run(task: BackgroundTask) -> None:
            connection = second_connection(self.project)
            try:
                work(connection, task)
            finally:
                connection.close()

        task = BackgroundTask(run, name=name, parent=self)
        task.succeeded.connect(lambda result: None if self._closed else done(result))
        task.failed.connect(lambda exc: None if self._closed else failed(exc))
        task.finished.connect(lambda: self._tasks.remove(task) if task in self._tasks else None)
        self._tasks.append(task)
        task.start()

    def _report(self, exc: object, what: str) -> None:
        if isinstance(exc, WRITE_ERRORS):
            self.write_failed.emit(exc)
            return
        log.error("%s failed", what, exc_info=exc if isinstance(exc, BaseException) else None)
        self.error.emit(f"{what} failed ({exc}); your labels are saved.")

    def _failed(self, message: str, details: str) -> None:
        if details:
            log.error("%s\n%s", message, details)
        self.error.emit(message)

    def _job_ended(self) -> None:
        self._running = False
        if self._closed:
            return
        if self._outcome is None and not self._writing:
            self._discard_unused()  # ended without an outcome (cancelled, nothing to tune on, a failure)
        self.state_changed.emit("idle", 0, 0)

    # -- shutdown ----------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the job and the background writes to stop (the first step of closing)."""
        self._closed = True
        self.worker.cancel()
        for task in list(self._tasks):
            task.cancel()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the tuning (what it has not sent is lost: it is only recomputable work) and wait
        for writes in progress, so the project can be closed after."""
        self.cancel()
        stopped = self.thread.stop(timeout_ms)
        for task in list(self._tasks):
            task.wait(timeout_ms / 1000)
        return stopped
