"""GUI-thread side of the learning loop: when to embed and retrain, and storing what comes back.

Triggers: embeddings when a project opens; a refresh after every ``refresh_every`` new labels or
after a few idle seconds with unused labels. One job at a time; a trigger during a job is
remembered and runs next. Results are stored from here: a new model's predictions by a writing
thread (aldesk/gui/learning/prediction_writer.py), then its row, the queue and the suspects by the GUI
thread, which owns the project, in short transactions.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from aldesk.core.disk import reserve_error
from aldesk.core.session import LabelingSession
from aldesk.core.store import Project
from aldesk.gui.learning.chunk_store import PAUSED, store_chunk
from aldesk.gui.learning.prediction_writer import PredictionWriter
from aldesk.gui.learning.tuner import EncoderTuner
from aldesk.gui.learning.worker import EmbedChunk, LearningWorker, RefreshOutcome, WorkerThread
from aldesk.gui.write_guard import WRITE_ERRORS

log = logging.getLogger("aldesk.controller")

REFRESH_EVERY = 10
IDLE_SECONDS = 4.0
# Storing a refresh result starts in the gap after a key press, once that press's image is
# painted, so even its short transactions never delay the next press of someone labeling at up
# to ~7 images a second; with no press for QUIET_MS it is stored at once.
STORE_AFTER_PRESS_MS = 30
QUIET_MS = 500


class LearningController(QObject):
    state_changed = Signal(str, int, int)  # stage ("idle", "embedding", "training", ...), done, total
    model_updated = Signal(int, dict)  # version, metrics
    queue_updated = Signal()
    tuning_changed = Signal(str, int, int)  # the encoder's fine-tuning (text projects): stage, done, total
    encoder_changed = Signal(str)  # a fine-tuned encoder was adopted (or refused): what happened, in words
    error = Signal(str)  # the worker failed (said for the person; details logged)
    write_failed = Signal(object)  # storing a result failed: the AldeskError (or OSError/sqlite3.Error)
    _run_embed = Signal()  # connected to the worker: queued, so the job runs in its thread
    _run_refresh = Signal()

    def __init__(
        self,
        project: Project,
        session: LabelingSession,
        *,
        backbone: str | None = None,
        refresh_every: int = REFRESH_EVERY,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        super().__init__()
        self.project = project
        self.session = session
        self.refresh_every = refresh_every
        self._labels_since_refresh = 0
        self._busy = False
        self._pending: str | None = None
        self._embedded = False
        self._chunk_lost = False  # a chunk could not be stored: the next retry embeds again
        self._closed = False  # after shutdown, results still queued for us are dropped
        self._closing = False  # shutdown has begun
        self._waiting: RefreshOutcome | None = None  # a result waiting for a gap between key presses
        self._writing: tuple[RefreshOutcome, PredictionWriter] | None = None  # predictions being written
        self._last_press = float("-inf")  # time.monotonic() of the latest label, skip or unsure
        self.latest_predictions: tuple[int, object, object] | None = None  # version, item ids, probs
        self.worker = LearningWorker(project.path, backbone)
        self.thread = WorkerThread(self.worker)
        self.worker.progress.connect(self.state_changed)
        self.worker.chunk_ready.connect(self._store_chunk)
        self.worker.embedding_done.connect(self._embedding_done)
        self.worker.refreshed.connect(self._refresh_arrived)
        self.worker.failed.connect(self._failed)
        self.worker.event.connect(self._event)
        self.worker.idle.connect(self._job_finished)
        self._run_embed.connect(self.worker.embed)
        self._run_refresh.connect(self.worker.refresh)
        self._idle_timer = QTimer(self)
        self._idle_timer.setSingleShot(True)
        self._idle_timer.setInterval(int(idle_seconds * 1000))
        self._idle_timer.timeout.connect(self._idle)
        self._quiet_timer = QTimer(self)
        self._quiet_timer.setSingleShot(True)
        self._quiet_timer.timeout.connect(self._store_waiting)
        self.tuner = self._make_tuner(backbone)
        self.thread.start()

    def _make_tuner(self, backbone: str | None) -> EncoderTuner | None:
        """Text projects fine-tune their encoder beside the refreshes (aldesk/gui/learning/tuner.py)."""
        from aldesk.core.kinds import kind_of

        if kind_of(self.project).name != "text":
            return None
        tuner = EncoderTuner(self.project, backbone)
        tuner.state_changed.connect(self.tuning_changed)
        tuner.write_failed.connect(self.write_failed)
        tuner.error.connect(self.error)
        tuner.adopted.connect(self._encoder_adopted)
        tuner.refused.connect(self.encoder_changed)
        return tuner

    # -- triggers ----------------------------------------------------------------------------

    def start(self) -> None:
        self._request("embed")

    def label_recorded(self) -> None:
        self._last_press = time.monotonic()
        if self._waiting is not None:
            QTimer.singleShot(STORE_AFTER_PRESS_MS, self._store_waiting)
        self._labels_since_refresh += 1
        self._idle_timer.start()
        if self._labels_since_refresh >= self.refresh_every:
            self._request("refresh")

    def retrain_now(self) -> None:
        self._request("refresh")

    def retry(self) -> None:
        """After a failure: embed again while vectors are missing (it resumes), else retrain."""
        self._request("refresh" if self._embedded and not self._chunk_lost else "embed")

    def _idle(self) -> None:
        if self._labels_since_refresh:
            self._request("refresh")

    def _request(self, job: str) -> None:
        if self._busy:
            # An embedding request stays ahead of a refresh: refreshing needs the vectors.
            if self._pending != "embed":
                self._pending = job
            return
        if job == "refresh" and not self._embedded:
            self._pending = "refresh"
            return
        self._busy = True
        if job == "embed":
            self._chunk_lost = False  # the embedding resumes with whatever is missing
        if job == "refresh":
            self._labels_since_refresh = 0
            self.state_changed.emit("training", 0, 1)
        (self._run_embed if job == "embed" else self._run_refresh).emit()

    def _job_finished(self) -> None:
        self._busy = False
        if self._closed:
            return
        pending, self._pending = self._pending, None
        if pending and not self.worker.cancelled:
            self._request(pending)
        elif not self._busy:
            self.state_changed.emit("idle", 0, 0)

    # -- results (GUI thread) ----------------------------------------------------------------

    def _store_chunk(self, chunk: EmbedChunk) -> None:
        if self._closed:
            return  # the project is closed; the chunk is recomputed next time
        problem = store_chunk(self.project, chunk)
        if problem is not None:  # a full disk (the labels need the room more), a failed write
            self._chunk_lost = True
            self.write_failed.emit(problem)

    def _embedding_done(self, backbone: str) -> None:
        if self._closed:
            return
        self._embedded = True
        self.backbone = backbone
        if self._pending is None:
            self._pending = "refresh"

    def _refresh_arrived(self, outcome: RefreshOutcome) -> None:
        """Keep the result until the person is between two key presses (see STORE_AFTER_PRESS_MS)."""
        if self._closed:
            return
        self._waiting = outcome  # a newer result replaces one still waiting: it knows more labels
        quiet_for = (time.monotonic() - self._last_press) * 1000
        if quiet_for >= QUIET_MS:
            self._store_waiting()
        else:
            self._quiet_timer.start(int(QUIET_MS - quiet_for))

    def _store_waiting(self, *, inline: bool = False) -> None:
        if self._writing is not None:
            return  # one model at a time: this one is stored when the write in progress ends
        outcome, self._waiting = self._waiting, None
        self._quiet_timer.stop()
        if outcome is not None:
            self._apply_refresh(outcome, inline=inline)

    def _apply_refresh(self, outcome: RefreshOutcome, *, inline: bool = False) -> None:
        """Store a result: a model's predictions first (by a writing thread, or ``inline`` at
        shutdown), then ``_store_rest``."""
        from aldesk.core import model_store

        if self._closed or self.worker.cancelled:
            return
        if outcome.train is None:
            self._store_rest(outcome, None)
            return
        tight = reserve_error(
            self.project.path, outcome=PAUSED.format("storing the new model"), incoming=outcome.train.probs.nbytes
        )
        if tight is not None:  # the labels need the room more: retrained when space is back
            self.write_failed.emit(tight)
            return
        try:
            version = model_store.reserve_version(self.project)
        except WRITE_ERRORS as exc:
            self.write_failed.emit(exc)
            return
        writer = PredictionWriter(
            self.project, version, outcome.snapshot.item_ids, outcome.train.probs, len(outcome.snapshot.class_ids), parent=self
        )
        self._writing = (outcome, writer)
        if inline:
            writer.write_here()
            self._predictions_written()
        else:
            writer.finished.connect(self._predictions_written)
            writer.start()

    def _predictions_written(self) -> None:
        """GUI thread, after the predictions of ``self._writing`` are stored: the model's row."""
        from aldesk.core import model_store
        from aldesk.ml.loop.store import model_row

        if self._writing is None:
            return  # handled already (at shutdown)
        (outcome, writer), self._writing = self._writing, None
        writer.deleteLater()
        if self._closed:
            return  # its chunks stay without a model row and are removed by the next write
        if writer.error:
            self.write_failed.emit(writer.exception)
            return
        train, snapshot = outcome.train, outcome.snapshot
        try:
            version = model_store.commit_model(self.project, writer.version, **model_row(snapshot, train))
        except WRITE_ERRORS as exc:
            self.write_failed.emit(exc)
            return
        self._store_rest(outcome, version)
        if self._waiting is not None:
            QTimer.singleShot(0, self._store_waiting)  # a newer result arrived meanwhile

    def _store_rest(self, outcome: RefreshOutcome, version: int | None) -> None:
        """The queue and suspects of a result whose model (if any) is stored; then the window."""
        from aldesk.core.queue import replace_queue
        from aldesk.core.suspects_store import save_suspects
        from aldesk.ml.evaluation.suspects import METHOD as SUSPECT_METHOD

        try:
            queue = [dataclasses.replace(q, model_version=version) for q in outcome.queue]
            fallback = [dataclasses.replace(q, model_version=version) for q in outcome.fallback]
            replace_queue(self.project, queue)
            if outcome.suspects is not None:
                save_suspects(
                    self.project, outcome.suspects, model_version=version, n_labels=len(outcome.snapshot.y), method=SUSPECT_METHOD
                )
        except WRITE_ERRORS as exc:
            self.write_failed.emit(exc)
            return
        # Labels given while the job ran are already out of the queue: the session skips
        # items that are no longer unlabeled, and the item on screen stays.
        self.session.set_queue(queue)
        self.session.set_fallback(fallback)
        self.queue_updated.emit()
        if version is not None:
            # The window shows predictions from these arrays rather than reading back 28 MB.
            self.latest_predictions = (version, outcome.snapshot.item_ids, outcome.train.probs)
            self.model_updated.emit(version, outcome.metrics)
            self._consider_tuning(outcome)

    def _event(self, kind: str, payload: object) -> None:
        if kind == "tuned_damaged" and not self._closed:  # the adopted encoder's weights fail their check
            from aldesk.core.tuned_encoders import go_back_to_pretrained

            try:
                go_back_to_pretrained(self.project)
            except WRITE_ERRORS as exc:
                self.write_failed.emit(exc)
            self.error.emit(str(payload))

    def _encoder_adopted(self, words: str) -> None:
        self.encoder_changed.emit(words)
        self.retrain_now()  # the next model and queue come from the new vectors

    def _consider_tuning(self, outcome: RefreshOutcome) -> None:
        if self.tuner is None or self._closing:
            return
        snapshot = outcome.snapshot
        audit = snapshot.audit if snapshot.audit is not None else np.zeros(len(snapshot.y), dtype=bool)
        self.tuner.consider(len(snapshot.y), int(audit.sum()), len(np.unique(snapshot.y[~audit])))

    def _failed(self, message: str, details: str) -> None:
        if details:
            log.error("%s\n%s", message, details)
        self.error.emit(message)

    # -- shutdown ----------------------------------------------------------------------------

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel the running job and wait for the thread, bounded; True if it stopped."""
        self._closing = True  # what is stored now starts nothing new (a tuning)
        if self.tuner is not None:
            self.tuner.cancel()  # it stops while the model below is stored, not after it
        if self._writing is not None:  # predictions being written: finish them and add the model
            self._writing[1].wait()
            self._predictions_written()
        self._store_waiting(inline=True)  # a finished model still waiting for a gap: keep it
        self._closed = True
        if self.tuner is not None:
            self.tuner.shutdown(timeout_ms)
        self._idle_timer.stop()
        self._quiet_timer.stop()
        stopped = self.thread.stop(timeout_ms)
        if not stopped:
            log.error("the learning worker did not stop within %d ms", timeout_ms)
        return stopped
