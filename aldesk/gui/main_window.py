"""The main window: start screen or labeling view, every command a QAction in a menu.

A key press labels, commits and advances in the GUI thread with no decoding or training on that
path: images come from the prefetcher, models from the learning worker.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QStackedWidget, QVBoxLayout, QWidget,
)

from aldesk.core import items
from aldesk.core.classes import LabelClass, list_classes
from aldesk.core.errors import AldeskError, DamagedProjectError, ReadOnlyProjectError
from aldesk.core.session import Changes, LabelingSession
from aldesk.core.sqlite_errors import project_error
from aldesk.core.store import Project, open_project
from aldesk.core.walks import SUSPECTS, UNSURE, suspect_items, unsure_items
from aldesk.gui.banner import Banner
from aldesk.gui.learning.integrity_check import BackgroundCheck
from aldesk.gui.learning.controller import LearningController
from aldesk.gui.keymap import DEFAULT_COMMANDS, apply_keymap, current_keymap, keymap_for_project
from aldesk.gui.labeling.labeling_view import THUMB, LabelingView
from aldesk.gui.labeling.prefetch import ImagePrefetcher
from aldesk.gui.start_screen import StartScreen
from aldesk.gui.session_signals import SessionSignals
from aldesk.gui.theme import readable
from aldesk.gui.write_guard import WriteGuard

log = logging.getLogger("aldesk.window")
PREFETCH_AHEAD = 6
STRIP_LENGTH = 8  # thumbnails in the Next and the Last labeled strips
PREFETCH_KEEP = 3
RECENT_MAX = 10


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, *, backbone: str | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings("aldesk", "aldesk")
        self.backbone = backbone
        self.project: Project | None = None
        self.signals: SessionSignals | None = None  # the labeling session, seen from Qt
        self.controller: LearningController | None = None
        self.prefetcher: ImagePrefetcher | None = None
        self.thumbs: ImagePrefetcher | None = None
        self.classes: list[LabelClass] = []
        self._predictions: tuple[np.ndarray, np.ndarray, list[int]] | None = None  # ids, probs, class ids
        self._model: tuple[int, float] | None = None  # version, created (monotonic)
        self._estimate: dict | None = None  # the latest model's audit estimate
        self.review_view = None  # the review grid, built when first asked for
        self.curve_dock = None  # the learning-curve panel, built when first asked for
        self._item_total = 0
        self.read_only: ReadOnlyProjectError | None = None  # why the open project cannot be written
        self.integrity = BackgroundCheck(self)
        self.integrity.damaged.connect(self._write_access_lost)
        self.integrity.failed.connect(lambda message: self.banner.show_message(message, retry=False))
        self._after_paint_posted = False  # strips and counts of a key press are still to update
        # Thumbnails arrive one by one from the decoders; one strip update takes several.
        self._strip_timer = QTimer(self)
        self._strip_timer.setSingleShot(True)
        self._strip_timer.setInterval(30)
        self._strip_timer.timeout.connect(self._update_strips)

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
        self.model_label = QLabel(self)
        self.advice_label = QLabel(self)  # appears when the stopping rule says labels stopped helping
        self.worker_label = QLabel(self)
        self.worker_bar = QProgressBar(self)
        self.worker_bar.setMaximumWidth(160)
        self.worker_bar.setTextVisible(False)
        for widget in (self.counts_label, self.mode_label, self.model_label, self.advice_label, self.worker_label):
            self.statusBar().addWidget(widget)
        self.statusBar().addPermanentWidget(self.worker_bar)
        self._age_timer = QTimer(self)
        self._age_timer.timeout.connect(self._update_model_label)
        self._age_timer.start(30_000)

        self.actions: dict[str, QAction] = {}
        self.class_actions: list[QAction] = []
        self._build_menus()
        self._restore_geometry()
        self.show_start()

    # -- menus and actions -------------------------------------------------------------------

    def _build_menus(self) -> None:
        keymap, problems = keymap_for_project({})
        if problems:
            QTimer.singleShot(0, lambda: QMessageBox.warning(self, "aldesk", "\n".join(problems)))
        handlers = {
            "new_project": self.new_project, "open_project": self.choose_project,
            "open_demo": self.open_demo, "close_project": self.close_project, "quit": self.close,
            "skip": self.skip, "unsure": self.unsure, "undo": self.undo, "redo": self.redo,
            "retrain": self.retrain, "zoom_in": self.labeling.image_view.zoom_in,
            "zoom_out": self.labeling.image_view.zoom_out, "zoom_fit": self.labeling.image_view.fit,
            "full_screen": self.toggle_full_screen, "show_curve": self.show_curve,
            "shortcuts": self.show_shortcuts, "export": self.export_project,
            "review_unsure": self.review_unsure, "review_suspects": self.review_suspects,
            "review_grid": self.browse_labels, "end_review": self.end_review,
        }
        menus = {}
        for command in DEFAULT_COMMANDS:
            menu = menus.get(command.menu) or self.menuBar().addMenu(f"&{command.menu}")
            menus[command.menu] = menu
            action = self.make_action(command.text, keymap.get(command.name, ()), handlers[command.name])
            menu.addAction(action)
            self.actions[command.name] = action
            if command.name == "redo":
                menu.addSeparator()
                self.class_menu = menu.addMenu("Label &as")
        self.addActions(list(self.actions.values()))

    def make_action(self, text: str, keys: tuple[str, ...], handler) -> QAction:
        """The one place that builds a QAction: text, shortcuts, window-wide context."""
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: handler())
        return action

    def _build_class_actions(self) -> None:
        for action in self.class_actions:
            self.removeAction(action)
        self.class_menu.clear()
        self.class_actions = []
        for label_class in self.classes:
            keys = (label_class.hotkey,) if label_class.hotkey else ()
            action = self.make_action(label_class.name, keys, lambda cid=label_class.id: self.label(cid))
            self.class_menu.addAction(action)
            self.addAction(action)
            self.class_actions.append(action)

    def _set_labeling_enabled(self, enabled: bool) -> None:
        for name in ("close_project", "skip", "unsure", "undo", "redo", "retrain", "zoom_in",
                     "zoom_out", "zoom_fit", "show_curve", "export", "review_unsure", "review_suspects",
                     "review_grid", "end_review"):
            self.actions[name].setEnabled(enabled)
        self.class_menu.setEnabled(enabled)

    # -- project life cycle ------------------------------------------------------------------

    def show_start(self) -> None:
        self.setWindowTitle("aldesk")
        self.start_screen.set_recent(self.recent_projects())
        self.stack.setCurrentWidget(self.start_screen)
        self._set_labeling_enabled(False)
        self.counts_label.setText("")
        self.model_label.setText("")
        self.worker_label.setText("")
        self.worker_bar.hide()

    def open_project(self, path: Path) -> bool:
        path = Path(path)
        self.close_project()
        read_only = None
        try:
            try:
                # The tables holding labels are checked now, the rest of the file just after.
                project = open_project(path, full_check=False)
            except ReadOnlyProjectError as exc:  # read-only medium or damaged: browse it, write nothing
                project, read_only = open_project(path, write=False), exc
        except AldeskError as exc:
            QMessageBox.critical(self, "aldesk", str(exc))
            return False
        try:
            self._show_project(project, read_only)
        except Exception as exc:  # damage the quick check missed, met while reading the project
            if not isinstance(exc, sqlite3.DatabaseError) and not project.damage:
                raise  # on an intact file this is a bug: let it be seen
            error = (project_error(project.path, exc, what="reading it", reading=True)
                     if isinstance(exc, sqlite3.DatabaseError) else exc)
            log.error("opening %s failed", project.path, exc_info=True)
            self.close_project()
            QMessageBox.critical(self, "aldesk", f"{error}\n\nIf it says the file is damaged: 'aldesk recover "
                                 f"{project.path.name} --out NEW.aldesk' copies what is readable into a new project.")
            return False
        return True

    def _show_project(self, project: Project, read_only: ReadOnlyProjectError | None) -> None:
        self.project = project
        self.read_only = read_only
        # Counted once: no other process can add items while this window holds the project,
        # and a full count on every key press costs tens of ms on a million items.
        self._item_total = items.count_items(project)
        self.classes = list_classes(project)
        # The user's keys give way to this project's class hotkeys (e.g. a tenth class takes "0").
        keymap, problems = keymap_for_project({c.hotkey: c.name for c in self.classes if c.hotkey})
        apply_keymap(self.actions, keymap)
        if problems:
            self.banner.show_message("\n".join(problems), retry=False, logged=False)
        # A new queue from the worker leaves the next few items in place: their images are
        # decoded already, so the next key presses never wait for a decode (benchmarks/bench_keypress.py).
        self.signals = SessionSignals(LabelingSession(project, keep_next=PREFETCH_KEEP), self)
        self.signals.changed.connect(self._session_changed)
        self._build_class_actions()
        self.labeling.set_classes(self.classes)
        side = max(self.screen().availableGeometry().width(), self.screen().availableGeometry().height())
        side = int(side * self.devicePixelRatioF())
        self.prefetcher = ImagePrefetcher(self._resolve, side, parent=self)
        self.prefetcher.ready.connect(self._image_ready)
        self.prefetcher.failed.connect(self._image_failed)
        thumb_side = max(96, round(THUMB * self.devicePixelRatioF()))  # sharp strips on high-DPI screens
        self.thumbs = ImagePrefetcher(self._resolve, thumb_side, workers=1, parent=self)
        self.thumbs.ready.connect(lambda _id: self._strip_timer.start())
        if read_only is None:  # the learning loop stores what it learns: only where it may write
            self.controller = LearningController(project, self.session, backbone=self.backbone)
            self.controller.state_changed.connect(self._worker_state)
            self.controller.model_updated.connect(self._model_updated)
            self.controller.error.connect(self._worker_error)
            self.controller.write_failed.connect(self.guard.background)
        self._load_latest_model()
        self.stack.setCurrentWidget(self.labeling)
        self._set_labeling_enabled(True)
        self.setWindowTitle(f"{project.name}{' (read-only)' if read_only else ''} — aldesk")
        self._remember_recent(project.path)
        if self.controller is not None:
            self.integrity.start(project)
            self.controller.start()
        else:
            self._show_read_only(read_only)
        self.show_current()

    def _show_read_only(self, exc: ReadOnlyProjectError, *, now: bool = False) -> None:
        self.banner.show_message(
            f"{exc}\n{'Now' if now else 'Opened'} read-only: the labeling keys are refused and the model is not"
            " retrained; browsing labels (Review menu) and export (File menu) work.", retry=False, logged=False,
            closable=False)
        self.worker_label.setText("read-only: not learning")
        self.worker_bar.hide()

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
            for signal in (controller.write_failed, controller.error, controller.state_changed):
                signal.disconnect()
            controller.shutdown()
            controller.deleteLater()

    def _refuse_read_only(self, what: str = "Labels") -> None:
        """A key that would write, on a read-only project: said briefly (the banner says why)."""
        if isinstance(self.read_only, DamagedProjectError) or self.project.damage:
            why = "it is damaged"
        else:  # the store's phrase, e.g. "it is on a read-only disk or mount (/media/x)"
            why = self.project.read_only_reason or "writing it failed (see the message above)"
        self.statusBar().showMessage(f"{what} cannot be changed: this project is read-only because {why}.", 8000)

    def close_project(self) -> None:
        self.integrity.cancel()
        if self.controller is not None:
            self.controller.shutdown()
            self.controller.deleteLater()
            self.controller = None
        for prefetcher in (self.prefetcher, self.thumbs):
            if prefetcher is not None:
                prefetcher.shutdown()
                prefetcher.deleteLater()
        self.prefetcher = self.thumbs = None
        if self.project is not None:
            self.project.close()
        if self.review_view is not None:
            self.review_view.shutdown()
            self.stack.removeWidget(self.review_view)
            self.review_view.deleteLater()
            self.review_view = None
        self.project = None
        if self.signals is not None:
            self.signals.close()
            self.signals.deleteLater()
            self.signals = None
        self._estimate = None
        self.mode_label.setText("")
        self.advice_label.setText("")
        self.banner.dismiss()
        self.guard.reset()
        self.read_only = None
        self._predictions = None
        self._model = None
        if self.curve_dock is not None:
            self.curve_dock.hide()
        self.show_start()

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(Path.home()), "aldesk projects (*.aldesk)")
        if path:
            self.open_project(Path(path))

    def open_demo(self) -> None:
        from aldesk.core.demo import build_demo

        self.statusBar().showMessage("Building the demo project…")
        try:
            path = build_demo()
        except AldeskError as exc:
            QMessageBox.critical(self, "aldesk", str(exc))
            return
        self.open_project(path)

    def new_project(self) -> None:
        from aldesk.gui.dialogs.new_project_dialog import NewProjectDialog

        dialog = NewProjectDialog(self)
        dialog.created.connect(self.open_project)
        dialog.exec()

    def _resolve(self, item_id: int) -> Path:
        return items.item_path(self.project, item_id) or Path("/nonexistent")

    # -- labeling ----------------------------------------------------------------------------

    @property
    def session(self) -> LabelingSession | None:
        return self.signals.session if self.signals is not None else None

    # Each key's write; the screen follows from the session's Changes (_session_changed).
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

    def _session_changed(self, changes: Changes) -> None:
        if changes.labels:  # written, so the disk takes writes again; the model is out of date
            self.guard.succeeded()
            if self.controller:
                self.controller.label_recorded()
        if self.stack.currentWidget() is not self.labeling:
            if changes.labels:
                self._update_counts()
            return  # the grid is on screen; labeling is redrawn when it is back
        if changes.item:  # a key press's next item is painted first, the rest after it
            self.show_current(rest_after_paint=changes.labels and not changes.undone)
        elif changes.upcoming:
            self._queue_updated()
        elif changes.labels:
            self._after_paint()  # e.g. a grid change taken back: strips and counts

    def _write(self, write):
        """A key press's write: its result, or None when there is nothing to do or it was refused
        (read-only project, failed write: both said on screen, and the session has not moved)."""
        if self.session is None:
            return None
        if self.read_only is not None or not self.project.writable:
            self._refuse_read_only()
            return None
        _ok, result = self.guard.attempt(write)
        return result

    def retrain(self) -> None:
        if self.controller:
            self.controller.retrain_now()
        elif self.read_only is not None:
            self._refuse_read_only("The model")

    def _after_paint(self) -> None:
        """What a key press changes besides the image: posted behind the repaint the press
        asked for (posted events run in order), so the next image is on screen first."""
        self._after_paint_posted = False
        if self.session is None:
            return
        current = self.session.current
        upcoming = self.session.upcoming(max(PREFETCH_AHEAD, STRIP_LENGTH))
        if current is not None:
            self.prefetcher.request([current.item_id, *(q.item_id for q in upcoming[:PREFETCH_AHEAD])])
        self._update_strips(upcoming[:STRIP_LENGTH])
        self._update_counts()

    def show_current(self, *, rest_after_paint: bool = False) -> None:
        """Show the session's current item; cheap: the image is taken from the prefetch cache.

        With ``rest_after_paint`` the prefetch requests, strips and counts follow once the image
        is painted (a key press); otherwise they are updated before returning.
        """
        if self.session is None:
            return
        current = self.session.current
        if current is None and self.session.review is not None:
            self.end_review("Review finished: nothing left in it.")
            return
        if current is None:
            self.labeling.show_item("Everything is labeled.", None, "Nothing left to label. 🎉")
            self.labeling.show_prediction("")
            return
        image = self.prefetcher.get(current.item_id)
        path = self._resolve(current.item_id)
        title = f"{path.name}    ({current.strategy}{f', rank {current.rank}' if current.rank else ''})"
        self.labeling.show_item(title, image, "" if image is not None else "Loading…")
        self._show_prediction(current.item_id)
        if not rest_after_paint:
            self._after_paint()
        elif not self._after_paint_posted:
            self._after_paint_posted = True
            QTimer.singleShot(0, self._after_paint)

    def _image_ready(self, item_id: int) -> None:
        if self.session and self.session.current and self.session.current.item_id == item_id:
            path = self._resolve(item_id)
            current = self.session.current
            title = f"{path.name}    ({current.strategy}{f', rank {current.rank}' if current.rank else ''})"
            self.labeling.show_item(title, self.prefetcher.get(item_id))

    def _image_failed(self, item_id: int, reason: str) -> None:
        if self.session and self.session.current and self.session.current.item_id == item_id:
            path = self._resolve(item_id)
            self.labeling.show_item(path.name, None, f"Cannot show {path}:\n{reason}\n\nSkip it with Space.")

    def _update_strips(self, upcoming: list | None = None) -> None:
        if self.session is None or self.thumbs is None:
            return
        upcoming = self.session.upcoming(STRIP_LENGTH) if upcoming is None else upcoming
        recent = self.session.recent(STRIP_LENGTH)
        names = {c.id: c.name for c in self.classes}
        self.thumbs.request([q.item_id for q in upcoming] + [d.item_id for d in recent])
        self.labeling.next_strip.show_items([(q.item_id, self.thumbs.get(q.item_id), "") for q in upcoming])
        self.labeling.recent_strip.show_items([
            (d.item_id, self.thumbs.get(d.item_id), names.get(d.class_id, d.kind)) for d in recent
        ])

    def _update_counts(self) -> None:
        if self.project is None:
            return
        counts = items.labeled_counts(self.project)
        self.labeling.set_counts(counts)
        self.counts_label.setText(f"{sum(counts.values())} / {self._item_total} labeled")

    # -- model and worker state --------------------------------------------------------------

    def _load_latest_model(self) -> None:
        from aldesk.core.model_store import latest_model, load_predictions

        self._update_counts()
        record = latest_model(self.project)
        if record is None:
            self._update_model_label()
            return
        fresh = self.controller.latest_predictions if self.controller else None
        if fresh is not None and fresh[0] == record.version:
            stored = fresh[1], fresh[2]  # just stored by the controller: no need to read it back
        else:
            stored = load_predictions(self.project, record.version)
        if stored is not None:
            self._predictions = (stored[0], stored[1], record.class_ids)
        age = time.time() - record.created_at
        self._model = (record.version, time.monotonic() - age)
        self._model_head = record.head  # named in the status bar when it is the weight-free CNN
        self._update_advice()
        self._update_model_label()

    def _model_updated(self, version: int, _metrics: dict) -> None:
        self._load_latest_model()
        self._refresh_curve()
        self._show_prediction(self.session.current.item_id if self.session and self.session.current else None)

    def _queue_updated(self) -> None:
        # The item on screen never changes here; only what comes next does.
        if self.session and self.session.current is None:
            self.show_current()
        elif self.session:
            self.prefetcher.request([self.session.current.item_id] + [q.item_id for q in self.session.upcoming(PREFETCH_AHEAD)])
            self._update_strips()

    def _show_prediction(self, item_id: int | None) -> None:
        text, colour = "No model yet", None
        if item_id is not None and self._predictions is not None:
            ids, probs, class_ids = self._predictions
            pos = int(np.searchsorted(ids, item_id))
            if pos < len(ids) and ids[pos] == item_id:
                best = int(probs[pos].argmax())
                by_id = {c.id: c for c in self.classes}
                guess = by_id.get(class_ids[best])
                if guess is not None:
                    # The class colour, made lighter or darker until it reads on this theme.
                    background = self.labeling.palette().color(QPalette.ColorRole.Window)
                    text, colour = f"Model: {guess.name}  {probs[pos, best]:.0%}", readable(guess.colour, background).name()
        previous = self.session.previous_decision(item_id) if self.session and item_id else None
        if previous is not None:
            names = {c.id: c.name for c in self.classes}
            text = f"was: {names.get(previous.class_id, previous.kind)}    " + text
        self.labeling.show_prediction(text, colour)

    def _update_model_label(self) -> None:
        from aldesk.core.vectors import latest_set

        embedding_set = latest_set(self.project) if self.project is not None else None
        backbone = f" · {embedding_set.backbone}" if embedding_set else ""  # which backbone is in use
        if self._model is not None and self._model_head == "cnn":
            backbone += " + CNN trained from scratch"
        if self._model is None:
            self.model_label.setText(f"no model yet{backbone}")
            return
        version, created = self._model
        minutes = int((time.monotonic() - created) // 60)
        age = "just now" if minutes < 1 else f"{minutes} min ago"
        estimate = self._estimate or {}
        if estimate.get("value") is not None:
            accuracy = (f" · accuracy ≈ {estimate['value']:.0%} ({estimate['low']:.0%}–{estimate['high']:.0%},"
                        f" {estimate['audit_labels']} audits)")
        else:
            accuracy = f" · accuracy not estimated yet ({estimate.get('audit_labels', 0)}/10 audits)"
        self.model_label.setText(f"model v{version} ({age}){backbone}{accuracy}")

    def _update_advice(self) -> None:
        from aldesk.core.stopping import project_advice

        self._estimate, advice = project_advice(self.project)
        self.advice_label.setText("Labels have stopped helping much: consider stopping" if advice["stop"] else "")
        self.advice_label.setToolTip(advice["reason"])

    def _worker_state(self, stage: str, done: int, total: int) -> None:
        if stage == "idle":
            self.worker_label.setText("idle")
            self.worker_bar.hide()
            return
        self.worker_bar.show()
        if total > 1:
            self.worker_bar.setRange(0, total)
            self.worker_bar.setValue(done)
            self.worker_label.setText(f"{stage} {100 * done // total}%")
        else:
            self.worker_bar.setRange(0, 0)  # busy indicator
            self.worker_label.setText(stage)

    def _worker_error(self, message: str) -> None:
        self.banner.show_message(message)

    def retry_failed_work(self) -> None:
        self.guard.take_background_retry()
        if self.controller:
            self.controller.retry()

    def _space_back(self) -> None:
        """The full disk has room again: background work that failed on it runs again."""
        if self.guard.take_background_retry() and self.controller:
            self.controller.retry()

    # -- review ------------------------------------------------------------------------------

    def review_unsure(self) -> None:
        if self.project is not None:
            self._start_review(unsure_items(self.project), UNSURE, "unsure items")

    def review_suspects(self) -> None:
        if self.project is not None:
            self._start_review(suspect_items(self.project), SUSPECTS, "suspected wrong labels")

    def _start_review(self, items: list, kind: str, what: str) -> None:
        if not items:
            hint = " (the worker ranks them after each retraining)" if kind == SUSPECTS else ""
            self.statusBar().showMessage(f"No {what} to review{hint}.", 6000)
            return
        self._show_labeling_view()
        self.mode_label.setText(f"Reviewing {what} ({len(items)}) · Esc returns to labeling")
        self.session.start_review(kind, items)  # its Changes put the first item on screen

    def browse_labels(self) -> None:
        """The review grid: labeled items of one class (or the suspects) as thumbnails."""
        from aldesk.gui.review.review_view import ReviewView

        if self.project is None:
            return
        self.session.end_review()  # Esc from the grid returns to labeling: so does its undo
        if self.review_view is None:
            def keys(name: str) -> tuple[str, ...]:
                return tuple(k.toString(QKeySequence.SequenceFormat.PortableText) for k in self.actions[name].shortcuts())

            self.review_view = ReviewView(self.project, self, signals=self.signals,
                                          undo_keys=keys("undo"), redo_keys=keys("redo"))
            self.review_view.write_failed.connect(self._grid_write_failed)
            self.stack.addWidget(self.review_view)
        else:
            self.review_view.reload()
        # The grid has its own keys for classes and undo; the labeling actions step aside.
        self._set_labeling_enabled(False)
        for name in ("close_project", "end_review", "review_grid", "export", "show_curve"):
            self.actions[name].setEnabled(True)
        self.stack.setCurrentWidget(self.review_view)
        self.review_view.grid.setFocus()
        self.mode_label.setText("Browsing labels · Esc returns to labeling")

    def _grid_write_failed(self, exc: BaseException) -> None:
        if self.project is not None and (self.read_only is not None or not self.project.writable):
            self._refuse_read_only()
        else:
            self.guard.refused(exc)

    def _show_labeling_view(self) -> None:
        if self.stack.currentWidget() is not self.labeling:
            self.stack.setCurrentWidget(self.labeling)
            self._set_labeling_enabled(True)

    def end_review(self, message: str = "") -> None:
        """Back to labeling from the grid or a review list; the labeling session resumes."""
        self._show_labeling_view()
        self.mode_label.setText("")
        if message:
            self.statusBar().showMessage(message, 6000)
        if self.session is not None and self.session.review is not None:
            self.session.end_review()  # its Changes show the labeling walk's item
        else:
            self.show_current()
        self._update_counts()

    # -- export ------------------------------------------------------------------------------

    def export_project(self) -> None:
        from aldesk.gui.dialogs.export_dialog import run_export_dialog

        if self.project is not None:
            run_export_dialog(self, self.project.path)

    # -- view --------------------------------------------------------------------------------

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def show_curve(self) -> None:
        """Show or hide the learning-curve panel."""
        from aldesk.gui.labeling.curve_panel import CurveDock

        if self.project is None:
            return
        if self.curve_dock is not None and self.curve_dock.isVisible():
            self.curve_dock.hide()
            return
        if self.curve_dock is None:
            self.curve_dock = CurveDock(self)
        # Beside the image where the window has room for it, else below: a panel that made the
        # window wider than the screen (many class buttons) would end up off screen.
        spare = self.width() - self.labeling.minimumSizeHint().width()
        beside = spare >= self.curve_dock.minimumSizeHint().width()
        area = Qt.DockWidgetArea.RightDockWidgetArea if beside else Qt.DockWidgetArea.BottomDockWidgetArea
        self.addDockWidget(area, self.curve_dock)
        self.curve_dock.show_project(self.project)
        self.curve_dock.show()

    def _refresh_curve(self) -> None:
        if self.curve_dock is not None and self.curve_dock.isVisible() and self.project is not None:
            self.curve_dock.show_project(self.project)

    def show_shortcuts(self) -> None:
        from aldesk.gui.dialogs.shortcuts_dialog import ShortcutsDialog

        class_keys = {c.hotkey: c.name for c in self.classes if c.hotkey} if self.project else {}
        dialog = ShortcutsDialog(self, current_keymap(self.actions), class_keys)
        dialog.keymap_changed.connect(lambda keymap: apply_keymap(self.actions, keymap))
        dialog.exec()

    # -- settings ----------------------------------------------------------------------------

    def recent_projects(self) -> list[Path]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [Path(p) for p in (value or [])]

    def _remember_recent(self, path: Path) -> None:
        paths = [path] + [p for p in self.recent_projects() if p != path]
        self.settings.setValue("recent", [str(p) for p in paths[:RECENT_MAX]])
        self.settings.setValue("last_project", str(path))
        self.settings.sync()  # written now: a crash later must not forget the project

    def forget_recent(self, path: Path) -> None:
        """Take ``path`` off the recent list (the file itself is left alone)."""
        self.settings.setValue("recent", [str(p) for p in self.recent_projects() if p != Path(path)])
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
