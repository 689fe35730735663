"""The on-disk thumbnail cache: round trip, bounded size (least recently used go), damaged
files and concurrent writers."""

import os
import threading

from PIL import Image

from aldesk.core.thumb_cache import ThumbnailDiskCache


def _image(value: int, side: int = 64) -> Image.Image:
    return Image.new("RGB", (side, side), (value, 255 - value, 40))


def test_round_trip_by_hash_and_side(tmp_path):
    cache = ThumbnailDiskCache(tmp_path)
    assert cache.get("ab" * 32, 96) is None
    cache.put("ab" * 32, 96, _image(200))
    got = cache.get("ab" * 32, 96)
    assert got is not None and got.size == (64, 64) and abs(got.getpixel((5, 5))[0] - 200) <= 3
    assert cache.get("ab" * 32, 128) is None  # another size is another thumbnail


def test_prune_keeps_the_recently_used_under_the_limit(tmp_path):
    cache = ThumbnailDiskCache(tmp_path, max_bytes=10**9)
    keys = [f"{i:02x}" * 32 for i in range(20)]
    for age, key in enumerate(keys):
        cache.put(key, 96, _image(age * 10, side=96))
        os.utime(cache.path_for(key, 96), (1000 + age, 1000 + age))
    cache.get(keys[0], 96)  # used just now: the newest
    one = cache.path_for(keys[1], 96).stat().st_size
    cache.max_bytes = 10 * one
    left = cache.prune()
    assert left <= cache.max_bytes
    assert cache.path_for(keys[0], 96).exists() and cache.path_for(keys[-1], 96).exists()
    assert not cache.path_for(keys[1], 96).exists()


def test_damaged_file_is_a_miss(tmp_path):
    cache = ThumbnailDiskCache(tmp_path)
    path = cache.path_for("cd" * 32, 96)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a jpeg")
    assert cache.get("cd" * 32, 96) is None
    cache.put("cd" * 32, 96, _image(9))
    got = cache.get("cd" * 32, 96)  # the damaged file was replaced by the new thumbnail
    assert got is not None and got.size == (64, 64) and abs(got.getpixel((5, 5))[0] - 9) <= 3


def test_concurrent_writers_of_one_key(tmp_path):
    cache = ThumbnailDiskCache(tmp_path)
    errors = []

    def write(value):
        try:
            for _ in range(20):
                cache.put("ef" * 32, 96, _image(value))
                got = cache.get("ef" * 32, 96)  # one writer's whole thumbnail, never a mix or a torn file
                assert got is not None and got.size == (64, 64)
                red = {got.getpixel((5, 5))[0], got.getpixel((58, 58))[0]}
                assert any(all(abs(r - v) <= 3 for r in red) for v in (10, 200)), red
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(v,)) for v in (10, 200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".jpg"]
    assert leftovers == []
