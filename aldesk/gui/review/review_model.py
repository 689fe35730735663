"""The review grid's data: one row per tile, thumbnails (or text cards) and paths read when first painted.

Model/view only: one QAbstractListModel row per item and tiles drawn on demand for the ones
being painted, so 100,000 labeled items cost a list of ids, not 100,000 widgets. The loader is
the kind's (review/tiles.py): a thumbnail loader that reads the items' files, or text cards
drawn from the project, which need no file (``needs_files``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from aldesk.core import items
from aldesk.core.classes import LabelClass
from aldesk.core.store import Project

PATH_WINDOW = 200  # tiles whose paths are read together


@dataclass
class Tile:
    item_id: int
    label_class_id: int  # the label when the grid was loaded
    now_class_id: int | None = None  # set once relabeled here
    now_status: str | None = None  # no longer labeled (a labeling key press taken back): its status
    rank: int | None = None  # suspects only
    score: float | None = None
    suggested_class_id: int | None = None
    p_given: float | None = None  # suspects: the held-out heads' probability of the label it has


class ReviewModel(QAbstractListModel):
    """Rows are tiles; the thumbnail of a row is requested when the view first paints it."""

    ItemIdRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, project: Project, loader, parent: QObject | None = None, *, needs_files: bool = True) -> None:
        super().__init__(parent)
        self.project = project
        self.loader = loader  # a ThumbnailLoader, or the cards of another kind (review/tiles.py)
        self.needs_files = needs_files
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
                if self.needs_files:
                    self.loader.request(tile.item_id, self.path_of(tile.item_id), self._sha256(tile.item_id))
                else:
                    self.loader.request(tile.item_id)
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
        if tile.now_status is not None:
            return f"now: {tile.now_status}"
        if tile.now_class_id is not None:
            return f"now: {self._name(tile.now_class_id)}"
        if tile.rank is not None:
            # The label it has and the class the other labels suggest; then how little they
            # believe the label (the reason it is listed) and its place in the ranking.
            given = self._name(tile.label_class_id)
            return f"{given} → {self._name(tile.suggested_class_id)}?\n#{tile.rank}  {given} only {self._percent(tile)}"
        return self._name(tile.label_class_id)

    def _tooltip(self, tile: Tile) -> str:
        lines = [f"item {tile.item_id}: {self.path_of(tile.item_id)}", f"label: {self._name(tile.label_class_id)}"]
        if tile.rank is not None:
            given, suggested = self._name(tile.label_class_id), self._name(tile.suggested_class_id)
            lines.append(
                f"suspect #{tile.rank}: labeled {given}, but a model trained on the other labels (never on this one) "
                f"gives {given} only {self._percent(tile)} and would say {suggested}. A wrong key press, or an item "
                "that really is ambiguous: press the right class's key, or the same key to confirm the label."
            )
        if tile.now_class_id is not None:
            lines.append(f"relabeled here: {self._name(tile.now_class_id)}")
        failure = self.loader.failure(tile.item_id)
        if failure:
            lines.append(f"cannot show the {'image' if self.needs_files else 'text'}: {failure}")
        return "\n".join(lines)

    @staticmethod
    def _percent(tile: Tile) -> str:
        p = tile.p_given if tile.p_given is not None else 1.0 - (tile.score or 0.0)
        return "<1%" if p < 0.01 else f"{p:.0%}"

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
        near = [t.item_id for t in self.tiles[max(0, row - PATH_WINDOW // 2) : row + PATH_WINDOW]] if row is not None else []
        wanted = [i for i in near if i not in self._paths] or [item_id]
        self._paths.update(items.stored_paths(self.project, wanted))

    def row_of(self, item_id: int) -> int | None:
        return self._row_of.get(item_id)

    def set_now(self, item_id: int, class_id: int | None, status: str | None = None) -> None:
        """Show what the tile's item is now: relabeled (``class_id``), back to the label it was
        loaded with (None), or no longer labeled at all (``status``)."""
        row = self._row_of.get(item_id)
        if row is None:
            return
        self.tiles[row].now_class_id = class_id
        self.tiles[row].now_status = status
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def _thumbnail_ready(self, item_id: int) -> None:
        row = self._row_of.get(item_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
