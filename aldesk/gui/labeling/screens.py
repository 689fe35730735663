"""What the labeling screen needs to know about a kind of item, one class per kind.

The labeling view, the presenter and the strips ask an ``ItemScreen`` (the window picks it by the
project's kind through aldesk/gui/kinds.py) which widget shows an item, how the item on screen
and the next ones are loaded, how a strip tile draws one, and what the zoom commands mean:

- images: an ``ImageView``; decoded ahead in threads at screen size (``ImagePrefetcher``);
  strip tiles are thumbnails decoded the same way; zoom is zoom.
- texts: a ``TextView``; read from the project (``TextLoader``, one query); strip tiles are
  cards with the first lines; zoom is the text size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, QSettings, QSize, SignalInstance
from PySide6.QtWidgets import QWidget

from aldesk.core import items
from aldesk.core.store import Project
from aldesk.gui.labeling.image_view import ImageView
from aldesk.gui.labeling.prefetch import ImagePrefetcher
from aldesk.gui.labeling.text_items import TextCardLoader, TextLoader
from aldesk.gui.labeling.text_view import TextSize, TextView

THUMB = 56  # logical side of an image tile in the strips
TEXT_TILE = QSize(132, THUMB)  # a text card in the strips: wider than tall, a few short lines
TABLE_ROW = re.compile(r"^(?P<table>.+)#(?P<line>\d+)$")  # how the importer stores one row of a table


class Loader(Protocol):
    """The prefetcher's interface: what the presenter asks of the loaders of any kind."""

    ready: SignalInstance  # item id now available
    failed: SignalInstance  # item id, reason

    def request(self, item_ids: Sequence[int]) -> None: ...
    def get(self, item_id: int) -> Any: ...
    def shutdown(self) -> None: ...
    def deleteLater(self) -> None: ...  # noqa: N802 - Qt's name


class ItemScreen(Protocol):
    name: str  # the kind's name (aldesk/core/kinds)
    strip_tile: QSize  # a tile of the Next and Recently labeled strips, logical pixels
    zoom_texts: dict[str, str]  # menu texts for the zoom commands where they mean something else

    def make_view(self, parent: QWidget) -> QWidget:
        """The widget that shows one item: show_content(content, message), zoom_in/zoom_out/fit, painted."""
        ...

    def screen_loader(self, project: Project, side: int, parent: QObject) -> Loader:
        """Loads the item on screen and the next few; ``side``: the screen's long side in device pixels."""
        ...

    def strip_loader(self, project: Project, ratio: float, parent: QObject) -> Loader:
        """Loads the strips' tiles (``get`` gives a QImage); ``ratio``: device pixels per logical one."""
        ...

    def item_name(self, project: Project, item_id: int) -> str:
        """How the title names the item."""
        ...


def _resolve(project: Project, item_id: int) -> Path:
    return items.item_path(project, item_id) or Path("/nonexistent")


class ImageScreen:
    name = "image"
    strip_tile = QSize(THUMB, THUMB)
    zoom_texts: dict[str, str] = {}  # the commands' own texts

    def make_view(self, parent: QWidget) -> QWidget:
        return ImageView(parent)

    def screen_loader(self, project: Project, side: int, parent: QObject) -> Loader:
        return ImagePrefetcher(partial(_resolve, project), side, parent=parent)

    def strip_loader(self, project: Project, ratio: float, parent: QObject) -> Loader:
        # Decoded at least at 96 px: sharp strips on high-DPI screens, cheap on any.
        return ImagePrefetcher(partial(_resolve, project), max(96, round(THUMB * ratio)), workers=1, parent=parent)

    def item_name(self, project: Project, item_id: int) -> str:
        return _resolve(project, item_id).name


class TextScreen:
    name = "text"
    strip_tile = TEXT_TILE
    zoom_texts = {"zoom_in": "&Larger text", "zoom_out": "&Smaller text", "zoom_fit": "&Normal text size"}

    def __init__(self, settings: QSettings | None = None) -> None:
        self._settings = settings
        self._size: TextSize | None = None

    @property
    def text_size(self) -> TextSize:
        """One size for every text view of the window, remembered in its settings."""
        if self._size is None:
            self._size = TextSize(self._settings)
        return self._size

    def make_view(self, parent: QWidget) -> QWidget:
        return TextView(parent, self.text_size)

    def screen_loader(self, project: Project, side: int, parent: QObject) -> Loader:
        return TextLoader(project, parent=parent)

    def strip_loader(self, project: Project, ratio: float, parent: QObject) -> Loader:
        return TextCardLoader(project, self.strip_tile, ratio, parent=parent)

    def item_name(self, project: Project, item_id: int) -> str:
        return text_item_name(_resolve(project, item_id))


def text_item_name(path: Path) -> str:
    """A text's source as a person says it: "tickets.csv, line 12" for a row, else the file's name."""
    row = TABLE_ROW.match(path.name)
    return f"{row['table']}, line {row['line']}" if row else path.name
