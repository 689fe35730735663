"""The labeling view: the item, the model's guess, one button per class, and the strips of
next and recently labeled items. It only displays; the window's actions do the labeling.

Which widget shows the item and how big a strip tile is are the kind's to say
(aldesk/gui/labeling/screens.py): an image view with thumbnails, or a text view with cards."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from aldesk.core.classes import LabelClass
from aldesk.gui.labeling.image_view import ImageView
from aldesk.gui.labeling.screens import THUMB, ItemScreen

__all__ = ["THUMB", "ClassButton", "ElidedLabel", "LabelingView", "ThumbnailStrip"]
ICON_CACHE = 64  # scaled thumbnails kept per strip (it shows 8)


class ElidedLabel(QLabel):
    """One line that never widens its window: a text too long for the room it has is cut in the
    middle ("IMG_2024…_0042.jpg"), keeping the start and the file's extension in sight."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        # Ignored: the label's width comes from the layout, never from the length of its text.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, max(self.width(), 1)))


class ClassButton(QPushButton):
    def __init__(self, label_class: LabelClass, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label_class = label_class
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the window's actions
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(34)
        key = (label_class.hotkey or "·").upper()
        self.setToolTip(f"Label as {label_class.name} (key {key})")
        # Once: a style sheet set on every key press re-polishes the button each time.
        self.setStyleSheet(
            # A border on one side only draws nothing on QPushButton: all four are set, from the
            # palette so both themes work, with the class colour as a thick left stripe.
            f"QPushButton {{ border: 1px solid palette(mid); border-left: 6px solid {label_class.colour};"
            " border-radius: 3px; background: palette(button); padding: 4px 10px; text-align: left; }"
            " QPushButton:pressed { background: palette(midlight); }"
        )
        self._count: int | None = None
        self.set_count(0)

    def set_count(self, count: int) -> None:
        if count == self._count:
            return  # called on every key press; only the labeled class's count changes
        self._count = count
        key = (self.label_class.hotkey or "·").upper()
        self.setText(f"{key}   {self.label_class.name}   ({count})")


class ThumbnailStrip(QListWidget):
    def __init__(self, title: str, parent: QWidget | None = None, tile: QSize | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(title)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setSpacing(4)
        self.tile = QSize()
        self.set_tile(tile or QSize(THUMB, THUMB))
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._icons: dict[int, QIcon] = {}  # thumbnail cacheKey -> scaled icon, least recent first

    def set_tile(self, tile: QSize) -> None:
        """The size of one tile's picture (a square thumbnail, a wide text card)."""
        if tile == self.tile:
            return
        self.tile = QSize(tile)
        self.setIconSize(tile)
        # A fixed grid: rows added before their icon arrives are otherwise laid out as empty
        # tiles and overlap once the icons come (seen in the screenshots). Not uniform item
        # sizes: the first row's size (often still without icon) would then shrink every tile.
        self.setGridSize(QSize(tile.width() + 16, tile.height() + self.fontMetrics().height() + 6))
        # Room for a tile, its one-line caption and the frame; never a vertical scroll bar.
        self.setFixedHeight(tile.height() + self.fontMetrics().height() + 22)
        self.clear()
        self._icons = {}

    def show_items(self, entries: list[tuple[int, QImage | None, str]]) -> None:
        """(item id, thumbnail or None, caption) in display order.

        Called on every key press, so rows are updated in place (clearing and refilling the list
        re-lays it out) and each thumbnail is scaled once, not on every call.
        """
        while self.count() > len(entries):
            self.takeItem(self.count() - 1)
        relayout = False
        for row, (item_id, image, caption) in enumerate(entries):
            entry = self.item(row)
            if entry is None:
                entry = QListWidgetItem()
                self.addItem(entry)
            shown = (item_id, caption, image.cacheKey() if image is not None else 0)
            if entry.data(Qt.ItemDataRole.UserRole + 1) == shown:
                continue
            entry.setData(Qt.ItemDataRole.UserRole + 1, shown)
            entry.setData(Qt.ItemDataRole.UserRole, item_id)
            entry.setText(caption)
            entry.setToolTip(caption)
            relayout |= entry.icon().isNull() != (image is None)
            entry.setIcon(self._icon(image) if image is not None else QIcon())
        if relayout:  # a tile gained or lost its icon: its size changed (cheap for 8 tiles)
            self.doItemsLayout()

    def _icon(self, image: QImage) -> QIcon:
        key = image.cacheKey()
        icon = self._icons.pop(key, None)
        if icon is None:
            # Small originals (e.g. 28x28) are enlarged to fill the tile; QIcon only shrinks.
            # Scaled in device pixels, so thumbnails stay sharp on high-DPI screens.
            ratio = self.devicePixelRatioF()
            width, height = round(self.tile.width() * ratio), round(self.tile.height() * ratio)
            pixmap = QPixmap.fromImage(image)
            if (pixmap.width(), pixmap.height()) != (width, height):  # text cards come at their size
                pixmap = pixmap.scaled(
                    width, height, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            pixmap.setDevicePixelRatio(ratio)
            icon = QIcon(pixmap)
        self._icons[key] = icon  # most recently used last
        while len(self._icons) > ICON_CACHE:
            self._icons.pop(next(iter(self._icons)))
        return icon


class LabelingView(QWidget):
    class_clicked = Signal(int)  # class id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image_view = ImageView(self)  # images' view, made at once: most projects hold images
        self.item_view: QWidget = self.image_view  # the view of the project's kind
        self.screen: ItemScreen | None = None
        self._views: dict[str, QWidget] = {"image": self.image_view}
        self.title = ElidedLabel(self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.prediction = QLabel(self)
        self.prediction.setObjectName("prediction")
        self.prediction.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.buttons_row = QHBoxLayout()
        self.buttons_row.setSpacing(6)
        self.next_strip = ThumbnailStrip("Next items", self)
        self.recent_strip = ThumbnailStrip("Recently labeled", self)
        self._buttons: dict[int, ClassButton] = {}

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.prediction)
        strips = QHBoxLayout()
        strips.addWidget(self._captioned("Next", self.next_strip), 1)
        strips.addWidget(self._captioned("Recently labeled", self.recent_strip), 1)
        self._layout = layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(header)
        layout.addWidget(self.image_view, 1)
        layout.addLayout(self.buttons_row)
        layout.addLayout(strips)

    def _captioned(self, text: str, widget: QWidget) -> QWidget:
        box = QFrame(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        caption = QLabel(text, box)
        caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        column.addWidget(caption)
        column.addWidget(widget)
        return box

    def set_screen(self, screen: ItemScreen) -> None:
        """Show items the way ``screen`` says (its view in the middle, its tiles in the strips)."""
        self.screen = screen
        view = self._views.get(screen.name)
        if view is None:
            view = self._views[screen.name] = screen.make_view(self)
            view.hide()
        if view is not self.item_view:
            self._layout.replaceWidget(self.item_view, view)
            self.item_view.hide()
            self.item_view = view
            view.show()
        for strip in (self.next_strip, self.recent_strip):
            strip.set_tile(screen.strip_tile)

    def set_classes(self, classes: list[LabelClass]) -> None:
        while self.buttons_row.count():
            widget = self.buttons_row.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self._buttons = {}
        for label_class in classes:
            button = ClassButton(label_class, self)
            button.clicked.connect(lambda _=False, cid=label_class.id: self.class_clicked.emit(cid))
            self.buttons_row.addWidget(button)
            self._buttons[label_class.id] = button

    def set_counts(self, counts: dict[int, int]) -> None:
        for class_id, button in self._buttons.items():
            button.set_count(counts.get(class_id, 0))

    def show_item(self, title: str, content: object | None, message: str = "") -> None:
        """The item's title and its content as the kind's view takes it (a QImage, a text), or
        ``message`` when there is none."""
        self.title.setText(title)
        self.item_view.show_content(content, message)

    def show_prediction(self, text: str, colour: str | None = None) -> None:
        self.prediction.setText(text)
        self.prediction.setStyleSheet(f"color: {QColor(colour).name()}; font-weight: 600;" if colour else "")
