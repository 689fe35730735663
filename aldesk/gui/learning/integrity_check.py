"""The whole file's integrity check, run in the background after the window opens a project.

Opening for the window checks only the tables that hold the labels (0.3 s at a million items);
the whole file (embeddings, predictions, the free-page list, every index: gigabytes) is checked
here with integrity_check, off the GUI thread (5.8 s for 2.9 GB here). Damage found turns the window read-only before anything more is written.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from aldesk.core.errors import DamagedProjectError
from aldesk.core.project_check import damaged_error_text
from aldesk.core.store import Project


BACKGROUND_LIMIT = 1 << 62


class BackgroundCheck(QObject):
    """``start(project)`` checks it in a thread; ``damaged`` brings a DamagedProjectError back to
    the GUI thread (a queued signal). A result for a project closed meanwhile is dropped."""

    damaged = Signal(object)
    _found = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._found.connect(self._deliver)
        self.thread: threading.Thread | None = None

    def start(self, project: Project) -> None:
        self._generation += 1
        generation = self._generation
        self.thread = threading.Thread(target=self._run, args=(project, generation),
                                       name="aldesk-integrity-check", daemon=True)
        self.thread.start()

    def cancel(self) -> None:
        self._generation += 1  # whatever is running reports to nobody

    def _run(self, project: Project, generation: int) -> None:
        # Off the GUI thread, the slower integrity_check (indexes too) whatever the file's size.
        problems = project.check_fully(limit_bytes=BACKGROUND_LIMIT)  # its own connection; never raises
        if problems:
            error = DamagedProjectError(damaged_error_text(project.path, problems), reason=problems[0])
            self._found.emit(generation, error)

    def _deliver(self, generation: int, error: DamagedProjectError) -> None:
        if generation == self._generation:
            self.damaged.emit(error)
