"""One item of the review grid shown large (Enter or a double click on a tile).

A thumbnail is too small to judge a doubtful label on a scan or a micrograph: the dialog shows
the image at screen size, zoomable like the labeling view (wheel or + and -, 0 fits, drag to
pan), with its file, its label and, for a suspect, what the other labels suggest. Esc, Enter or
Space closes it and the grid keeps its selection, so a class key relabels the tile at once.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from aldesk.core.errors import ImageError
from aldesk.core.imageio import load_image
from aldesk.gui.labeling.image_view import ImageView
from aldesk.gui.labeling.prefetch import image_to_qimage


class PreviewDialog(QDialog):
    def __init__(self, path: Path, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{path.name} — aldesk")
        self.view = ImageView(self)
        self.caption = QLabel(f"{caption}\n{path}", self)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        screen = (parent.screen() if parent is not None else self.screen()).availableGeometry()
        self.resize(int(screen.width() * 0.8), int(screen.height() * 0.8))
        side = int(max(screen.width(), screen.height()) * self.devicePixelRatioF())
        try:
            # Decoded here, not in a thread: it is one image the person asked to see.
            self.view.set_image(image_to_qimage(load_image(path, max_side=side)))
        except (ImageError, OSError) as exc:
            self.view.set_image(None, f"Cannot show this image: {exc}")
        for keys, slot in (
            (("+", "="), self.view.zoom_in),
            (("-",), self.view.zoom_out),
            (("0",), self.view.fit),
            (("Return", "Enter", "Space"), self.accept),
        ):
            for key in keys:
                QShortcut(QKeySequence(key), self, slot)
