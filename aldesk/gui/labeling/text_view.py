"""The text of the labeling screen, made for reading: one text, read-only, on a card.

A comfortable reading column: the system's UI font at about 14.5 pt, lines 1.4 high, at most
about 75 characters wide and centred, with margins; the card is the palette's Base colour on
the window's, so it reads as "the item" in light and dark themes. Long texts scroll with the
arrows, Page Up/Down, Home and End (window shortcuts while the view is shown; Space skips and
letters and digits label, so neither is taken), or the wheel. The text size (Ctrl++, Ctrl+-,
Ctrl+0 through the window's zoom commands, or Ctrl+wheel) is one ``TextSize`` shared by every
text view of the window and kept in the window's QSettings across sessions.

Like the image view it never takes the focus, so the labeling keys always reach the window.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QSettings, QSize, Qt, Signal
from PySide6.QtGui import (
    QFont,
    QFontDatabase,
    QFontMetricsF,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QPaintEvent,
    QShortcut,
    QTextBlockFormat,
    QTextCursor,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractSlider, QFrame, QHBoxLayout, QLabel, QStackedWidget, QTextEdit, QWidget

from aldesk.gui.theme import card_edge

DEFAULT_POINTS = 14.5
MIN_POINTS, MAX_POINTS = 8.0, 40.0
STEP = 1.1  # one Ctrl++ is 10% larger
LINE_HEIGHT = 140  # percent of the font's line spacing
READING_CHARS = 75  # the reading column's width in average characters
PADDING = 22  # inside the card, around the text
SETTINGS_KEY = "text_view/point_size"
CARD_STYLE = "#textCard {{ background: palette(base); color: palette(text); border: 1px solid {edge}; border-radius: 6px; }}"
# Scrolling keys: none is a labeling key (digits, letters), skip (Space) or a default command key.
SCROLL_WORDS = {  # what each scrolling key does, for Help → Keyboard shortcuts
    "Down": "Scroll the text down a line",
    "Up": "Scroll the text up a line",
    "PgDown": "Scroll the text down a page",
    "PgUp": "Scroll the text up a page",
    "Home": "Go to the text's start",
    "End": "Go to the text's end",
}
SCROLL_KEYS = {
    "Down": QAbstractSlider.SliderAction.SliderSingleStepAdd,
    "Up": QAbstractSlider.SliderAction.SliderSingleStepSub,
    "PgDown": QAbstractSlider.SliderAction.SliderPageStepAdd,
    "PgUp": QAbstractSlider.SliderAction.SliderPageStepSub,
    "Home": QAbstractSlider.SliderAction.SliderToMinimum,
    "End": QAbstractSlider.SliderAction.SliderToMaximum,
}


class TextSize(QObject):
    """The point size texts are read at; remembered in ``settings`` when given."""

    changed = Signal(float)

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        stored = settings.value(SETTINGS_KEY) if settings is not None else None
        try:
            points = float(stored) if stored is not None else DEFAULT_POINTS
        except (TypeError, ValueError):
            points = DEFAULT_POINTS  # a hand-edited settings file: the default, not a crash
        self._points = min(max(points, MIN_POINTS), MAX_POINTS)

    @property
    def points(self) -> float:
        return self._points

    def set_points(self, points: float) -> None:
        points = round(min(max(points, MIN_POINTS), MAX_POINTS), 1)
        if points == self._points:
            return
        self._points = points
        if self._settings is not None:
            self._settings.setValue(SETTINGS_KEY, points)
        self.changed.emit(points)

    def bigger(self) -> None:
        self.set_points(self._points * STEP)

    def smaller(self) -> None:
        self.set_points(self._points / STEP)

    def reset(self) -> None:
        self.set_points(DEFAULT_POINTS)


def reading_font(points: float) -> QFont:
    """The system's UI font at ``points``."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont)
    font.setPointSizeF(points)
    return font


class _Reader(QTextEdit):
    """The card: a read-only text that never takes the focus or a key."""

    painted = Signal()
    wheel_zoom = Signal(int)  # +1 / -1: Ctrl+wheel asks for a larger or smaller text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setAcceptRichText(False)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.viewport().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.document().setDocumentMargin(PADDING)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        self.painted.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y()
            if steps:
                self.wheel_zoom.emit(1 if steps > 0 else -1)
            event.accept()  # QTextEdit would zoom its own font, which nothing remembers
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        event.ignore()  # should focus ever land here, the key goes on to the window's actions

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        event.ignore()


class TextView(QWidget):
    """Shows one text on a centred reading card, or a message when there is none."""

    painted = Signal()

    def __init__(self, parent: QWidget | None = None, size: TextSize | None = None) -> None:
        super().__init__(parent)
        self.text_size = size or TextSize(parent=self)
        self.reader = _Reader(self)
        self.reader.setObjectName("textCard")
        self.reader.painted.connect(self.painted)
        self.reader.wheel_zoom.connect(lambda step: self.zoom_in() if step > 0 else self.zoom_out())
        self._message = QLabel(self)
        self._message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message.setWordWrap(True)
        self._message.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._message.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._pages = QStackedWidget(self)
        self._pages.addWidget(self.reader)
        self._pages.addWidget(self._message)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 10, 16, 10)
        row.addStretch(1)
        row.addWidget(self._pages, 100)
        row.addStretch(1)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._shortcuts: dict[str, QShortcut] = {}
        for key, action in SCROLL_KEYS.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)  # only while this view is shown
            shortcut.activated.connect(lambda a=action: self.reader.verticalScrollBar().triggerAction(a))
            self._shortcuts[key] = shortcut
        self.text_size.changed.connect(self._apply_size)
        self._style()
        self._apply_size(self.text_size.points)
        self.show_content(None, "")

    # -- public API ------------------------------------------------------------------------

    def show_content(self, text: str | None, message: str = "") -> None:
        """Show ``text`` from its start, or ``message`` when ``text`` is None."""
        if text is None:
            self._message.setText(message)
            self._pages.setCurrentWidget(self._message)
            self.reader.clear()
            return
        if self._pages.currentWidget() is self.reader and text == self._shown_text():
            return  # the same text again (a repeated ready signal): keep where the person reads
        self.reader.setPlainText(text)
        self._format_lines()
        self.reader.verticalScrollBar().setValue(0)
        self._message.clear()
        self._pages.setCurrentWidget(self.reader)

    def zoom_in(self) -> None:
        self.text_size.bigger()

    def zoom_out(self) -> None:
        self.text_size.smaller()

    def fit(self) -> None:
        self.text_size.reset()

    def set_taken_keys(self, keys: set[str]) -> None:
        """Keys the window's commands use now (portable text): a scrolling key gives way to a
        command the person bound to it, instead of making that key do nothing (ambiguous)."""
        for key, shortcut in self._shortcuts.items():
            shortcut.setEnabled(QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText) not in keys)

    def reading_keys(self) -> dict[str, str]:
        """The scrolling keys in effect (key -> what it does): those no command took."""
        return {key: SCROLL_WORDS[key] for key, shortcut in self._shortcuts.items() if shortcut.isEnabled()}

    @property
    def text(self) -> str:
        """The text shown ("" while a message is shown)."""
        return self._shown_text() if self._pages.currentWidget() is self.reader else ""

    @property
    def message(self) -> str:
        return self._message.text() if self._pages.currentWidget() is self._message else ""

    @property
    def scroll_bar(self):
        return self.reader.verticalScrollBar()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """The reading column and its margins, as tall as the text laid out in it (a short text
        asks for a short view; a long one for more than any screen has)."""
        margins = self.layout().contentsMargins()
        width = self._pages.maximumWidth()
        document = self.reader.document().clone(self)
        document.setDocumentMargin(PADDING)  # not copied by clone()
        document.setTextWidth(width - self.reader.verticalScrollBar().sizeHint().width() - 2)
        height = math.ceil(document.size().height()) + 2
        document.deleteLater()
        return QSize(width + margins.left() + margins.right(), max(height, 120) + margins.top() + margins.bottom())

    def point_size(self) -> float:
        return self.reader.document().defaultFont().pointSizeF()

    # -- internals -------------------------------------------------------------------------

    def _shown_text(self) -> str:
        return self.reader.toPlainText()

    def _apply_size(self, points: float) -> None:
        font = reading_font(points)
        self.reader.setFont(font)  # the document's default font follows the widget's
        message_font = QFont(font)
        message_font.setPointSizeF(max(points * 0.85, MIN_POINTS))
        self._message.setFont(message_font)
        width = QFontMetricsF(font).averageCharWidth() * READING_CHARS + 2 * PADDING
        width += self.reader.verticalScrollBar().sizeHint().width() + 2
        self._pages.setMaximumWidth(round(width))
        self._format_lines()

    def _format_lines(self) -> None:
        block = QTextBlockFormat()
        block.setLineHeight(LINE_HEIGHT, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
        cursor = QTextCursor(self.reader.document())
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.mergeBlockFormat(block)

    def _style(self) -> None:
        # From the palette, so the card follows the theme. palette() in a style sheet is read
        # when it is set, so it is set again (cleared first) when the palette changes.
        self.reader.setStyleSheet("")
        self.reader.setStyleSheet(CARD_STYLE.format(edge=card_edge(self.palette()).name()))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._style()  # the system switched between light and dark
        super().changeEvent(event)
