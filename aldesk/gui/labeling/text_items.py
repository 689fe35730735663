"""Loading texts for the screen, and drawing one text as a small card for strips and grids.

Texts live in the project (aldesk/core/items.py reads them), so loading one is a short indexed
query on the GUI thread: no threads, no files, nothing that can go missing on disk. The loaders
keep the prefetcher's interface (``request``, ``get``, ``ready``, ``failed``, ``shutdown``) so
the presenter treats both kinds alike; ``get`` never waits for anything but that one query.

A card is the first lines of a text (its whitespace folded, the last line elided) on the
palette's Base colour with a thin border: what a thumbnail is for an image.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QGuiApplication, QImage, QPainter, QPalette, QPen, QTextLayout, QTextOption

from aldesk.core import items
from aldesk.core.store import Project
from aldesk.gui.theme import card_edge

NO_TEXT = "no text is stored in the project for this item"
CARD_CHARS = 1_200  # a card shows a few lines: only the start of a long text is laid out
CARD_RADIUS = 4.0
CARD_PADDING = (7.0, 5.0)  # horizontal, vertical, in logical pixels


def card_lines(text: str, font: QFont, width: float, max_lines: int) -> list[str]:
    """The first ``max_lines`` lines of ``text`` wrapped at ``width`` pixels, whitespace folded;
    the last line ends in an ellipsis when the text goes on."""
    flat = " ".join(text[:CARD_CHARS].split())
    if not flat or max_lines < 1 or width < 1:
        return []
    layout = QTextLayout(flat, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    spans: list[tuple[int, int]] = []
    layout.beginLayout()
    while len(spans) < max_lines:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        spans.append((line.textStart(), line.textLength()))
    layout.endLayout()
    lines = [flat[start : start + length].strip() for start, length in spans]
    last_start, last_length = spans[-1]
    if last_start + last_length < len(flat) or len(text) > CARD_CHARS:
        metrics = QFontMetricsF(font)
        lines[-1] = metrics.elidedText(flat[last_start:] + " …", Qt.TextElideMode.ElideRight, width)
    return lines


def card_font(points: float) -> QFont:
    font = QFont(QGuiApplication.font())
    font.setPointSizeF(points)
    return font


def render_card(text: str, size: QSize, ratio: float, palette: QPalette, font: QFont) -> QImage:
    """``text`` as a card of ``size`` logical pixels, sharp at ``ratio`` device pixels each."""
    width, height = size.width(), size.height()
    image = QImage(max(1, round(width * ratio)), max(1, round(height * ratio)), QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(ratio)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    card = QRectF(0.5, 0.5, width - 1, height - 1)
    painter.setPen(QPen(card_edge(palette), 1))
    painter.setBrush(palette.color(QPalette.ColorRole.Base))
    painter.drawRoundedRect(card, CARD_RADIUS, CARD_RADIUS)
    inner = card.adjusted(CARD_PADDING[0], CARD_PADDING[1], -CARD_PADDING[0], -CARD_PADDING[1])
    metrics = QFontMetricsF(font)
    step = metrics.lineSpacing()
    painter.setFont(font)
    painter.setPen(palette.color(QPalette.ColorRole.Text))
    y = inner.top() + metrics.ascent()
    for line in card_lines(text, font, inner.width(), max(1, math.floor(inner.height() / step))):
        painter.drawText(QPointF(inner.left(), y), line)
        y += step
    painter.end()
    return image


class _TextCache(QObject):
    """Texts of a project by item id, a bounded LRU, read in one query per request."""

    ready = Signal(int)
    failed = Signal(int, str)

    def __init__(self, project: Project, capacity: int = 64, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.capacity = capacity
        self._texts: OrderedDict[int, str] = OrderedDict()
        self._closed = False

    def request(self, item_ids: Sequence[int]) -> None:
        if self._closed:
            return
        wanted = list(dict.fromkeys(int(i) for i in item_ids))[: self.capacity]
        missing = [i for i in wanted if i not in self._texts]
        found = items.texts_of(self.project, missing) if missing else {}
        for item_id in wanted:
            if item_id in found:
                self._keep(item_id, found[item_id])
            elif item_id in self._texts:
                self._texts.move_to_end(item_id)
            else:
                self._fail_later(item_id)

    def text(self, item_id: int) -> str | None:
        if self._closed:
            return None
        text = self._texts.get(item_id)
        if text is not None:
            self._texts.move_to_end(item_id)
            return text
        text = items.item_text(self.project, item_id)
        if text is None:
            self._fail_later(item_id)
            return None
        self._keep(item_id, text)
        return text

    def shutdown(self) -> None:
        self._closed = True
        self._texts.clear()

    def _keep(self, item_id: int, text: str) -> None:
        self._texts[item_id] = text
        self._texts.move_to_end(item_id)
        while len(self._texts) > self.capacity:
            self._texts.popitem(last=False)

    def _fail_later(self, item_id: int) -> None:
        # Queued, like a decode failure: a slot never runs inside request() or get().
        QTimer.singleShot(0, self, lambda: None if self._closed else self.failed.emit(item_id, NO_TEXT))

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._texts


class TextLoader(_TextCache):
    """The screen's loader for texts: ``get`` is the text itself."""

    def get(self, item_id: int) -> str | None:
        return self.text(item_id)


class TextCardLoader(_TextCache):
    """The strips' loader for texts: ``get`` is the text's card (a QImage of ``tile``)."""

    def __init__(self, project: Project, tile: QSize, ratio: float, points: float = 8.0, parent: QObject | None = None) -> None:
        super().__init__(project, parent=parent)
        self.tile, self.ratio, self.points = tile, ratio, points
        self._cards: OrderedDict[int, QImage] = OrderedDict()
        self._palette_key = -1

    def get(self, item_id: int) -> QImage | None:
        palette = QGuiApplication.palette()
        if palette.cacheKey() != self._palette_key:  # the theme changed: cards are drawn again
            self._palette_key = palette.cacheKey()
            self._cards.clear()
        card = self._cards.get(item_id)
        if card is not None:
            self._cards.move_to_end(item_id)
            return card
        text = self.text(item_id)
        if text is None:
            return None
        card = render_card(text, self.tile, self.ratio, palette, card_font(self.points))
        self._cards[item_id] = card
        while len(self._cards) > self.capacity:
            self._cards.popitem(last=False)
        return card

    def shutdown(self) -> None:
        super().shutdown()
        self._cards.clear()
