"""Thumbnails kept on disk between sessions, keyed by the image's content hash and size.

A grid of a class with 100,000 labels decodes a tile for every one the person scrolls past; for
camera photos that is a full JPEG decode each (tens of ms), for a cached thumbnail well under one.
Files live under the user's cache folder (platformdirs), never beside the project: the project
stays what the person copies, and the cache can be deleted at any time.

Safe with several windows or processes at once: each file is written to a temporary name and
renamed into place (readers see a whole file or none), and a file that vanishes (pruned by
another process) is a miss. The folder is kept under ``max_bytes`` by deleting the files used
longest ago (a hit refreshes a file's modification time).
"""

from __future__ import annotations

import io
import logging
import os
import threading
from pathlib import Path

import platformdirs
from PIL import Image

log = logging.getLogger("aldesk.thumb_cache")

DEFAULT_MAX_BYTES = 512 * 1024**2
PRUNE_TO = 0.8  # a prune leaves the folder at this fraction of max_bytes
JPEG_QUALITY = 90


def default_folder() -> Path:
    return Path(platformdirs.user_cache_dir("aldesk", appauthor=False)) / "thumbnails"


class ThumbnailDiskCache:
    def __init__(self, folder: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._written = 0  # bytes written since the size was last known
        self._known_size: int | None = None

    def path_for(self, sha256: str, side: int) -> Path:
        name = f"{sha256}-{side}.jpg"
        return self.folder / str(side) / sha256[:2] / name

    def get(self, sha256: str, side: int) -> Image.Image | None:
        path = self.path_for(sha256, side)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except Exception:  # noqa: BLE001 - a damaged cache file is a miss, and is replaced
            log.info("damaged thumbnail cache file %s, replacing it", path)
            return None
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return image.convert("RGB") if image.mode != "RGB" else image

    def put(self, sha256: str, side: int, image: Image.Image) -> None:
        """Store a thumbnail; failures (full disk, read-only cache) only cost the cache."""
        path = self.path_for(sha256, side)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(buffer.getvalue())
            os.replace(temp, path)
        except OSError as exc:
            log.info("cannot cache a thumbnail in %s: %s", self.folder, exc)
            temp.unlink(missing_ok=True)
            return
        with self._lock:
            self._written += len(buffer.getvalue())
            due = self._known_size is None or self._known_size + self._written > self.max_bytes
        if due:
            self.prune()

    def size(self) -> int:
        return sum(size for _, size, _ in self._files())

    def prune(self) -> int:
        """Delete the least recently used files until the folder is under ``PRUNE_TO`` of the
        limit (only when it is over the limit); returns the bytes left."""
        files = self._files()
        total = sum(size for _, size, _ in files)
        if total > self.max_bytes:
            files.sort(key=lambda f: f[2])
            for path, size, _ in files:
                if total <= self.max_bytes * PRUNE_TO:
                    break
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass  # another process pruned it first
                except OSError:
                    continue
                total -= size
        with self._lock:
            self._known_size, self._written = total, 0
        return total

    def _files(self) -> list[tuple[Path, int, float]]:
        out = []
        for root, _dirs, names in os.walk(self.folder):
            for name in names:
                if not name.endswith(".jpg"):
                    continue
                path = Path(root) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                out.append((path, stat.st_size, stat.st_mtime))
        return out
