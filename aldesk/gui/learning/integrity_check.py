"""The whole file's integrity check, run in the background after the window opens a project.

Opening for the window checks only the tables that hold the labels (0.3 s at a million items);
the whole file (embeddings, predictions, the free-page list, every index: gigabytes) is checked
here with integrity_check, off the GUI thread (5.8 s for 2.9 GB here). Damage found turns the window read-only before anything more is written.
"""

from __future__ import annotations

import logging
from functools import partial

from PySide6.QtCore import QObject, Signal

from aldesk.core.errors import DamagedProjectError
from aldesk.core.project_check import damaged_error_text
from aldesk.core.store import Project
from aldesk.gui.background import BackgroundTask

log = logging.getLogger("aldesk.integrity_check")
BACKGROUND_LIMIT = 1 << 62


def check_project(project: Project, _task: BackgroundTask) -> DamagedProjectError | None:
    """The check's work (its own connection): the damage found, or None."""
    # Off the GUI thread, the slower integrity_check (indexes too) whatever the file's size.
    problems = project.check_fully(limit_bytes=BACKGROUND_LIMIT)
    if problems:
        return DamagedProjectError(damaged_error_text(project.path, problems), reason=problems[0])
    return None


class BackgroundCheck(QObject):
    """``start(project)`` checks it in a thread; ``damaged`` brings a DamagedProjectError back to
    the GUI thread. A result for a project closed meanwhile is dropped."""

    damaged = Signal(object)
    failed = Signal(str)  # the check itself could not run (said for the person; details logged)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: BackgroundTask | None = None

    def start(self, project: Project) -> None:
        self.cancel()
        self.task = BackgroundTask(partial(check_project, project), name="aldesk-integrity-check", parent=self)
        self.task.succeeded.connect(self._checked)
        self.task.failed.connect(lambda exc, path=project.path: self._failed(path, exc))
        self.task.start()

    def cancel(self) -> None:
        """Whatever is running reports to nobody (the check itself cannot be interrupted)."""
        if self.task is not None:
            self.task.drop()
            self.task.deleteLater()
            self.task = None

    def wait(self, timeout: float | None = None) -> bool:
        return self.task is None or self.task.wait(timeout)

    def _checked(self, error: DamagedProjectError | None) -> None:
        if error is not None:
            self.damaged.emit(error)

    def _failed(self, path, exc: BaseException) -> None:
        log.error("the background check of %s failed", path, exc_info=exc)
        self.failed.emit(
            f"The background check of {path} could not run ({type(exc).__name__}: {exc}); "
            "labeling goes on, the details are in the log."
        )
