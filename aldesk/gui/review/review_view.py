"""Review: labeled items as a thumbnail grid, one class at a time or the suspects ranking.

The person looks over a class (or the items the model doubts most), selects one or more tiles
with the arrows or the mouse, and presses a class hotkey to relabel them, the same keys as in
the labeling view; Ctrl+Z undoes, Ctrl+Shift+Z redoes: the session's one history, so the latest
change is taken back wherever it was made (aldesk/core/session.py). Every relabeling is a label
event (aldesk/core/labels.py) committed at once, with strategy "review" or "suspects" saying
where it was made. A relabeled tile stays in place with its new class shown until the grid is
reloaded, so the person sees what they did and undo has something to point at.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListView, QVBoxLayout, QWidget

from aldesk.core import items
from aldesk.core.classes import LabelClass, list_classes
from aldesk.core.errors import AldeskError, ProjectError
from aldesk.core.labels import QueryContext
from aldesk.core.session import Changes, LabelingSession
from aldesk.core.store import Project
from aldesk.core.suspects_store import LISTED_WORDS, latest_run, load_suspects
from aldesk.gui.review.review_model import ReviewModel, Tile
from aldesk.gui.review.thumbnails import DEFAULT_SIDE
from aldesk.gui.review.tiles import GridTiles, ImageTiles
from aldesk.gui.session_signals import SessionSignals
from aldesk.gui.write_guard import WRITE_ERRORS

MODES = ("class", "suspects")
STRATEGY = {"class": "review", "suspects": "suspects"}  # recorded with each relabeling
DEFAULT_UNDO_KEYS = ("Ctrl+Z",)
DEFAULT_REDO_KEYS = ("Ctrl+Shift+Z",)


class ReviewView(QWidget):
    """The review grid. ``mode`` is "class" (the labeled items of the chosen class) or
    "suspects" (the latest stored suspects ranking)."""

    labels_changed = Signal()  # after a relabeling or an undo shown here: counts are updated
    item_activated = Signal(int)  # Enter or double click on a tile: open it large
    # A key whose write failed or was refused (read-only project): the exception, for the window
    # to show. The tiles and the history keep only what was written.
    write_failed = Signal(object)

    def __init__(
        self,
        project: Project,
        parent: QWidget | None = None,
        *,
        signals: SessionSignals | None = None,
        undo_keys: tuple[str, ...] = DEFAULT_UNDO_KEYS,
        redo_keys: tuple[str, ...] = DEFAULT_REDO_KEYS,
        thumb_side: int = DEFAULT_SIDE,
        tiles: GridTiles | None = None,
    ) -> None:
        super().__init__(parent)
        self.project = project
        # How a tile draws one item and what shows it large: the kind's (images unless told).
        self.tiles = tiles or ImageTiles()
        # The window's session (one history with labeling); on its own, the grid makes one.
        self.signals = signals or SessionSignals(LabelingSession(project, audit_every=0), self)
        self.signals.changed.connect(self._session_changed)
        self._mode = "class"
        self._class_id: int | None = None
        self._run_model_version: int | None = None  # the model of the suspects ranking shown
        self._counts: dict[int, int] = {}  # labeled items per class
        self._undo_keys = {QKeySequence(k).toString(QKeySequence.SequenceFormat.PortableText) for k in undo_keys}
        self._redo_keys = {QKeySequence(k).toString(QKeySequence.SequenceFormat.PortableText) for k in redo_keys}
        tile_size = self.tiles.tile_size(thumb_side)
        self.loader = self.tiles.loader(project, tile_size, self)
        self.model = ReviewModel(project, self.loader, self, needs_files=self.tiles.needs_files)

        self.mode_combo = QComboBox(self)
        self.mode_combo.addItem("Labeled as class", "class")
        self.mode_combo.addItem("Suspects", "suspects")
        self.mode_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.class_combo = QComboBox(self)
        self.class_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.status = QLabel(self)
        self.grid = QListView(self)
        self.grid.setObjectName("reviewGrid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setWrapping(True)
        self.grid.setUniformItemSizes(True)  # no per-item size query: layout of 100k rows stays cheap
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(2000)
        self.grid.setIconSize(tile_size)
        # Room for two caption lines (a suspect's label and suggestion, then rank and score).
        self.grid.setGridSize(QSize(tile_size.width() + 24, tile_size.height() + 2 * self.fontMetrics().height() + 16))
        self.grid.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.grid.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.grid.setModel(self.model)
        # Class keys and undo act on the grid wherever the focus is inside this view.
        for widget in (self.grid, self.mode_combo, self.class_combo):
            widget.installEventFilter(self)
        self.grid.activated.connect(lambda index: self.item_activated.emit(int(index.data(ReviewModel.ItemIdRole))))
        self.item_activated.connect(self.show_large)
        self.preview = None  # the PreviewDialog open now, if any

        bar = QHBoxLayout()
        bar.addWidget(self.mode_combo)
        bar.addWidget(self.class_combo)
        bar.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(bar)
        layout.addWidget(self.grid, 1)

        self.mode_combo.activated.connect(lambda _i: self._chosen(self.set_mode, self.mode_combo.currentData()))
        self.class_combo.activated.connect(lambda _i: self._chosen(self.set_class, self.class_combo.currentData()))
        self.reload()

    # -- what is shown -----------------------------------------------------------------------

    def _chosen(self, setter, value) -> None:
        setter(value)
        self.grid.setFocus()  # the keys are for the tiles

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise AldeskError(f"Unknown review mode {mode!r}; choose one of: {', '.join(MODES)}.")
        self._mode = mode
        self.reload()

    @property
    def class_id(self) -> int | None:
        return self._class_id

    def set_class(self, class_id: int) -> None:
        """Show the labeled items of this class (and switch to class mode)."""
        self._class_id = class_id
        self._mode = "class"
        self.reload()

    def item_ids(self) -> list[int]:
        return [tile.item_id for tile in self.model.tiles]

    def reload(self) -> None:
        """Read the grid's items from the project again (relabeled items then move away)."""
        classes = list_classes(self.project)
        # Counted once per reload (a scan: ~0.1 s at 100,000 items), then kept up to date by
        # each relabeling and undo, so a key press never waits for it.
        self._counts = counts = items.labeled_counts(self.project)
        if self._class_id not in {c.id for c in classes}:
            self._class_id = next((c.id for c in classes if counts.get(c.id)), classes[0].id if classes else None)
        self._fill_combos(classes)
        if self._mode == "class":
            tiles = self._class_tiles()
            name = next((c.name for c in classes if c.id == self._class_id), "no class")
            self.status.setText(f"{len(tiles):,} items labeled {name}")
        else:
            tiles, note = self._suspect_tiles()
            self.status.setText(note)
        self.model.set_tiles(tiles, classes)
        if tiles:
            self.grid.setCurrentIndex(self.model.index(0))

    def _class_tiles(self) -> list[Tile]:
        if self._class_id is None:
            return []
        class_id = self._class_id
        return [Tile(item_id, class_id) for item_id in items.labeled_as(self.project, class_id)]

    def _suspect_tiles(self) -> tuple[list[Tile], str]:
        run = latest_run(self.project)
        if run is None:
            return [], "No suspects yet: the worker ranks them after training on enough labels (aldesk suspects PROJECT)."
        tiles = [
            Tile(
                s.item_id,
                s.given_class_id,
                rank=s.rank,
                score=s.score,
                suggested_class_id=s.suggested_class_id,
                p_given=s.p_given,
            )
            for s in load_suspects(self.project, run.id)
        ]
        self._run_model_version = run.model_version
        if not tiles:
            return (
                [],
                f"No suspects: a model trained on the other labels believes each of the {run.n_labels:,} labels it checked.",
            )
        return tiles, (
            f"{len(tiles):,} suspects still to review, most doubtful first: {LISTED_WORDS} (checked {run.n_labels:,} labels)"
        )

    def _fill_combos(self, classes: list[LabelClass]) -> None:
        self.mode_combo.setCurrentIndex(MODES.index(self._mode))
        self.class_combo.clear()
        for label_class in classes:
            self.class_combo.addItem(self._combo_text(label_class), label_class.id)
        if self._class_id is not None:
            self.class_combo.setCurrentIndex(max(0, self.class_combo.findData(self._class_id)))
        self.class_combo.setEnabled(self._mode == "class")

    def show_large(self, item_id: int) -> None:
        """The item whole in a dialog: the image at screen size, the whole text (Esc closes it;
        the selection stays)."""
        row = self.model.row_of(item_id)
        if row is None:
            return
        tile = self.model.tiles[row]
        caption = self.model.caption(tile).replace("\n", "   ")
        if self.preview is not None:
            self.preview.close()
        self.preview = self.tiles.preview(self.project, item_id, self.model.path_of(item_id), f"item {item_id}: {caption}", self)
        self.preview.finished.connect(self._after_preview)
        self.preview.open()

    def _after_preview(self) -> None:
        # Without a window manager (or with one that does not hand focus back to the parent) the
        # closed dialog leaves no window active, and the window's keys (Esc, class keys) go nowhere.
        self.window().activateWindow()
        self.grid.setFocus()

    # -- keys ----------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # The window's actions use the same keys (class hotkeys, Ctrl+Z) window-wide. Accepting
        # the ShortcutOverride makes Qt deliver them to the grid as key presses instead, so
        # inside the review grid they act on the selected tiles.
        if (
            watched is self.grid
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Space
            and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            and self.grid.currentIndex().isValid()
        ):
            # Space shows the current tile large, as Enter does (the dialog closes on Space too).
            self.show_large(int(self.grid.currentIndex().data(ReviewModel.ItemIdRole)))
            return True
        if watched in (self.grid, self.mode_combo, self.class_combo) and event.type() in (
            QEvent.Type.ShortcutOverride,
            QEvent.Type.KeyPress,
        ):
            action = self._action_for(event)
            if action is not None:
                event.accept()
                if event.type() == QEvent.Type.KeyPress:
                    action()
                return True
        return super().eventFilter(watched, event)

    def _action_for(self, event: QKeyEvent):
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if event.key() in (Qt.Key.Key_unknown, Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta):
            return None
        pressed = QKeySequence(event.key() | modifiers.value).toString(QKeySequence.SequenceFormat.PortableText)
        if pressed in self._undo_keys:
            return self.undo
        if pressed in self._redo_keys:
            return self.redo
        for label_class in self.model.classes.values():
            if (
                label_class.hotkey
                and QKeySequence(label_class.hotkey).toString(QKeySequence.SequenceFormat.PortableText) == pressed
            ):
                return lambda cid=label_class.id: self.relabel_selected(cid)
        return None

    # -- relabeling ----------------------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        rows = sorted(index.row() for index in self.grid.selectionModel().selectedIndexes())
        if not rows and self.grid.currentIndex().isValid():
            rows = [self.grid.currentIndex().row()]
        return rows

    def relabel_selected(self, class_id: int) -> int:
        """Label the selected tiles with ``class_id`` (one event each, committed; one step to
        undo); returns how many were written.

        Giving a tile the label it already has is recorded too: the person confirmed it, which
        settles a suspect. With one tile selected the selection moves on to the next tile."""
        rows = self.selected_rows()
        if not rows or self._refused():
            return 0
        targets = []
        for row in rows:
            tile = self.model.tiles[row]
            targets.append(
                (
                    tile.item_id,
                    QueryContext(
                        model_version=self._run_model_version if self._mode == "suspects" else None,
                        strategy=STRATEGY[self._mode],
                        score=tile.score,
                        rank=tile.rank,
                    ),
                )
            )
        history = self.session.history
        steps = len(history.done)
        failure = self._attempt(lambda: self.session.relabel(targets, class_id))
        # The tiles written before a failure stay relabeled, and undoable (one step).
        written = len(history.done[-1].decisions) if len(history.done) > steps else 0
        if written and failure is None and len(rows) == 1 and rows[0] + 1 < self.model.rowCount():
            self.grid.setCurrentIndex(self.model.index(rows[0] + 1))
        return written

    def undo(self) -> bool:
        """Take back the latest change (made here or elsewhere) and select its tiles."""
        if self._refused() or not self.session.can_undo:
            return False
        return self._attempt(self.session.undo) is None

    def redo(self) -> bool:
        """Give the labels of the latest undone change again (new events) and select them."""
        if self._refused() or not self.session.can_redo:
            return False
        return self._attempt(self.session.redo) is None

    @property
    def session(self) -> LabelingSession:
        return self.signals.session

    @property
    def can_undo(self) -> bool:
        return self.session.can_undo

    def _attempt(self, write) -> BaseException | None:
        """Run a write; a failure goes to the window (after the session announced what it kept)."""
        try:
            write()
        except WRITE_ERRORS as exc:
            self.write_failed.emit(exc)
            return exc
        return None

    def _refused(self) -> bool:
        """A read-only project: say so instead of trying (an empty history would say nothing)."""
        if self.project.writable:
            return False
        self.write_failed.emit(ProjectError(f"{self.project.path} was opened read-only"))
        return True

    def _session_changed(self, changes: Changes) -> None:
        """Redraw the tiles and counts a change touched. While hidden the grid waits: it is
        reloaded whenever it is shown again."""
        if changes.step is None or not self.isVisible():
            return
        for decision in changes.step.decisions:
            old, new = (decision.after, decision.before) if changes.undone else (decision.before, decision.after)
            self._count(old[1] if old[0] == "labeled" else None, -1)
            self._count(new[1] if new[0] == "labeled" else None, +1)
            row = self.model.row_of(decision.item_id)
            if row is None:
                continue
            if new[0] != "labeled":
                self.model.set_now(decision.item_id, None, new[0])
            elif changes.undone and new[1] == self.model.tiles[row].label_class_id:
                self.model.set_now(decision.item_id, None)  # back to the label it was loaded with
            else:
                self.model.set_now(decision.item_id, new[1])
        self._update_class_counts()
        self._select(changes.step.item_ids)
        self.labels_changed.emit()

    def _select(self, item_ids: set[int]) -> None:
        selection = self.grid.selectionModel()
        rows = sorted(row for item_id in item_ids if (row := self.model.row_of(item_id)) is not None)
        if rows:
            selection.setCurrentIndex(self.model.index(rows[0]), selection.SelectionFlag.ClearAndSelect)
            for row in rows[1:]:
                selection.select(self.model.index(row), selection.SelectionFlag.Select)

    def _count(self, class_id: int | None, delta: int) -> None:
        if class_id is not None:
            self._counts[class_id] = self._counts.get(class_id, 0) + delta

    def _update_class_counts(self) -> None:
        for position in range(self.class_combo.count()):
            class_id = self.class_combo.itemData(position)
            label_class = self.model.classes.get(class_id)
            if label_class is not None:
                self.class_combo.setItemText(position, self._combo_text(label_class))

    def _combo_text(self, label_class: LabelClass) -> str:
        key = f"{label_class.hotkey.upper()}  " if label_class.hotkey else ""
        return f"{key}{label_class.name} ({self._counts.get(label_class.id, 0):,})"

    # -- life cycle ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop decoding thumbnails; call before closing the project."""
        self.loader.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)
