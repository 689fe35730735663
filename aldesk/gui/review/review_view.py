"""Review: labeled items as a thumbnail grid, one class at a time or the suspects ranking.

The person looks over a class (or the items the model doubts most), selects one or more tiles
with the arrows or the mouse, and presses a class hotkey to relabel them, the same keys as in
the labeling view; Ctrl+Z undoes the last relabeling, Ctrl+Shift+Z redoes it. Every relabeling is a label event
(aldesk/core/labels.py) committed at once, with strategy "review" or "suspects" saying where it
was made. A relabeled tile stays in place with its new class shown until the grid is reloaded,
so the person sees what they did and undo has something to point at.

Model/view only: one QAbstractListModel row per item and thumbnails decoded on demand for the
tiles being painted, so 100,000 labeled items cost a list of ids, not 100,000 widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel, QEvent, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, Signal,
)
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListView, QVBoxLayout, QWidget

from aldesk.core import items, labels
from aldesk.core.classes import LabelClass, list_classes
from aldesk.core.errors import AldeskError, ProjectError
from aldesk.core.labels import QueryContext
from aldesk.core.store import Project
from aldesk.core.suspects_store import latest_run, load_suspects
from aldesk.core.thumb_cache import ThumbnailDiskCache
from aldesk.gui.review.thumbnails import DEFAULT_SIDE, ThumbnailLoader
from aldesk.gui.write_guard import WRITE_ERRORS

MODES = ("class", "suspects")
STRATEGY = {"class": "review", "suspects": "suspects"}  # recorded with each relabeling
DEFAULT_UNDO_KEYS = ("Ctrl+Z",)
DEFAULT_REDO_KEYS = ("Ctrl+Shift+Z",)
PATH_WINDOW = 200  # tiles whose paths are read together


@dataclass
class Tile:
    item_id: int
    label_class_id: int  # the label when the grid was loaded
    now_class_id: int | None = None  # set once relabeled here
    rank: int | None = None  # suspects only
    score: float | None = None
    suggested_class_id: int | None = None


class ReviewModel(QAbstractListModel):
    """Rows are tiles; the thumbnail of a row is requested when the view first paints it."""

    ItemIdRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, project: Project, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.loader = loader
        self.tiles: list[Tile] = []
        self._row_of: dict[int, int] = {}
        self._paths: dict[int, tuple[str, str]] = {}  # item id -> (stored path, sha256), read on first paint
        self.classes: dict[int, LabelClass] = {}
        loader.ready.connect(self._thumbnail_ready)

    def set_tiles(self, tiles: list[Tile], classes: list[LabelClass]) -> None:
        self.beginResetModel()
        self.tiles = tiles
        self.classes = {c.id: c for c in classes}
        self._row_of = {tile.item_id: row for row, tile in enumerate(tiles)}
        self._paths = {}
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.tiles)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.tiles):
            return None
        tile = self.tiles[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self.loader.get(tile.item_id)
            if pixmap is None:
                self.loader.request(tile.item_id, self.path_of(tile.item_id), self._sha256(tile.item_id))
                return self.loader.placeholder
            return pixmap
        if role == Qt.ItemDataRole.DisplayRole:
            return self.caption(tile)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(tile)
        if role == Qt.ItemDataRole.ForegroundRole and tile.now_class_id is not None:
            return QColor(self.classes[tile.now_class_id].colour) if tile.now_class_id in self.classes else None
        if role == self.ItemIdRole:
            return tile.item_id
        return None

    def caption(self, tile: Tile) -> str:
        if tile.now_class_id is not None:
            return f"now: {self._name(tile.now_class_id)}"
        if tile.rank is not None:
            # The label it has, the class the other labels suggest; then its place in the ranking.
            return (f"{self._name(tile.label_class_id)} → {self._name(tile.suggested_class_id)}\n"
                    f"#{tile.rank}  doubt {tile.score:.2f}")
        return self._name(tile.label_class_id)

    def _tooltip(self, tile: Tile) -> str:
        lines = [f"item {tile.item_id}: {self.path_of(tile.item_id)}", f"label: {self._name(tile.label_class_id)}"]
        if tile.rank is not None:
            lines.append(f"suspect #{tile.rank}: the other labels suggest {self._name(tile.suggested_class_id)}"
                         f" (score {tile.score:.3f})")
        if tile.now_class_id is not None:
            lines.append(f"relabeled here: {self._name(tile.now_class_id)}")
        failure = self.loader.failure(tile.item_id)
        if failure:
            lines.append(f"cannot show the image: {failure}")
        return "\n".join(lines)

    def _name(self, class_id: int | None) -> str:
        label_class = self.classes.get(class_id) if class_id is not None else None
        return label_class.name if label_class else "?"

    def path_of(self, item_id: int) -> Path:
        return self.project.resolve(self._stored(item_id)[0])

    def _sha256(self, item_id: int) -> str | None:
        return self._stored(item_id)[1] or None

    def _stored(self, item_id: int) -> tuple[str, str]:
        stored = self._paths.get(item_id)
        if stored is None:
            self._read_paths_around(item_id)
            stored = self._paths.setdefault(item_id, ("", ""))
        return stored

    def _read_paths_around(self, item_id: int) -> None:
        """One query for the tiles around this one (a screenful is painted at once): a query
        per tile cost ~3.5 ms per Page Down (benchmarks/bench_review_grid.py)."""
        row = self._row_of.get(item_id)
        near = [t.item_id for t in self.tiles[max(0, row - PATH_WINDOW // 2):row + PATH_WINDOW]] if row is not None else []
        wanted = [i for i in near if i not in self._paths] or [item_id]
        self._paths.update(items.stored_paths(self.project, wanted))

    def row_of(self, item_id: int) -> int | None:
        return self._row_of.get(item_id)

    def set_now(self, item_id: int, class_id: int | None) -> None:
        row = self._row_of.get(item_id)
        if row is None:
            return
        self.tiles[row].now_class_id = class_id
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def _thumbnail_ready(self, item_id: int) -> None:
        row = self._row_of.get(item_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


@dataclass(frozen=True)
class _Change:
    item_id: int
    event_id: int
    before_class_id: int | None  # what the tile showed as "now" before (None: its loaded label)
    class_id: int  # the label given (redo gives it again)
    context: QueryContext


class ReviewView(QWidget):
    """The review grid. ``mode`` is "class" (the labeled items of the chosen class) or
    "suspects" (the latest stored suspects ranking)."""

    labels_changed = Signal()  # after a relabeling or its undo: counts and training are stale
    item_activated = Signal(int)  # Enter or double click on a tile: open it large
    # A key whose write failed or was refused (read-only project): the exception, for the window
    # to show. The tiles and the undo and redo stacks keep only what was written.
    write_failed = Signal(object)

    def __init__(self, project: Project, parent: QWidget | None = None, *,
                 undo_keys: tuple[str, ...] = DEFAULT_UNDO_KEYS, redo_keys: tuple[str, ...] = DEFAULT_REDO_KEYS,
                 thumb_side: int = DEFAULT_SIDE) -> None:
        super().__init__(parent)
        self.project = project
        self._mode = "class"
        self._class_id: int | None = None
        self._undo: list[list[_Change]] = []
        self._redo: list[list[_Change]] = []  # relabelings undone, newest last; a new one clears it
        self._run_model_version: int | None = None  # the model of the suspects ranking shown
        self._counts: dict[int, int] = {}  # labeled items per class
        self._undo_keys = {QKeySequence(k).toString(QKeySequence.SequenceFormat.PortableText) for k in undo_keys}
        self._redo_keys = {QKeySequence(k).toString(QKeySequence.SequenceFormat.PortableText) for k in redo_keys}
        self.loader = ThumbnailLoader(side=thumb_side, parent=self, disk_cache=ThumbnailDiskCache())
        self.model = ReviewModel(project, self.loader, self)

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
        self.grid.setIconSize(QSize(thumb_side, thumb_side))
        # Room for two caption lines (a suspect's label and suggestion, then rank and score).
        self.grid.setGridSize(QSize(thumb_side + 24, thumb_side + 2 * self.fontMetrics().height() + 16))
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
        self._undo, self._redo = [], []
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
        tiles = [Tile(s.item_id, s.given_class_id, rank=s.rank, score=s.score, suggested_class_id=s.suggested_class_id)
                 for s in load_suspects(self.project, run.id)]
        self._run_model_version = run.model_version
        return tiles, (f"{len(tiles):,} suspects still to review, most doubtful first"
                       f" (ranked on {run.n_labels:,} labels)")

    def _fill_combos(self, classes: list[LabelClass]) -> None:
        self.mode_combo.setCurrentIndex(MODES.index(self._mode))
        self.class_combo.clear()
        for label_class in classes:
            self.class_combo.addItem(self._combo_text(label_class), label_class.id)
        if self._class_id is not None:
            self.class_combo.setCurrentIndex(max(0, self.class_combo.findData(self._class_id)))
        self.class_combo.setEnabled(self._mode == "class")

    def show_large(self, item_id: int) -> None:
        """The item's image at screen size in a dialog (Esc closes it; the selection stays)."""
        from aldesk.gui.review.preview_dialog import PreviewDialog

        row = self.model.row_of(item_id)
        if row is None:
            return
        tile = self.model.tiles[row]
        caption = self.model.caption(tile).replace("\n", "   ")
        if self.preview is not None:
            self.preview.close()
        self.preview = PreviewDialog(self.model.path_of(item_id), f"item {item_id}: {caption}", self)
        self.preview.finished.connect(self.grid.setFocus)
        self.preview.open()

    # -- keys ----------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # The window's actions use the same keys (class hotkeys, Ctrl+Z) window-wide. Accepting
        # the ShortcutOverride makes Qt deliver them to the grid as key presses instead, so
        # inside the review grid they act on the selected tiles.
        if watched in (self.grid, self.mode_combo, self.class_combo) and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
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
            if label_class.hotkey and QKeySequence(label_class.hotkey).toString(
                    QKeySequence.SequenceFormat.PortableText) == pressed:
                return lambda cid=label_class.id: self.relabel_selected(cid)
        return None

    # -- relabeling ----------------------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        rows = sorted(index.row() for index in self.grid.selectionModel().selectedIndexes())
        if not rows and self.grid.currentIndex().isValid():
            rows = [self.grid.currentIndex().row()]
        return rows

    def relabel_selected(self, class_id: int) -> int:
        """Label the selected tiles with ``class_id`` (one event each, committed); returns how many.

        Giving a tile the label it already has is recorded too: the person confirmed it, which
        settles a suspect. With one tile selected the selection moves on to the next tile."""
        rows = self.selected_rows()
        if not rows or self._refused():
            return 0
        changes, failure = [], None
        try:
            for row in rows:
                tile = self.model.tiles[row]
                context = QueryContext(
                    model_version=self._run_model_version if self._mode == "suspects" else None,
                    strategy=STRATEGY[self._mode], score=tile.score, rank=tile.rank,
                )
                changes.append(self._give(tile, class_id, context))
        except WRITE_ERRORS as exc:
            failure = exc  # the tiles written before it stay relabeled, and undoable
        if changes:
            self._undo.append(changes)
            self._redo = []
            if failure is None and len(rows) == 1 and rows[0] + 1 < self.model.rowCount():
                self.grid.setCurrentIndex(self.model.index(rows[0] + 1))
        self._changed(bool(changes), failure)
        return len(changes)

    def _give(self, tile: Tile, class_id: int, context: QueryContext) -> _Change:
        """Record one label event for a tile (committed) and show it; the change, for undo."""
        event_id = labels.record(self.project, tile.item_id, "label", class_id, context=context)
        change = _Change(tile.item_id, event_id, tile.now_class_id, class_id, context)
        self._count(tile.now_class_id or tile.label_class_id, -1)
        self._count(class_id, +1)
        self.model.set_now(tile.item_id, class_id)
        return change

    def undo(self) -> bool:
        """Revert the latest relabeling made in this grid and select its tiles again."""
        if self._refused() or not self._undo:
            return False
        changes, done, failure = self._undo[-1], 0, None
        try:
            for change in reversed(changes):
                labels.undo(self.project, change.event_id)
                tile = self.model.tiles[self.model.row_of(change.item_id)]
                self._count(tile.now_class_id, -1)
                self._count(change.before_class_id or tile.label_class_id, +1)
                self.model.set_now(change.item_id, change.before_class_id)
                done += 1
        except WRITE_ERRORS as exc:
            failure = exc
        if done:  # what was undone moves to the redo stack; the rest stays undoable
            kept = len(changes) - done
            self._undo[-1:] = [changes[:kept]] if kept else []
            self._redo.append(changes[kept:])
            self._select(changes[kept:])
        self._changed(bool(done), failure)
        return failure is None

    def redo(self) -> bool:
        """Give the labels of the latest undone relabeling again (new events) and select them."""
        if self._refused() or not self._redo:
            return False
        undone, given, failure = self._redo[-1], [], None
        try:
            for change in undone:
                given.append(self._give(self.model.tiles[self.model.row_of(change.item_id)],
                                        change.class_id, change.context))
        except WRITE_ERRORS as exc:
            failure = exc
        if given:
            self._redo[-1:] = [undone[len(given):]] if len(given) < len(undone) else []
            self._undo.append(given)
            self._select(given)
        self._changed(bool(given), failure)
        return failure is None

    def _refused(self) -> bool:
        """A read-only project: say so instead of trying (an empty undo stack would say nothing)."""
        if self.project.writable:
            return False
        self.write_failed.emit(ProjectError(f"{self.project.path} was opened read-only"))
        return True

    def _changed(self, written: bool, failure: BaseException | None) -> None:
        if written:
            self._update_class_counts()
            self.labels_changed.emit()
        if failure is not None:  # after labels_changed: the window then shows it, not a success
            self.write_failed.emit(failure)

    def _select(self, changes: list[_Change]) -> None:
        selection = self.grid.selectionModel()
        rows = [row for change in changes if (row := self.model.row_of(change.item_id)) is not None]
        if rows:
            selection.setCurrentIndex(self.model.index(rows[0]), selection.SelectionFlag.ClearAndSelect)
            for row in rows[1:]:
                selection.select(self.model.index(row), selection.SelectionFlag.Select)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

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
