"""The main window: start screen or labeling view, every command a QAction in a menu.

It puts the parts together and routes commands: the labeling session (aldesk/core/session.py,
seen through gui/session_signals.py) decides what is on screen and keeps the one undo history;
the presenter (gui/labeling/presenter.py) paints it, in the way the project's kind of item is
shown (gui/kinds.py: an image or a text, thumbnails or cards); the learning controller retrains in the
background and its state shows in the status bar (gui/learning/status.py); writes that fail
are refused on screen by the write guard. A key press labels, commits and advances in the GUI
thread with no decoding or training on that path.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QStackedWidget, QVBoxLayout, QWidget

from aldesk.core import items
from aldesk.core.classes import LabelClass, list_classes
from aldesk.core.errors import AldeskError, ReadOnlyProjectError
from aldesk.core.session import Changes, LabelingSession
from aldesk.core.store import Project
from aldesk.core.walks import SUSPECTS, UNSURE
from aldesk.gui import project_access, recent_projects
from aldesk.gui.banner import Banner
from aldesk.gui.dialogs import menu_dialogs
from aldesk.gui.keymap import COMMANDS, apply_keymap, current_keymap, keymap_for_project, normalise
from aldesk.gui.kinds import ItemDisplay, display_of
from aldesk.gui.labeling.image_view import ImageView
from aldesk.gui.labeling.labeling_view import LabelingView
from aldesk.gui.labeling.presenter import STRIP_LENGTH, LabelingPresenter
from aldesk.gui.learning.controller import LearningController
from aldesk.gui.learning.integrity_check import BackgroundCheck
from aldesk.gui.learning.status import LearningStatus
from aldesk.gui.review.review_modes import ReviewModes
from aldesk.gui.session_signals import SessionSignals
from aldesk.gui.start_screen import StartScreen
from aldesk.gui.window_actions import WindowActions
from aldesk.gui.write_guard import WriteGuard

log = logging.getLogger("aldesk.window")


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, *, backbone: str | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings("aldesk", "aldesk")
        self.backbone = backbone
        self.project: Project | None = None
        self.signals: SessionSignals | None = None  # the labeling session, seen from Qt
        self.presenter: LabelingPresenter | None = None
        self.controller: LearningController | None = None
        self.classes: list[LabelClass] = []
        self.display: ItemDisplay | None = None  # how the open project's kind of item is shown
        self.curve_dock = None  # the learning-curve panel, built when first asked for
        self._item_total = 0
        self.read_only: ReadOnlyProjectError | None = None  # why the open project cannot be written

        self.reviews = ReviewModes(self)
        self.start_screen = StartScreen(self)
        self.labeling = LabelingView(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.start_screen)
        self.stack.addWidget(self.labeling)
        # Worker failures show in a banner above the views; the keys keep labeling meanwhile.
        self.banner = Banner(self)
        self.banner.retry_requested.connect(self.retry_failed_work)
        # A write that fails (full disk) refuses its key press and says so in the banner.
        self.guard = WriteGuard(self.banner, self)
        self.guard.space_back.connect(self._space_back)
        self.guard.write_access_lost.connect(self._write_access_lost)
        self.integrity = BackgroundCheck(self)
        self.integrity.damaged.connect(self._write_access_lost)
        self.integrity.failed.connect(lambda message: self.banner.show_message(message, retry=False))
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.start_screen.open_recent.connect(self.open_project)
        self.start_screen.remove_recent.connect(self.forget_recent)
        self.start_screen.open_requested.connect(self.choose_project)
        self.start_screen.demo_requested.connect(self.open_demo)
        self.start_screen.new_requested.connect(self.new_project)
        self.labeling.class_clicked.connect(self.label)

        self.counts_label = QLabel(self)
        self.mode_label = QLabel(self)  # says when a review, not labeling, is on screen
        for widget in (self.counts_label, self.mode_label):
            self.statusBar().addWidget(widget)
        self.learning = LearningStatus(self.statusBar(), self)
        self.model_label, self.worker_label = self.learning.model_label, self.learning.worker_label

        keymap, problems = keymap_for_project({})
        if problems:
            QTimer.singleShot(0, lambda: QMessageBox.warning(self, "aldesk", "\n".join(problems)))
        self.commands = WindowActions(self, keymap, self._handlers())
        self.actions = self.commands.actions  # by command name (shadows QWidget.actions())
        self._restore_geometry()
        self.show_start()

    def _handlers(self) -> dict:
        # Zoom asks the view of the project's kind: the image's zoom, or a text's size.
        return {
            "new_project": self.new_project,
            "open_project": self.choose_project,
            "open_demo": self.open_demo,
            "close_project": self.close_project,
            "quit": self.close,
            "skip": self.skip,
            "unsure": self.unsure,
            "undo": self.undo,
            "redo": self.redo,
            "retrain": self.retrain,
            "zoom_in": lambda: self.labeling.item_view.zoom_in(),
            "zoom_out": lambda: self.labeling.item_view.zoom_out(),
            "zoom_fit": lambda: self.labeling.item_view.fit(),
            "zoom_actual": self._actual_size,
            "full_screen": self.toggle_full_screen,
            "show_curve": self.show_curve,
            "shortcuts": self.show_shortcuts,
            "export": self.export_project,
            "review_unsure": self.review_unsure,
            "review_suspects": self.review_suspects,
            "review_grid": self.browse_labels,
            "end_review": self.end_review,
        }

    @property
    def class_actions(self) -> list:
        return self.commands.class_actions

    @property
    def session(self) -> LabelingSession | None:
        return self.signals.session if self.signals is not None else None

    # -- project life cycle ------------------------------------------------------------------

    def show_start(self) -> None:
        self.setWindowTitle("aldesk")
        self.start_screen.set_recent(self.recent_projects())
        self.stack.setCurrentWidget(self.start_screen)
        self.commands.set_labeling_enabled(False)
        self.counts_label.setText("")
        self.learning.clear()

    def open_project(self, path: Path) -> bool:
        path = Path(path)
        self.close_project()
        try:
            project, read_only = project_access.open_for_window(path)
        except AldeskError as exc:
            QMessageBox.critical(self, "aldesk", str(exc))
            return False
        try:
            self._show_project(project, read_only)
        except Exception as exc:  # damage the quick check missed, met while reading the project
            message = project_access.reading_failed(project, exc)
            if message is None and isinstance(exc, AldeskError):
                message = str(exc)  # e.g. a kind of item this window cannot show: said, not a traceback
            if message is None:
                raise  # on an intact file this is a bug: let it be seen
            log.error("opening %s failed", project.path, exc_info=True)
            self.close_project()
            QMessageBox.critical(self, "aldesk", message)
            return False
        return True

    def _show_project(self, project: Project, read_only: ReadOnlyProjectError | None) -> None:
        self.project = project
        self.read_only = read_only
        # Counted once: no other process can add items while this window holds the project,
        # and a full count on every key press costs tens of ms on a million items.
        self._item_total = items.count_items(project)
        self.classes = list_classes(project)
        self.display = display_of(project, self.settings)
        # The user's keys give way to this project's class hotkeys (e.g. a tenth class takes "0").
        keymap, problems = keymap_for_project({c.hotkey: c.name for c in self.classes if c.hotkey})
        for name in ("zoom_in", "zoom_out", "zoom_fit"):  # for texts they change the text size
            self.actions[name].setText(self.display.screen.zoom_texts.get(name, COMMANDS[name].text))
        self.actions["zoom_actual"].setVisible(self.display.screen.name == "image")  # texts have no pixels
        if problems:
            self.banner.show_message("\n".join(problems), retry=False, logged=False)
        # A new queue from the worker leaves every item the Next strip shows in place: a person
        # labeling ahead from the strip must never see it change under their eyes (and those
        # images are decoded already, so the next presses never wait: benchmarks/bench_keypress.py).
        # The new model's choices start after them, at most STRIP_LENGTH labels later.
        self.signals = SessionSignals(LabelingSession(project, keep_next=STRIP_LENGTH), self)
        self.signals.changed.connect(self._session_changed)
        self.commands.set_classes(self.classes, self.label)
        self.labeling.set_classes(self.classes)
        geometry = self.screen().availableGeometry()
        side = int(max(geometry.width(), geometry.height()) * self.devicePixelRatioF())
        self.presenter = LabelingPresenter(
            self.labeling,
            project,
            self.session,
            self.classes,
            image_side=side,
            prediction=self.learning.prediction,
            screen=self.display.screen,
            ratio=self.devicePixelRatioF(),
            parent=self,
        )
        self.apply_keymap(keymap)
        self.presenter.review_finished.connect(lambda: self.end_review("Review finished: nothing left in it."))
        self.presenter.counted.connect(lambda n: self.counts_label.setText(f"{n} / {self._item_total} labeled"))
        if read_only is None:  # the learning loop stores what it learns: only where it may write
            self.controller = LearningController(project, self.session, backbone=self.backbone)
            self.controller.state_changed.connect(self.learning.worker_state)
            self.controller.tuning_changed.connect(self.learning.tuning_state)
            self.controller.encoder_changed.connect(self.learning.encoder_news)
            self.controller.model_updated.connect(self._model_updated)
            self.controller.error.connect(self.banner.show_message)
            self.controller.write_failed.connect(self.guard.background)
        self._load_latest_model()
        self.stack.setCurrentWidget(self.labeling)
        self.commands.set_labeling_enabled(True)
        self.setWindowTitle(f"{project.name}{' (read-only)' if read_only else ''} — aldesk")
        recent_projects.remember(self.settings, project.path)
        if self.controller is not None:
            self.integrity.start(project)
            self.controller.start()
        else:
            self._show_read_only(read_only)
        self.show_current()

    def apply_keymap(self, keymap: dict[str, tuple[str, ...]]) -> None:
        """Give the commands their keys; a text view's scrolling keys give way to any of them."""
        apply_keymap(self.actions, keymap)
        view = self.labeling.item_view
        if hasattr(view, "set_taken_keys"):
            taken = {normalise(k) for keys in current_keymap(self.actions).values() for k in keys}
            taken |= {normalise(c.hotkey) for c in self.classes if c.hotkey}
            view.set_taken_keys(taken)

    def _show_read_only(self, exc: ReadOnlyProjectError, *, now: bool = False) -> None:
        self.banner.show_message(project_access.read_only_banner(exc, now=now), retry=False, logged=False, closable=False)
        self.learning.not_learning()

    def _write_access_lost(self, exc: ReadOnlyProjectError) -> None:
        """A write met a read-only disk or damage mid-session: the window goes read-only, as if
        opened so (every later write would fail the same way; reopening checks again)."""
        if self.project is None or self.read_only is not None:
            return
        self.read_only = exc
        self.setWindowTitle(f"{self.project.name} (read-only) — aldesk")
        self._show_read_only(exc, now=True)
        controller, self.controller = self.controller, None
        if controller is not None:
            # Its last tries to store at shutdown fail the same way: not shown over this banner.
            for signal in (controller.write_failed, controller.error, controller.state_changed, controller.tuning_changed):
                signal.disconnect()
            controller.shutdown()
            controller.deleteLater()

    def refuse_read_only(self, what: str = "Labels") -> None:
        """A key that would write, on a read-only project: said briefly (the banner says why)."""
        self.statusBar().showMessage(project_access.refusal(self.project, self.read_only, what), 8000)

    def close_project(self) -> None:
        self.integrity.cancel()
        if self.controller is not None:
            self.controller.shutdown()
            self.controller.deleteLater()
            self.controller = None
        if self.presenter is not None:
            self.presenter.shutdown()
            self.presenter.deleteLater()
            self.presenter = None
        if self.project is not None:
            self.project.close()
        self.reviews.close()
        self.project = None
        if self.signals is not None:
            self.signals.close()
            self.signals.deleteLater()
            self.signals = None
        self.mode_label.setText("")
        self.banner.dismiss()
        self.guard.reset()
        self.read_only = None
        if self.curve_dock is not None:
            self.curve_dock.hide()
        self.show_start()

    # The File menu's dialogs (gui/dialogs/menu_dialogs.py).
    def choose_project(self) -> None:
        menu_dialogs.choose_project(self)

    def open_demo(self) -> None:
        menu_dialogs.open_demo(self)

    def new_project(self) -> None:
        menu_dialogs.new_project(self)

    def export_project(self) -> None:
        menu_dialogs.export_project(self)

    def show_shortcuts(self) -> None:
        menu_dialogs.show_shortcuts(self)

    # -- labeling: each key's write; the screen follows from the session's Changes ----------

    def label(self, class_id: int) -> None:
        self._write(lambda: self.session.label(class_id))

    def skip(self) -> None:
        if self.session is not None and self.session.review is not None:
            self.session.skip()  # a review moves on without writing anything
        else:
            self._write(lambda: self.session.skip())

    def unsure(self) -> None:
        self._write(lambda: self.session.unsure())

    def undo(self) -> None:
        self._write(lambda: self.session.undo())

    def redo(self) -> None:
        self._write(lambda: self.session.redo())

    def _write(self, write) -> None:
        """A key press's write, unless refused (read-only project) or failed (said on screen by
        the guard; the session has not moved)."""
        if self.session is None:
            return
        if self.read_only is not None or not self.project.writable:
            self.refuse_read_only()
            return
        self.guard.attempt(write)

    def _session_changed(self, changes: Changes) -> None:
        if changes.labels:  # written, so the disk takes writes again; the model is out of date
            self.guard.succeeded()
            if self.controller:
                self.controller.label_recorded()
        if self.stack.currentWidget() is not self.labeling:
            if changes.labels:
                self.presenter.update_counts()
            return  # the grid is on screen; labeling is redrawn when it is back
        if changes.item:  # a key press's next item is painted first, the rest after it
            self.show_current(rest_after_paint=changes.labels and not changes.undone)
        elif changes.upcoming:
            self.presenter.queue_updated()
        elif changes.labels:
            self.presenter.after_paint()  # e.g. a grid change taken back: strips and counts

    def show_current(self, *, rest_after_paint: bool = False) -> None:
        if self.presenter is not None:
            self.presenter.show_current(rest_after_paint=rest_after_paint)

    def retrain(self) -> None:
        if self.controller:
            self.controller.retrain_now()
        elif self.read_only is not None:
            self.refuse_read_only("The model")

    # -- model and worker state --------------------------------------------------------------

    def _load_latest_model(self) -> None:
        self.presenter.update_counts()
        self.learning.load_latest_model(self.project, self.controller.latest_predictions if self.controller else None)

    def _model_updated(self, _version: int, _metrics: dict) -> None:
        if self.presenter is None:
            return  # the project closed meanwhile
        self._load_latest_model()
        if self.curve_dock is not None and self.curve_dock.isVisible():
            self.curve_dock.show_project(self.project)
        self.presenter.show_prediction(self.session.current.item_id if self.session.current else None)

    def retry_failed_work(self) -> None:
        self.guard.take_background_retry()
        if self.controller:
            self.controller.retry()

    def _space_back(self) -> None:
        """The full disk has room again: background work that failed on it runs again."""
        if self.guard.take_background_retry() and self.controller:
            self.controller.retry()

    # -- reviews and the grid (gui/review/review_modes.py) ----------------------------------

    def review_unsure(self) -> None:
        self.reviews.start(UNSURE)

    def review_suspects(self) -> None:
        self.reviews.start(SUSPECTS)

    def browse_labels(self) -> None:
        self.reviews.browse()

    def end_review(self, message: str = "") -> None:
        self.reviews.end(message)

    @property
    def review_view(self):
        return self.reviews.view

    # -- view and settings --------------------------------------------------------------

    def _actual_size(self) -> None:
        view = self.labeling.item_view
        if isinstance(view, ImageView):  # a text view has no pixels to show 1:1
            view.actual_size()

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def show_curve(self) -> None:
        """Show or hide the learning-curve panel."""
        from aldesk.gui.labeling.curve_panel import toggle_curve_dock

        if self.project is not None:
            self.curve_dock = toggle_curve_dock(self, self.curve_dock, self.project, self.labeling)

    def recent_projects(self) -> list[Path]:
        return recent_projects.recent_projects(self.settings)

    def forget_recent(self, path: Path) -> None:
        """Take ``path`` off the recent list (the file itself is left alone)."""
        recent_projects.forget(self.settings, path)
        self.start_screen.set_recent(self.recent_projects())

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 800)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.sync()
        self.close_project()
        event.accept()
