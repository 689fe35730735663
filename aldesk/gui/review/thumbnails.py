"""Small thumbnails for grids, decoded off the GUI thread, newest request first, LRU-cached.

A grid asks for the tiles it paints; scrolling fast through 100,000 items asks for thousands of
them, so requests are served last-in first-out (the tiles on screen now) and the oldest waiting
requests are dropped. Decoding threads never touch Qt objects owned by the GUI thread and never
emit signals: they put results in a queue that a GUI-thread timer drains while work is under way,
so a loader deleted mid-decode cannot be reached from another thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap

from aldesk.core.errors import ImageError
from aldesk.core.imageio import load_image
from aldesk.core.thumb_cache import ThumbnailDiskCache
from aldesk.gui.labeling.prefetch import image_to_qimage

log = logging.getLogger("aldesk.thumbnails")

DEFAULT_SIDE = 96
DEFAULT_CAPACITY = 1_500  # ~36 KiB each at 96 px: ~54 MiB at most
MAX_WAITING = 400  # requests beyond this (the oldest, long scrolled past) are dropped
POLL_MS = 15


class TileLookup:
    """What a grid asks of its tile loader, whatever draws the tiles: a cached tile (most recently
    used kept), the failure mark, or None (not drawn yet)."""

    _cache: OrderedDict[int, QPixmap]
    _failed: dict[int, str]
    failed_mark: QPixmap

    def get(self, item_id: int) -> QPixmap | None:
        """The cached tile, the failure mark, or None (not drawn yet)."""
        pixmap = self._cache.get(item_id)
        if pixmap is not None:
            self._cache.move_to_end(item_id)
            return pixmap
        return self.failed_mark if item_id in self._failed else None

    def failure(self, item_id: int) -> str | None:
        return self._failed.get(item_id)


class ThumbnailLoader(TileLookup, QObject):
    ready = Signal(int)  # item id whose thumbnail (or failure mark) is now cached

    def __init__(
        self,
        side: int = DEFAULT_SIDE,
        capacity: int = DEFAULT_CAPACITY,
        threads: int = 2,
        parent: QObject | None = None,
        disk_cache: ThumbnailDiskCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.side = side
        # Thumbnails of large originals are also kept on disk, by content hash (aldesk/core/thumb_cache.py).
        self.disk_cache = disk_cache
        self.capacity = capacity
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._failed: dict[int, str] = {}
        self._lock = threading.Lock()
        self._waiting: OrderedDict[int, tuple[Path, str | None]] = OrderedDict()  # guarded by _lock; newest last
        self._busy: set[int] = set()  # guarded by _lock: being decoded
        self._active = 0  # guarded by _lock: running decode loops
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._drain)
        self._closed = False
        self.placeholder = _placeholder(side, failed=False)
        self.failed_mark = _placeholder(side, failed=True)

    def request(self, item_id: int, path: Path, sha256: str | None = None) -> None:
        """Decode ``item_id`` soon (before anything requested earlier); no-op if cached.
        ``sha256``: the file's content hash, the key of the disk cache."""
        if self._closed or item_id in self._cache or item_id in self._failed:
            return
        with self._lock:
            if item_id in self._busy:
                return
            self._waiting[item_id] = (path, sha256)
            self._waiting.move_to_end(item_id)
            while len(self._waiting) > MAX_WAITING:
                self._waiting.popitem(last=False)
            start = self._active < self._pool.maxThreadCount()
            if start:
                self._active += 1
        if start:
            self._pool.start(self._decode_loop)
        if not self._timer.isActive():
            self._timer.start()

    def shutdown(self, timeout_ms: int = 3000) -> None:
        """Drop waiting work and wait for the decoding threads (call before the widget goes)."""
        self._closed = True
        with self._lock:
            self._waiting.clear()
        self._pool.waitForDone(timeout_ms)
        self._timer.stop()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._waiting) + len(self._busy)

    def __len__(self) -> int:
        return len(self._cache)

    # -- decoding threads --------------------------------------------------------------------

    def _decode_loop(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._active -= 1
                    return
                item_id, (path, sha256) = self._waiting.popitem(last=True)
                self._busy.add(item_id)
            self._results.put((item_id, *self._decode(path, sha256)))

    def _decode(self, path: Path, sha256: str | None = None) -> tuple[QImage | None, str]:
        try:
            cache = self.disk_cache if sha256 else None
            image = cache.get(sha256, self.side) if cache else None
            if image is None:
                image = load_image(path, max_side=self.side)
                # Only originals larger than the tile: a small one decodes as fast as its copy.
                if cache and max(image.size) >= self.side:
                    cache.put(sha256, self.side, image)
            return image_to_qimage(image), ""
        except ImageError as exc:
            return None, exc.reason
        except Exception as exc:  # a bug rather than a bad file: log it, keep the loop alive
            log.exception("thumbnail of %s failed", path)
            return None, f"unexpected error: {exc!r}"

    # -- GUI thread --------------------------------------------------------------------------

    def _drain(self) -> None:
        done = []
        while True:
            try:
                done.append(self._results.get_nowait())
            except queue.Empty:
                break
        for item_id, image, reason in done:
            with self._lock:
                self._busy.discard(item_id)
            if image is None:
                self._failed[item_id] = reason
            else:
                # Small originals (e.g. 28x28) are enlarged to fill the tile.
                self._cache[item_id] = QPixmap.fromImage(image).scaled(
                    self.side, self.side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
            self.ready.emit(item_id)
        if self.pending == 0 and self._results.empty():
            self._timer.stop()


def _placeholder(side: int, *, failed: bool) -> QPixmap:
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor(128, 128, 128, 40))
    if failed:
        painter = QPainter(pixmap)
        painter.setPen(QPen(QColor("#e15759"), 3))
        painter.drawLine(side // 4, side // 4, 3 * side // 4, 3 * side // 4)
        painter.drawLine(3 * side // 4, side // 4, side // 4, 3 * side // 4)
        painter.end()
    return pixmap
