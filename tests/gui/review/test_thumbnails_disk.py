"""The grid's thumbnail loader keeps thumbnails of large originals on disk, by content hash."""

from aldesk.core.thumb_cache import ThumbnailDiskCache
from aldesk.gui.review.thumbnails import ThumbnailLoader
from tests.conftest import write_image

SHA = "5a" * 32


def _load(qtbot, loader, item_id, path, sha):
    loader.request(item_id, path, sha)
    qtbot.waitUntil(lambda: loader.get(item_id) is not None, timeout=5000)
    return loader.get(item_id)


def test_second_loader_reads_the_disk_cache(qtbot, tmp_path):
    cache = ThumbnailDiskCache(tmp_path / "cache")
    big = write_image(tmp_path / "big.png", (200, 30, 30), size=(400, 300))
    first = ThumbnailLoader(side=96, disk_cache=cache)
    try:
        assert not _load(qtbot, first, 1, big, SHA).isNull()
        assert cache.path_for(SHA, 96).exists()
    finally:
        first.shutdown()
    big.unlink()  # from now on only the cache can provide it
    second = ThumbnailLoader(side=96, disk_cache=cache)
    try:
        pixmap = _load(qtbot, second, 1, big, SHA)
        assert pixmap is not second.failed_mark and second.failure(1) is None
    finally:
        second.shutdown()


def test_small_originals_are_not_copied_to_disk(qtbot, tmp_path):
    cache = ThumbnailDiskCache(tmp_path / "cache")
    small = write_image(tmp_path / "small.png", (20, 200, 30), size=(28, 28))
    loader = ThumbnailLoader(side=96, disk_cache=cache)
    try:
        _load(qtbot, loader, 2, small, SHA)
        assert not cache.path_for(SHA, 96).exists()
    finally:
        loader.shutdown()
