"""The image on screen at full resolution, decoded in the background when the zoom asks for it.

The prefetcher decodes at about screen size, which is all a fitted image needs and keeps a key
press instant; zooming into a 12 MP photo then enlarges that decode and fine detail (the reason
an expert zooms) is lost. When the view magnifies the image past one device pixel per decoded
pixel it asks for detail; this decodes the source whole, in one daemon thread, the newest wish
only (a person zooming through several items needs the last one), and hands it back.

A source above MAX_PIXELS is decoded at the largest size within it (a 200 MP scan would need
800 MB as one image): ``ready`` says which fraction of the source the result holds.
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from aldesk.core.imageio import ImageError, load_image
from aldesk.gui.labeling.prefetch import image_to_qimage

log = logging.getLogger("aldesk.detail")
MAX_PIXELS = 60_000_000  # 240 MB as RGB32: a 12000 x 5000 scan whole, larger ones reduced


def detail_side(size: tuple[int, int]) -> int | None:
    """The max side to decode a source of ``size`` at: None (whole) within MAX_PIXELS."""
    width, height = size
    if width * height <= MAX_PIXELS:
        return None
    return max(1, math.floor(max(width, height) * math.sqrt(MAX_PIXELS / (width * height))))


class FullResolution(QObject):
    ready = Signal(int, QImage, float)  # item id, the image, the fraction of the source's side it holds
    _finished = Signal(int, object, float)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._finished.connect(self._deliver)  # from the thread: queued to the GUI thread
        self._lock = threading.Lock()
        self._wish: tuple[int, Path] | None = None  # the newest request not yet started
        self._running = False
        self._closed = False

    def request(self, item_id: int, path: Path) -> None:
        with self._lock:
            if self._closed:
                return
            self._wish = (item_id, path)
            if self._running:
                return  # the thread takes the newest wish when its decode ends
            self._running = True
        threading.Thread(target=self._work, name="aldesk-detail", daemon=True).start()

    def shutdown(self) -> None:
        with self._lock:
            self._closed, self._wish = True, None

    def _work(self) -> None:
        while True:
            with self._lock:
                wish, self._wish = self._wish, None
                if wish is None or self._closed:
                    self._running = False
                    return
            item_id, path = wish
            image, fraction = self._decode(path)
            if image is not None:
                self._finished.emit(item_id, image, fraction)

    @staticmethod
    def _decode(path: Path) -> tuple[QImage | None, float]:
        """Never raises: a file that fails here was shown already, so it just stays as it is."""
        try:
            with Image.open(path) as probe:
                size = probe.size
            side = detail_side(size)
            image = image_to_qimage(load_image(path, max_side=side))
        except (ImageError, OSError, MemoryError, ValueError) as exc:
            log.warning("no full-resolution view of %s: %s", path, exc)
            return None, 0.0
        return image, 1.0 if side is None else side / max(size)

    def _deliver(self, item_id: int, image: QImage, fraction: float) -> None:
        if not self._closed:
            self.ready.emit(item_id, image, fraction)
