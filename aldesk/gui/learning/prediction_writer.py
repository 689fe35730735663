"""Writing a new model's predictions off the GUI thread.

At a million items a model's predictions are 28 MB; written by the GUI thread they froze the
window for about a second. A PredictionWriter writes them from a plain thread through its own
connection (store.second_connection), in short chunk transactions (model_store.write_predictions),
so a label committed meanwhile waits for one chunk at most. ``finished`` then arrives on the GUI
thread, which adds the model's row: readers never see a model without its predictions.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Signal

from aldesk.core import model_store
from aldesk.core.errors import AldeskError
from aldesk.core.store import Project, second_connection
from aldesk.gui.background import BackgroundTask

log = logging.getLogger("aldesk.prediction_writer")


class PredictionWriter(QObject):
    finished = Signal()  # in the GUI thread, once the writing thread has ended

    def __init__(
        self,
        project: Project,
        version: int,
        item_ids: np.ndarray,
        probs: np.ndarray,
        n_classes: int,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.version = version
        self._arrays = (item_ids, probs, n_classes)
        self.error: str | None = None  # what went wrong, said for the person
        self.exception: Exception | None = None  # the same as an AldeskError (a DiskFullError says where)
        self._task: BackgroundTask | None = None

    def start(self) -> None:
        self._task = BackgroundTask(self._run, name=f"aldesk-predictions-{self.version}", parent=self)
        self._task.failed.connect(self._record)  # what _run did not catch (a BaseException)
        # ``finished`` always follows, whatever happened: the controller stores nothing else
        # until it arrives, so a write that ended without it would stop every later result.
        self._task.finished.connect(self.finished)
        self._task.start()

    def write_here(self) -> None:
        """Write on the calling thread through the project's own connection (at shutdown)."""
        self._write(self.project)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the writing thread; True once it has ended (or never started)."""
        return self._task is None or self._task.wait(timeout)

    def _run(self, _task: BackgroundTask) -> None:
        # Errors are recorded here, in the writing thread: after wait() ``error`` is already
        # set (the controller's shutdown reads it at once, before any signal could arrive).
        try:
            connection = second_connection(self.project)
            try:
                self._write(connection)
            finally:
                connection.close()
        except Exception as exc:  # noqa: BLE001 - opening or closing the connection; reported
            self._record(exc)

    def _write(self, project: Project) -> None:
        try:
            model_store.write_predictions(project, self.version, *self._arrays)
        except Exception as exc:  # noqa: BLE001 - a full disk, a file made read-only, a bug: reported
            self._record(exc)

    def _record(self, exc: BaseException) -> None:
        if isinstance(exc, AldeskError):  # named by the store, with what to do
            self.error, self.exception = str(exc), exc
            return
        log.error("writing the predictions of model %d failed", self.version, exc_info=exc)
        self.error = (
            f"Storing model {self.version}'s predictions in {self.project.path} failed ({exc}); "
            "your labels are saved. Retrain to try again."
        )
        self.exception = AldeskError(self.error)
