"""The labeling view: the image, the model's guess, one button per class, and the strips of
next and recently labeled items. It only displays; the window's actions do the labeling."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPalette, QPixmap
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

THUMB = 56
ICON_CACHE = 64  # scaled thumbnails kept per strip (it shows 8)


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
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(title)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setSpacing(4)
        # A fixed grid: rows added before their icon arrives are otherwise laid out as empty
        # tiles and overlap once the icons come (seen in the screenshots). Not uniform item
        # sizes: the first row's size (often still without icon) would then shrink every tile.
        self.setGridSize(QSize(THUMB + 16, THUMB + self.fontMetrics().height() + 6))
        # Room for a tile, its one-line caption and the frame; never a vertical scroll bar.
        self.setFixedHeight(THUMB + self.fontMetrics().height() + 22)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._icons: dict[int, QIcon] = {}  # thumbnail cacheKey -> scaled icon, least recent first

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
            side = round(THUMB * ratio)
            pixmap = QPixmap.fromImage(image).scaled(
                side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
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
        self.image_view = ImageView(self)
        self.title = QLabel(self)
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
        layout = QVBoxLayout(self)
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

    def show_item(self, title: str, image: QImage | None, message: str = "") -> None:
        self.title.setText(title)
        self.image_view.set_image(image, message)

    def show_prediction(self, text: str, colour: str | None = None) -> None:
        self.prediction.setText(text)
        self.prediction.setStyleSheet(f"color: {QColor(colour).name()}; font-weight: 600;" if colour else "")
