"""Switching the window between labeling, a review list and the review grid.

A review list (unsure items, suspected wrong labels) runs in the labeling view with the same
keys: the session shows its items instead of the labeling walk's. The grid is a view of its own
with its own keys. Esc returns to labeling from either. Like Anki's aqt modules these take the
main window (``window``) and use its parts; the window keeps one-line commands for its menus.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QKeySequence

from aldesk.core.walks import SUSPECTS, UNSURE, suspect_items, unsure_items

WHAT = {UNSURE: "unsure items", SUSPECTS: "suspected wrong labels"}


class ReviewModes(QObject):
    def __init__(self, window) -> None:  # the MainWindow (not imported: it imports this module)
        super().__init__(window)
        self.window = window
        self.view = None  # the review grid, built when first asked for

    def start(self, kind: str) -> None:
        """A review list of ``kind`` in the labeling view, or a word that there is nothing to review."""
        window = self.window
        if window.project is None:
            return
        items = unsure_items(window.project) if kind == UNSURE else suspect_items(window.project)
        if not items:
            window.statusBar().showMessage(self._nothing_to_review(kind), 6000)
            return
        self._show_labeling_view()
        window.mode_label.setText(f"Reviewing {WHAT[kind]} ({len(items)}) · Esc returns to labeling")
        window.session.start_review(kind, items)  # its Changes put the first item on screen

    def _nothing_to_review(self, kind: str) -> str:
        if kind != SUSPECTS:
            return f"No {WHAT[kind]} to review."
        from aldesk.core.suspects_store import latest_run

        run = latest_run(self.window.project)
        if run is None:
            return f"No {WHAT[kind]} to review yet (the worker ranks them after each retraining)."
        return (
            f"No {WHAT[kind]}: a model trained on the other labels believes each of the {run.n_labels:,} labels "
            "it checked (ranked again after each retraining)."
        )

    def browse(self) -> None:
        """The review grid: labeled items of one class (or the suspects) as thumbnails."""
        from aldesk.gui.review.review_view import ReviewView

        window = self.window
        if window.project is None:
            return
        window.session.end_review()  # Esc from the grid returns to labeling: so does its undo
        if self.view is None:

            def keys(name: str) -> tuple[str, ...]:
                return tuple(k.toString(QKeySequence.SequenceFormat.PortableText) for k in window.actions[name].shortcuts())

            self.view = ReviewView(
                window.project,
                window,
                signals=window.signals,
                undo_keys=keys("undo"),
                redo_keys=keys("redo"),
                tiles=window.display.tiles,  # thumbnails or text cards: the project's kind says
            )
            self.view.write_failed.connect(self._grid_write_failed)
            window.stack.addWidget(self.view)
        else:
            self.view.reload()
        window.commands.grid_shown()
        window.stack.setCurrentWidget(self.view)
        self.view.grid.setFocus()
        window.mode_label.setText("Browsing labels · Esc returns to labeling")

    def end(self, message: str = "") -> None:
        """Back to labeling from the grid or a review list; the labeling walk resumes."""
        window = self.window
        self._show_labeling_view()
        window.mode_label.setText("")
        if message:
            window.statusBar().showMessage(message, 6000)
        if window.session is not None and window.session.review is not None:
            window.session.end_review()  # its Changes show the labeling walk's item
        else:
            window.show_current()
        if window.presenter is not None:
            window.presenter.update_counts()

    def close(self) -> None:
        """The project is closing: the grid goes with it."""
        if self.view is not None:
            self.view.shutdown()
            self.window.stack.removeWidget(self.view)
            self.view.deleteLater()
            self.view = None

    def _grid_write_failed(self, exc: BaseException) -> None:
        window = self.window
        if window.project is not None and (window.read_only is not None or not window.project.writable):
            window.refuse_read_only()
        else:
            window.guard.refused(exc)

    def _show_labeling_view(self) -> None:
        window = self.window
        if window.stack.currentWidget() is not window.labeling:
            window.stack.setCurrentWidget(window.labeling)
            window.commands.set_labeling_enabled(True)
