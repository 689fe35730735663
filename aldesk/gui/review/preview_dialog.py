"""One item of the review grid shown large (Enter, Space or a double click on a tile).

A thumbnail is too small to judge a doubtful label on a scan or a micrograph, and a card shows
only a text's first lines: the dialog shows the item whole, with its source, its label and, for
a suspect, what the other labels suggest. The view comes from the grid's tiles (review/tiles.py):
an image at screen size, zoomable like the labeling view (wheel or + and -, 0 fits, drag to
pan), or the whole text on a reading card (arrows and Page keys scroll, + and - change the
text size). Esc, Enter or Space closes it and the grid keeps its selection, so a class key
relabels the tile at once.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from aldesk.core.errors import ImageError
from aldesk.core.imageio import load_image
from aldesk.gui.labeling.prefetch import image_to_qimage


def image_content(path: Path, side: int) -> tuple[QImage | None, str]:
    """The image at ``path`` decoded for a screen of ``side`` device pixels, or why it cannot be shown.
    Decoded here, not in a thread: it is one image the person asked to see."""
    try:
        return image_to_qimage(load_image(path, max_side=side)), ""
    except (ImageError, OSError) as exc:
        return None, f"Cannot show this image: {exc}"


class PreviewDialog(QDialog):
    def __init__(self, view: QWidget, title: str, caption: str, parent: QWidget | None = None) -> None:
        """``view``: the item's view, already showing it (zoom_in, zoom_out and fit)."""
        super().__init__(parent)
        self.setWindowTitle(f"{title} — aldesk")
        self.view = view
        view.setParent(self)
        self.caption = QLabel(caption, self)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        screen = (parent.screen() if parent is not None else self.screen()).availableGeometry()
        self.resize(int(screen.width() * 0.8), int(screen.height() * 0.8))
        for keys, slot in (
            (("+", "=", "Ctrl++", "Ctrl+="), view.zoom_in),
            (("-", "Ctrl+-"), view.zoom_out),
            (("0", "Ctrl+0"), view.fit),
            (("Return", "Enter", "Space"), self.accept),
        ):
            for key in keys:
                QShortcut(QKeySequence(key), self, slot)
