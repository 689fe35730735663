"""The worker's pool features kept on disk between app starts (large pools only).

Building a million-item pool projects 1M x 1,280 vectors onto 256 directions: 30 s to two
minutes of CPU on a 2-core machine, paid at every app start before the first model. The result
depends only on the stored embeddings, so it is kept in the user's cache folder (platformdirs),
never beside the project: the project stays one file, and the cache can be deleted at any time.

The key covers everything the features depend on: the project file (path and creation time),
the embedding set's identity, the newest chunk read and a hash of the item ids, and the
settings of the build. The features are float32 exactly as computed (the model export refits the
projection and must reproduce every stored prediction), memory-mapped copy-on-write when loaded.
Files are written under a temporary name and renamed, so two windows never see half a cache;
only the ``KEEP`` most recently used pools stay.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import platformdirs
import torch

from aldesk.ml.features import Whitening

log = logging.getLogger("aldesk.pool_cache")

KEEP = 2
_VERSION = "1"


def default_folder() -> Path:
    return Path(platformdirs.user_cache_dir("aldesk", appauthor=False)) / "pools"


def pool_cache_key(
    project_path: Path, created_at: str | None, identity: str, last_chunk: int, item_ids: np.ndarray, settings: tuple[object, ...]
) -> str:
    digest = hashlib.sha256()
    for part in (_VERSION, str(Path(project_path).resolve()), created_at or "", identity, str(last_chunk), repr(settings)):
        digest.update(part.encode() + b"\0")
    digest.update(np.ascontiguousarray(item_ids, dtype=np.int64).tobytes())
    return digest.hexdigest()[:32]


def load(key: str, folder: Path | None = None) -> tuple[Whitening, torch.Tensor, np.ndarray] | None:
    """(whitening, z, anchors) stored under ``key``, or None (absent, damaged, unreadable)."""
    where = (folder or default_folder()) / key
    try:
        meta = np.load(where / "meta.npz")
        z = np.load(where / "z.npy", mmap_mode="c")  # copy-on-write: pages shared until written
        whitening = Whitening(meta["mean"], meta["components"], float(meta["scale"]))
        anchors = meta["anchors"]
        os.utime(where)  # recently used: kept when older pools are dropped
    except Exception as exc:  # noqa: BLE001 - any unreadable entry (even a broken zip) is a miss
        if where.exists():
            log.info("pool cache %s unreadable (%s); computing the pool again", where, exc)
        return None
    if z.ndim != 2 or z.shape[1] != whitening.dim or z.dtype != np.float32:
        return None
    return whitening, torch.from_numpy(z), anchors


def save(key: str, whitening: Whitening, z: torch.Tensor, anchors: np.ndarray, folder: Path | None = None) -> bool:
    """Store the pool's features; a failure (full disk, read-only cache) only costs the cache."""
    root = folder or default_folder()
    final = root / key
    temp = root / f".{key}.{os.getpid()}.tmp"
    try:
        temp.mkdir(parents=True, exist_ok=True)
        np.save(temp / "z.npy", z.numpy())
        np.savez(
            temp / "meta.npz",
            mean=whitening.mean,
            components=whitening.components,
            scale=np.float64(whitening.scale),
            anchors=anchors,
        )
        if final.exists():
            shutil.rmtree(temp, ignore_errors=True)  # another window stored it meanwhile
        else:
            os.replace(temp, final)
    except OSError as exc:
        log.info("cannot keep the pool in %s: %s", root, exc)
        shutil.rmtree(temp, ignore_errors=True)
        return False
    _drop_old(root)
    return True


def _drop_old(root: Path) -> None:
    pools = []
    for entry in root.iterdir():
        if entry.is_dir() and not entry.name.startswith("."):
            try:
                pools.append((entry.stat().st_mtime, entry))
            except OSError:
                continue
    for _mtime, entry in sorted(pools, reverse=True)[KEEP:]:
        shutil.rmtree(entry, ignore_errors=True)
    for entry in root.glob(".*.tmp"):  # left by a process that died while writing, long ago
        try:
            if time.time() - entry.stat().st_mtime > 3600:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
