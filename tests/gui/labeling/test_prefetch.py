"""ImagePrefetcher: decoding in worker threads, priorities, stale requests, failures, the LRU."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QObject
from PySide6.QtGui import QColor, QImage
from shiboken6 import delete

from aldesk.core import imageio
from aldesk.core.errors import ImageError
from aldesk.gui.labeling import prefetch
from aldesk.gui.labeling.prefetch import FILE_MISSING, THREAD_NAME, ImagePrefetcher, image_to_qimage

RED = (200, 30, 40)


def colour_of(item_id: int) -> tuple[int, int, int]:
    return (item_id * 7 % 256, 255 - item_id * 5 % 256, 90)


class Images:
    """Item id -> file; ids without a file resolve to a path that does not exist."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.paths: dict[int, Path] = {}

    def add(self, item_id: int, size=(40, 30), colour=None) -> Path:
        path = self.folder / f"{item_id}.png"
        Image.new("RGB", size, colour or colour_of(item_id)).save(path)
        self.paths[item_id] = path
        return path

    def resolve(self, item_id: int) -> Path:
        return self.paths.get(item_id, self.folder / f"{item_id}-missing.png")


class Loader:
    """Wraps load_image to record which items were decoded, optionally slowly."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.delay: dict[int, float] = {}
        self.default_delay = 0.0
        self._lock = threading.Lock()

    def __call__(self, path, max_side=None):
        item_id = int(Path(path).stem.split("-")[0])
        with self._lock:
            self.calls.append(item_id)
        time.sleep(self.delay.get(item_id, self.default_delay))
        return imageio.load_image(path, max_side=max_side)


@pytest.fixture
def images(tmp_path) -> Images:
    return Images(tmp_path)


@pytest.fixture
def loader(monkeypatch) -> Loader:
    fake = Loader()
    monkeypatch.setattr(prefetch, "load_image", fake)
    return fake


@pytest.fixture
def make(qtbot, images):
    """Build prefetchers that are shut down after the test, even when it fails."""
    made: list[ImagePrefetcher] = []

    def build(max_side: int = 100, **kwargs) -> ImagePrefetcher:
        prefetcher = ImagePrefetcher(images.resolve, max_side, **kwargs)
        made.append(prefetcher)
        return prefetcher

    yield build
    for prefetcher in made:
        prefetcher.shutdown()


def record(prefetcher: ImagePrefetcher) -> tuple[list[int], list[tuple[int, str]]]:
    ready: list[int] = []
    failed: list[tuple[int, str]] = []
    prefetcher.ready.connect(ready.append)
    prefetcher.failed.connect(lambda item_id, reason: failed.append((item_id, reason)))
    return ready, failed


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME) and t.is_alive()]


def test_a_requested_image_arrives_scaled_with_its_colours(qtbot, images, make):
    images.add(1, size=(300, 200), colour=RED)
    images.add(2, size=(50, 40), colour=RED)
    prefetcher = make(max_side=100)
    assert prefetcher.get(1) is None

    ready, failed = record(prefetcher)
    prefetcher.request([1, 2])
    qtbot.waitUntil(lambda: sorted(ready) == [1, 2], timeout=5000)
    assert failed == []

    big = prefetcher.get(1)
    assert isinstance(big, QImage)
    assert (big.width(), big.height()) == (100, 67)
    assert big.pixelColor(50, 30) == QColor(*RED)
    small = prefetcher.get(2)
    assert (small.width(), small.height()) == (50, 40)  # never enlarged
    assert small.pixelColor(0, 0) == QColor(*RED)


def test_image_to_qimage_owns_its_pixels():
    picture = Image.new("RGB", (7, 3), RED)  # odd width: rows are not 4-byte aligned
    picture.putpixel((6, 2), (1, 2, 3))
    image = image_to_qimage(picture)
    del picture
    assert (image.width(), image.height()) == (7, 3)
    assert image.pixelColor(6, 2) == QColor(1, 2, 3)
    assert image.pixelColor(5, 2) == QColor(*RED)


def test_request_never_waits_for_a_decode(qtbot, images, loader, make):
    images.add(1)
    loader.default_delay = 0.5
    prefetcher = make()
    started = time.perf_counter()
    prefetcher.request([1])
    assert time.perf_counter() - started < 0.1
    qtbot.waitSignal(prefetcher.ready, timeout=5000).wait()


def test_the_first_requested_arrives_first(qtbot, images, loader, make):
    for item_id in (1, 2, 3, 4):
        images.add(item_id)
    loader.delay = {2: 0.05, 3: 0.05, 4: 0.05}
    prefetcher = make(workers=1)
    ready, _ = record(prefetcher)

    prefetcher.request([1, 2, 3, 4])
    qtbot.waitUntil(lambda: len(ready) == 4, timeout=5000)
    assert ready == [1, 2, 3, 4]


def test_a_new_request_reorders_what_is_not_started_yet(qtbot, images, loader, make):
    for item_id in (1, 2, 3):
        images.add(item_id)
    loader.default_delay = 0.05
    prefetcher = make(workers=1)
    ready, _ = record(prefetcher)

    prefetcher.request([1, 2, 3])  # 1 starts at once
    prefetcher.request([3, 2, 1])
    qtbot.waitUntil(lambda: len(ready) == 3, timeout=5000)
    assert ready == [1, 3, 2]


def test_items_no_longer_wanted_are_never_decoded(qtbot, images, loader, make):
    for item_id in [*range(1, 21), 30]:
        images.add(item_id)
    loader.default_delay = 0.05
    prefetcher = make(workers=1)

    prefetcher.request(list(range(1, 21)))
    prefetcher.request([30])
    qtbot.waitUntil(lambda: prefetcher.get(30) is not None, timeout=5000)
    qtbot.wait(200)  # time enough for more decodes, had any been queued
    assert loader.calls == [1, 30]  # only the one already running when the wish list changed
    assert prefetcher.get(1) is not None  # its result is kept all the same


def test_at_most_workers_decodes_run_at_once(qtbot, images, monkeypatch, make):
    for item_id in range(1, 9):
        images.add(item_id)
    running = 0
    most = 0
    lock = threading.Lock()
    both_started = threading.Barrier(2, timeout=5)

    def counting_load(path, max_side=None):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            first_two = most <= 2 and int(Path(path).stem) <= 2
        if first_two:
            both_started.wait()  # proves that two decodes do run side by side
        time.sleep(0.01)
        with lock:
            running -= 1
        return imageio.load_image(path, max_side=max_side)

    monkeypatch.setattr(prefetch, "load_image", counting_load)
    prefetcher = make(workers=2)
    ready, _ = record(prefetcher)
    prefetcher.request(list(range(1, 9)))
    assert prefetcher.decoding == 2
    qtbot.waitUntil(lambda: len(ready) == 8, timeout=5000)
    assert most == 2
    assert len(prefetch_threads()) == 2
    assert prefetcher.decoding == 0


def test_a_corrupt_file_fails_with_its_reason(qtbot, images, loader, make):
    bad = images.folder / "7.png"
    bad.write_bytes(b"this is not a PNG at all")
    images.paths[7] = bad
    with pytest.raises(ImageError) as expected:
        imageio.load_image(bad)
    images.add(8)
    prefetcher = make()

    with qtbot.waitSignal(prefetcher.failed, timeout=5000) as blocker:
        prefetcher.request([7])
    assert blocker.args == [7, expected.value.reason]
    assert prefetcher.get(7) is None

    # Still wanted: the failure is announced again, the file is not decoded again.
    with qtbot.waitSignal(prefetcher.failed, timeout=5000) as blocker:
        prefetcher.request([7, 8])
    assert blocker.args == [7, expected.value.reason]
    qtbot.waitUntil(lambda: prefetcher.get(8) is not None, timeout=5000)
    assert loader.calls.count(7) == 1

    # Left out of a request and asked for again later: tried afresh.
    prefetcher.request([8])
    with qtbot.waitSignal(prefetcher.failed, timeout=5000):
        prefetcher.request([7])
    assert loader.calls.count(7) == 2


def test_a_missing_file_fails(qtbot, images, make):
    prefetcher = make()
    with qtbot.waitSignal(prefetcher.failed, timeout=5000) as blocker:
        prefetcher.request([5])  # never written
    assert blocker.args == [5, FILE_MISSING]


def test_a_resolve_error_fails_instead_of_raising(qtbot, make):
    def broken(item_id: int) -> Path:
        raise KeyError(item_id)

    prefetcher = make()
    prefetcher._resolve = broken
    with qtbot.waitSignal(prefetcher.failed, timeout=5000) as blocker:
        prefetcher.request([3])
    assert blocker.args[0] == 3


@pytest.mark.parametrize("wanted,evicted", [([2, 3, 4], 1), ([3, 1, 4], 2)])
def test_an_image_no_longer_wanted_is_evicted_first(qtbot, images, make, wanted, evicted):
    for item_id in range(1, 5):
        images.add(item_id)
    prefetcher = make(workers=1, capacity=3)
    ready, _ = record(prefetcher)
    prefetcher.request([1, 2, 3])
    qtbot.waitUntil(lambda: len(ready) == 3, timeout=5000)
    prefetcher.request(wanted)  # the person moved on: one cached image is wanted no more
    qtbot.waitUntil(lambda: 4 in ready, timeout=5000)
    assert sorted(i for i in (1, 2, 3, 4) if i in prefetcher) == sorted(wanted)
    assert evicted not in prefetcher and len(prefetcher) == 3


def test_among_images_nobody_wants_the_least_recently_used_goes_first(qtbot, images, make):
    for item_id in range(1, 6):
        images.add(item_id)
    prefetcher = make(workers=1, capacity=3)
    ready, _ = record(prefetcher)
    prefetcher.request([2, 3, 4])
    qtbot.waitUntil(lambda: len(ready) == 3, timeout=5000)
    # Nothing cached is wanted after the next request; the gets leave 4 used least recently.
    for item_id in (4, 2, 3):
        prefetcher.get(item_id)
    prefetcher.request([5])
    qtbot.waitUntil(lambda: 5 in ready, timeout=5000)
    assert [i for i in (2, 3, 4, 5) if i in prefetcher] == [2, 3, 5]


def test_the_byte_budget_bounds_the_cache_without_thrashing(qtbot, images, loader, make):
    for item_id in (1, 2, 3):
        images.add(item_id, size=(100, 100))  # 40,000 bytes each as RGB32
    prefetcher = make(workers=1, max_bytes=100_000)
    ready, _ = record(prefetcher)

    prefetcher.request([1, 2, 3])
    qtbot.waitUntil(lambda: len(loader.calls) == 3 and prefetcher.decoding == 0, timeout=5000)
    qtbot.wait(200)  # time enough to start decoding 3 again, were that the bug
    assert ready == [1, 2]  # 3 did not fit next to the more wanted 1 and 2
    assert 3 not in prefetcher
    assert prefetcher.cached_bytes <= 100_000
    assert loader.calls == [1, 2, 3]  # and was not decoded over and over


def test_a_larger_max_side_replaces_shrunk_images(qtbot, images, make):
    images.add(1, size=(400, 200), colour=RED)
    images.add(2, size=(40, 20), colour=RED)
    prefetcher = make(max_side=50)
    ready, _ = record(prefetcher)
    prefetcher.request([1, 2])
    qtbot.waitUntil(lambda: sorted(ready) == [1, 2], timeout=5000)
    assert prefetcher.get(1).width() == 50

    ready.clear()
    prefetcher.set_max_side(200)
    assert prefetcher.get(1).width() == 50  # still usable meanwhile
    qtbot.waitUntil(lambda: ready == [1], timeout=5000)
    assert prefetcher.get(1).width() == 200
    qtbot.wait(100)
    assert ready == [1]  # 2 was small already: nothing to gain from decoding it again


def test_shutdown_stops_every_thread_and_is_idempotent(qtbot, images, loader, make):
    for item_id in (1, 2, 3):
        images.add(item_id)
    loader.default_delay = 0.2
    prefetcher = make(workers=2)
    ready, failed = record(prefetcher)
    prefetcher.request([1, 2, 3])
    assert len(prefetch_threads()) == 2

    prefetcher.shutdown(timeout=5.0)
    assert prefetch_threads() == []
    prefetcher.shutdown()  # again: harmless

    prefetcher.request([1, 2, 3])  # does nothing now
    qtbot.wait(300)
    assert ready == [] and failed == []
    assert sorted(loader.calls) == [1, 2]  # what had started before shutdown
    assert prefetch_threads() == []


def test_deleting_the_owner_stops_the_threads(qtbot, images, loader):
    images.add(1)
    loader.default_delay = 0.1
    owner = QObject()
    prefetcher = ImagePrefetcher(images.resolve, 100, parent=owner)
    prefetcher.request([1])
    assert len(prefetch_threads()) == 1
    delete(owner)  # the window goes away without calling shutdown()
    qtbot.waitUntil(lambda: prefetch_threads() == [], timeout=5000)


def test_no_thread_starts_before_the_first_request(make):
    make()
    assert prefetch_threads() == []


def test_jpegs_are_decoded_at_a_draft_scale_without_resampling(tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (4000, 3000), RED).save(photo, quality=80)
    png = tmp_path / "photo.png"
    Image.new("RGB", (400, 300), RED).save(png)
    assert prefetch.decode_side(photo, 1920) == 2000  # 1/2 scale: no LANCZOS step to 1920
    assert prefetch.decode_side(photo, 1000) == 1000  # exactly 1/4
    assert prefetch.decode_side(photo, 900) == 1000
    assert prefetch.decode_side(photo, 2560) == 2560  # full size would be 1.56x: resample after all
    assert prefetch.decode_side(photo, 5000) == 5000  # never enlarged by load_image
    assert prefetch.decode_side(png, 200) == 200  # only JPEGs have draft scales
    assert prefetch.decode_side(tmp_path / "missing.jpg", 300) == 300  # load_image reports it
    assert imageio.load_image(photo, max_side=prefetch.decode_side(photo, 1920)).size == (2000, 1500)
