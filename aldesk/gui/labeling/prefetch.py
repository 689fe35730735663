"""Decode images ahead of the person, off the GUI thread, so showing the next one is only a paint.

A 12-megapixel JPEG takes ~170 ms to decode (~40-60 ms in JPEG draft mode), far more than the
16 ms a frame allows, and torch may be busy in another thread. So the window tells the
prefetcher which items it will show next (current first), worker threads decode them at screen
size into QImages, and the GUI thread only ever looks them up in a cache.

Threading: the cache, the wish list and all bookkeeping live in the GUI thread. Worker threads
receive (item id, path, max side), run ``load_image`` and build the QImage, and hand the result
back through a queued signal. There is no job queue to go stale: a worker that falls idle gets
the most wanted item that is neither cached nor being decoded, so items dropped from the wish
list are simply never started.

Memory policy: the cache is an LRU bounded both by count (``capacity``) and by bytes
(``max_bytes``, 512 MiB by default). Pixels are stored as 32-bit RGB, so an image at 2560 px max
side costs 14 MiB (16:9) to 19 MiB (4:3) and the default budget holds 25-35 of them (about 15
at 3840 px, a 4K screen): plenty for the current item and the next few. A 96 px thumbnail costs
~36 KiB; there the count bound is the one that matters. Images no longer wanted are
evicted first; if the wish list alone exceeds the budget, its lowest-priority tail is not decoded.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QImage

from aldesk.core.errors import ImageError
from aldesk.core.imageio import load_image
from aldesk.gui.background import gui_relay, post_to_gui_thread

log = logging.getLogger("aldesk.prefetch")

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
FILE_MISSING = "file missing"
THREAD_NAME = "aldesk-prefetch"


@dataclass(frozen=True, slots=True)
class _Result:
    """What a worker sends back; exactly one of ``image`` and ``reason`` is set."""

    item_id: int
    side: int
    image: QImage | None = None
    reason: str = ""
    from_worker: bool = True  # False for a known failure announced again


@dataclass(slots=True)
class _Entry:
    image: QImage
    side: int  # the max_side it was decoded for
    nbytes: int
    shrunk: bool  # the source was larger than side, so a larger side would give more detail


def image_to_qimage(picture: Image.Image) -> QImage:
    """An RGB PIL image as a QImage that owns its pixels (safe to hand to another thread).

    The result is Format_RGB32, the raster paint engine's native opaque format, so drawing it
    scaled costs the GUI thread no conversion (measured ~3x cheaper than RGB888). Qt allocates
    the memory and numpy fills it: numpy releases the GIL while copying, whereas a Qt-side
    conversion (QImage.convertToFormat) holds it and stalls the GUI thread for milliseconds.
    """
    rgb = np.asarray(picture if picture.mode == "RGB" else picture.convert("RGB"))
    height, width = rgb.shape[:2]
    image = QImage(width, height, QImage.Format.Format_RGB32)
    if image.isNull():
        raise MemoryError(f"cannot allocate a {width} x {height} image")
    # Rows may be padded: address them through bytesPerLine, never assume 4 * width.
    rows = np.frombuffer(image.bits(), np.uint8).reshape(height, image.bytesPerLine())
    pixels = rows[:, : 4 * width].reshape(height, width, 4)
    # RGB32 is the 32-bit value 0xffRRGGBB, stored least significant byte first.
    byte_order = (2, 1, 0) if sys.byteorder == "little" else (1, 2, 3)
    for channel, offset in zip(range(3), byte_order):
        pixels[..., offset] = rgb[..., channel]
    pixels[..., 3 if sys.byteorder == "little" else 0] = 255
    return image


def decode_side(path: Path, side: int) -> int:
    """The max side to decode ``path`` at so that it is at least ``side``, without resampling.

    A JPEG decodes cheaply at 1/2, 1/4 or 1/8 of its size (draft mode). Asking for exactly
    ``side`` adds a LANCZOS resize after that, which for a 12 MP photo shown on a 1920 px screen
    (4000 -> 2000 -> 1920) cost more than the decode itself (230 ms vs 150 ms on a busy 2-core
    machine) to shave off 4% that the paint engine scales away anyway. So a JPEG is decoded at
    the smallest draft scale that still gives ``side`` pixels, and kept at that size.
    """
    try:
        with Image.open(path) as probe:  # reads the header only
            if probe.format != "JPEG":
                return side
            longest = max(probe.size)
    except Exception:  # load_image will report what is wrong with the file
        return side
    for scale in (8, 4, 2, 1):
        natural = -(-longest // scale)  # libjpeg rounds the scaled size up
        if natural >= side:
            # Much larger than asked (say a full 4000 px decode for a 2560 px screen) costs
            # memory and conversion time: then resample to ``side`` after all.
            return natural if natural <= 1.5 * side else side
    return side  # smaller than asked: never enlarged


def _decode(item_id: int, path: Path, side: int) -> _Result:
    """Runs in a worker thread: never raises, every failure becomes a reason."""
    try:
        picture = load_image(path, max_side=decode_side(path, side))
    except ImageError as exc:
        missing = isinstance(exc.__cause__, (FileNotFoundError, NotADirectoryError))
        return _Result(item_id, side, reason=FILE_MISSING if missing else exc.reason)
    except Exception as exc:  # a bug rather than a bad file: report it, keep the worker alive
        log.exception("decoding %s failed unexpectedly", path)
        return _Result(item_id, side, reason=f"unexpected error: {exc!r}")
    try:
        return _Result(item_id, side, image=image_to_qimage(picture))
    except Exception as exc:  # e.g. MemoryError for a huge side
        log.exception("converting %s failed", path)
        return _Result(item_id, side, reason=f"cannot convert image: {exc!r}")


def _work(jobs: queue.SimpleQueue, deliver: Callable[[_Result], None]) -> None:
    """A worker thread's loop; None on the queue ends it."""
    while (job := jobs.get()) is not None:
        result = _decode(*job)
        deliver(result)  # to the GUI thread, or dropped there if the prefetcher is gone


class _Workers:
    """A fixed number of daemon threads fed from one queue, started on first use."""

    def __init__(self, size: int, deliver: Callable[[_Result], None]) -> None:
        self._size = size
        self._deliver = deliver
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def submit(self, item_id: int, path: Path, side: int) -> None:
        if self._stopping:
            return
        if len(self._threads) < self._size:
            # Daemon: a decode stuck on a dead network share must not keep the app from exiting.
            thread = threading.Thread(
                target=_work, args=(self._jobs, self._deliver), name=f"{THREAD_NAME}-{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self._jobs.put((item_id, path, side))

    def stop(self) -> None:
        """Ask every thread to end after its current decode (does not wait)."""
        if not self._stopping:
            self._stopping = True
            for _ in self._threads:
                self._jobs.put(None)

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the threads to end; True if all did."""
        self.stop()
        deadline = time.monotonic() + max(timeout, 0.0)
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("prefetch threads still decoding after %.1f s: %s", timeout, ", ".join(alive))
        return not alive


class ImagePrefetcher(QObject):
    """Decodes wanted items ahead in worker threads and keeps them in a GUI-thread LRU cache.

    ``resolve`` maps an item id to its file; it is called in the GUI thread (so it may use the
    window's database connection), once per decode. ``max_side`` is in device pixels.
    """

    ready = Signal(int)  # item id whose image is now in the cache (emitted in the GUI thread)
    failed = Signal(int, str)  # item id, reason (ImageError.reason or "file missing")
    _finished = Signal(object)  # _Result, posted by the GUI thread itself; connected queued

    def __init__(
        self,
        resolve: Callable[[int], Path],
        max_side: int,
        *,
        workers: int = 2,
        capacity: int = 64,
        max_bytes: int = DEFAULT_MAX_BYTES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if workers < 1 or capacity < 1 or max_bytes < 1:
            raise ValueError("workers, capacity and max_bytes must be at least 1")
        self._check_side(max_side)
        self._resolve = resolve
        self._max_side = max_side
        self._workers_allowed = workers
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._cache: OrderedDict[int, _Entry] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._wanted: list[int] = []
        self._in_flight: set[int] = set()
        self._failures: dict[int, str] = {}  # wanted items whose decode failed
        self._closed = False
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        # Worker threads never emit on this object: it may be deleted in the GUI thread while a
        # decode finishes, and emitting on a dying QObject from another thread can crash. They
        # post to the application-wide relay instead (aldesk/gui/background.py), made here in
        # the GUI thread; a weak reference, so a pending result keeps no prefetcher alive.
        gui_relay()
        self._workers = _Workers(workers, partial(post_to_gui_thread, weakref.ref(self), "_on_finished"))
        # Safety nets for an owner that forgets shutdown(): stop the threads when this object
        # is destroyed (with its parent window) or when the application quits. A plain partial,
        # not a bound method, because it runs when self is already half gone.
        self.destroyed.connect(partial(_stop_quietly, self._workers))
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- public API ------------------------------------------------------------------------

    def request(self, item_ids: Sequence[int]) -> None:
        """Want ``item_ids``, most wanted first; returns at once.

        Cached images are kept, decodes of items no longer wanted that have not started are
        never started, and at most ``workers`` decodes run at a time. An item whose decode
        failed is not decoded again while it stays wanted (its failure is announced again);
        once a request leaves it out, a later request tries it afresh.
        """
        if self._closed:
            return
        # Unique, in order, and no more than the cache can hold at once.
        wanted = list(dict.fromkeys(int(i) for i in item_ids))[: self._capacity]
        keep = set(wanted)
        for item_id in [i for i in self._failures if i not in keep]:
            del self._failures[item_id]
        self._wanted = wanted
        self._touch_wanted()
        for item_id in wanted:
            if item_id in self._failures:
                # Queued like a real result, so a slot never runs inside request().
                self._finished.emit(_Result(item_id, 0, reason=self._failures[item_id], from_worker=False))
        self._dispatch()

    def get(self, item_id: int) -> QImage | None:
        """The cached image of ``item_id`` (marked as recently used), or None."""
        entry = self._cache.get(item_id)
        if entry is None:
            return None
        self._cache.move_to_end(item_id)
        return entry.image

    def set_max_side(self, max_side: int) -> None:
        """Decode at ``max_side`` from now on; cached images stay usable until replaced.

        Wanted images that were shrunk to a smaller side are decoded again in the background.
        """
        self._check_side(max_side)
        self._max_side = max_side
        if not self._closed:
            self._dispatch()

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop the workers (waiting up to ``timeout`` s for running decodes); safe to call twice."""
        if not self._closed:
            self._closed = True
            self._wanted = []
            self._in_flight.clear()
            self._failures.clear()
            self._cache.clear()  # the owner is done with it; give the memory back now
            self._bytes = 0
        self._workers.join(timeout)

    @property
    def max_side(self) -> int:
        return self._max_side

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    @property
    def decoding(self) -> int:
        """How many decodes are running now (at most ``workers``)."""
        return len(self._in_flight)

    def __len__(self) -> int:
        return len(self._cache)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._cache

    # -- internals (GUI thread) ------------------------------------------------------------

    @staticmethod
    def _check_side(max_side: int) -> None:
        if max_side < 1:
            raise ValueError(f"max_side must be at least 1, not {max_side}")

    def _touch_wanted(self) -> None:
        # The most wanted image becomes the most recently used, so eviction takes images that
        # are no longer wanted first and the lowest-priority wanted ones after them.
        for item_id in reversed(self._wanted):
            if item_id in self._cache:
                self._cache.move_to_end(item_id)

    def _needs_decode(self, item_id: int) -> bool:
        if item_id in self._in_flight or item_id in self._failures:
            return False
        entry = self._cache.get(item_id)
        return entry is None or (entry.shrunk and entry.side < self._max_side)

    def _dispatch(self) -> None:
        for item_id in self._wanted:
            if len(self._in_flight) >= self._workers_allowed:
                return
            if not self._needs_decode(item_id):
                continue
            try:
                path = Path(self._resolve(item_id))
            except Exception as exc:  # the owner's lookup failed; show it like a bad file
                log.exception("resolving item %s failed", item_id)
                reason = f"cannot find the file ({exc})"
                self._failures[item_id] = reason
                self._finished.emit(_Result(item_id, 0, reason=reason, from_worker=False))
                continue
            self._in_flight.add(item_id)
            self._workers.submit(item_id, path, self._max_side)

    def _on_finished(self, result: _Result) -> None:
        if self._closed:
            return
        item_id = result.item_id
        if result.from_worker:
            self._in_flight.discard(item_id)
        if result.image is not None:
            stored = self._store(item_id, result)
            self._dispatch()  # keep the workers busy before running anyone's slots
            if stored:
                self.ready.emit(item_id)
            return
        if result.from_worker and item_id in self._wanted:
            self._failures[item_id] = result.reason  # not retried while it stays wanted
        self._dispatch()
        self.failed.emit(item_id, result.reason)

    def _store(self, item_id: int, result: _Result) -> bool:
        """Cache a decoded image; False if it was not worth keeping."""
        image = result.image
        assert image is not None
        entry = _Entry(
            image=image, side=result.side, nbytes=image.sizeInBytes(), shrunk=max(image.width(), image.height()) >= result.side
        )
        old = self._cache.pop(item_id, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._cache[item_id] = entry
        self._bytes += entry.nbytes
        if item_id in self._wanted:
            self._touch_wanted()
        else:
            self._cache.move_to_end(item_id, last=False)  # a stale decode: first to go
        self._evict()
        return item_id in self._cache

    def _evict(self) -> None:
        while len(self._cache) > 1 and (len(self._cache) > self._capacity or self._bytes > self._max_bytes):
            item_id, entry = self._cache.popitem(last=False)
            self._bytes -= entry.nbytes
            if item_id in self._wanted:
                # The wish list is larger than the budget: drop its tail from here on, or
                # decoding it again would evict another wanted image, forever.
                self._wanted = self._wanted[: self._wanted.index(item_id)]


def _stop_quietly(workers: _Workers, *_args: object) -> None:
    workers.stop()
