"""What the review grid needs to know about a kind of item, one class per kind.

The grid asks its ``GridTiles`` (the window picks it by the project's kind through
aldesk/gui/kinds.py; on its own the grid shows images) how big a tile is, what loads the tiles,
whether they need the items' files, and what shows one item large (Enter, Space or a double
click): for images a thumbnail and the image at screen size, for texts a card with the first
lines and the whole text on a reading card.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, QSize, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPixmap
from PySide6.QtWidgets import QDialog, QWidget

from aldesk.core import items
from aldesk.core.store import Project
from aldesk.core.thumb_cache import ThumbnailDiskCache
from aldesk.gui.labeling.image_view import ImageView
from aldesk.gui.labeling.screens import text_item_name
from aldesk.gui.labeling.text_items import NO_TEXT, card_font, render_card
from aldesk.gui.labeling.text_view import TextSize, TextView
from aldesk.gui.review.preview_dialog import PreviewDialog, image_content
from aldesk.gui.review.thumbnails import DEFAULT_CAPACITY, ThumbnailLoader, TileLookup

TEXT_CARD = QSize(224, 112)  # a text tile of the grid: about seven short lines


class GridTiles(Protocol):
    name: str
    needs_files: bool  # whether tiles are drawn from the items' files (their paths are read)

    def tile_size(self, side: int) -> QSize:
        """A tile's picture, logical pixels; ``side`` is the grid's thumbnail side."""
        ...

    def loader(self, project: Project, size: QSize, parent: QObject) -> Any:
        """The tiles' loader: ready, get, request(item_id, path, sha256), failure, placeholder, pending, shutdown."""
        ...

    def preview(self, project: Project, item_id: int, path: Path, caption: str, parent: QWidget) -> QDialog:
        """The item shown large, with ``caption`` under it."""
        ...


class ImageTiles:
    name = "image"
    needs_files = True

    def tile_size(self, side: int) -> QSize:
        return QSize(side, side)

    def loader(self, project: Project, size: QSize, parent: QObject) -> Any:
        return ThumbnailLoader(side=size.width(), parent=parent, disk_cache=ThumbnailDiskCache())

    def preview(self, project: Project, item_id: int, path: Path, caption: str, parent: QWidget) -> QDialog:
        view = ImageView()
        side = int(max(parent.screen().availableGeometry().size().toTuple()) * parent.devicePixelRatioF())
        view.set_image(*image_content(path, side))
        return PreviewDialog(view, path.name, f"{caption}\n{path}", parent)


class TextTiles:
    name = "text"
    needs_files = False

    def __init__(self, text_size: TextSize | None = None) -> None:
        self._text_size = text_size  # shared with the labeling screen's text view (gui/kinds.py)

    def tile_size(self, side: int) -> QSize:
        return QSize(TEXT_CARD)

    def loader(self, project: Project, size: QSize, parent: QObject) -> Any:
        return TextTileLoader(project, size, parent=parent)

    def preview(self, project: Project, item_id: int, path: Path, caption: str, parent: QWidget) -> QDialog:
        if self._text_size is None:
            self._text_size = TextSize()
        view = TextView(size=self._text_size)
        text = items.item_text(project, item_id)
        view.show_content(text, f"Cannot show this text: {NO_TEXT}.")
        name = text_item_name(path)
        dialog = PreviewDialog(view, name, f"{caption}\n{name}", parent)
        # As wide as the reading column and as tall as the text (the view's hint), within the
        # 80% of the screen the dialog takes for an image.
        hint = view.sizeHint()
        extra = dialog.sizeHint().height() - view.sizeHint().height()  # the caption and margins
        dialog.resize(min(dialog.width(), hint.width() + 12), min(dialog.height(), hint.height() + max(extra, 0) + 12))
        return dialog


class TextTileLoader(TileLookup, QObject):
    """Cards of texts for the grid, drawn in the GUI thread from texts read in one query per
    screenful (the tiles asked for within one paint are read together)."""

    ready = Signal(int)

    def __init__(
        self, project: Project, size: QSize = TEXT_CARD, capacity: int = DEFAULT_CAPACITY, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.size = size
        self.side = size.width()
        self.capacity = capacity
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._failed: dict[int, str] = {}
        self._waiting: dict[int, None] = {}
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._draw_waiting)
        self.placeholder = _blank_card(size, QColor(128, 128, 128, 40))
        self.failed_mark = _blank_card(size, QColor(225, 87, 89, 60))  # a text missing from the project

    def request(self, item_id: int, path: Path | None = None, sha256: str | None = None) -> None:
        """Draw ``item_id``'s card soon (texts live in the project: ``path`` is not read)."""
        if self._closed or item_id in self._cache or item_id in self._failed:
            return
        self._waiting[item_id] = None
        self._timer.start()

    @property
    def pending(self) -> int:
        return len(self._waiting)

    def shutdown(self) -> None:
        self._closed = True
        self._waiting.clear()
        self._timer.stop()

    def __len__(self) -> int:
        return len(self._cache)

    def _draw_waiting(self) -> None:
        if self._closed:
            return
        wanted, self._waiting = list(self._waiting), {}
        texts = items.texts_of(self.project, wanted)
        palette = QGuiApplication.palette()
        font = card_font(max(QGuiApplication.font().pointSizeF(), 8.0))
        ratio = QGuiApplication.primaryScreen().devicePixelRatio() if QGuiApplication.primaryScreen() else 1.0
        for item_id in wanted:
            text = texts.get(item_id)
            if text is None:
                self._failed[item_id] = NO_TEXT
            else:
                self._cache[item_id] = QPixmap.fromImage(render_card(text, self.size, ratio, palette, font))
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
            self.ready.emit(item_id)


def _blank_card(size: QSize, colour: QColor) -> QPixmap:
    pixmap = QPixmap(size)
    pixmap.fill(colour)
    return pixmap
