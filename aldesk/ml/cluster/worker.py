"""The part of a cluster embedding job that runs on a worker: embed one shard, write its file.

Workers import this module by name (aldesk must be installed on them, the same version as the
client); the task carries plain data only. The backbone is loaded once per worker process and
kept, so only the first shard on each worker pays for loading weights.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aldesk import __version__
from aldesk.core.errors import AldeskError
from aldesk.core.imageio import load_image
from aldesk.ml.cluster.shards import shard_name, write_shard

if TYPE_CHECKING:
    from aldesk.ml.encoders import Backbone


@dataclass(frozen=True)
class ShardTask:
    folder: str  # the shard folder as the worker sees it
    run: str
    number: int
    ids: list[int]
    stored: list[str]  # stored paths (checked again when the shard is ingested)
    files: list[str]  # absolute paths as the worker sees them
    backbone: str
    identity: str  # what the client's backbone is; a worker with other weights refuses
    weights: str | None
    device: str | None
    batch_size: int | None


@dataclass(frozen=True)
class ShardDone:
    name: str  # file name inside the shard folder
    embedded: int
    failed: int
    seconds: float
    host: str


_cache: dict[tuple[str, str | None, str | None], Backbone] = {}  # (backbone, weights, device)
_cache_lock = threading.Lock()


def _backbone(task: ShardTask) -> Backbone:
    """The worker process's backbone for this task, loaded on first use."""
    from aldesk.ml.encoders import load_backbone

    key = (task.backbone, task.weights, task.device)
    with _cache_lock:
        if not _cache:
            restore_malloc_thresholds()
        if key not in _cache:
            _cache[key] = load_backbone(task.backbone, Path(task.weights) if task.weights else None, task.device)
        return _cache[key]


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def restore_malloc_thresholds() -> bool:
    """Undo the cost of Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` for torch; True if applied.

    Dask's nanny starts workers with that variable so they hand freed memory back to the OS.
    Setting it also freezes glibc's mmap threshold at 128 KB, so every large tensor of every
    batch is a fresh mmap, page-faulted in and unmapped again: lite0 took 0.077 CPU-s per image
    under that variable instead of 0.056 without it; raising both thresholds to where glibc's own
    adaptive threshold tops out (32 MB) brought it to 0.050 (docs/cluster.md, "Measured").
    """
    if not sys.platform.startswith("linux") or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20))
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to undo there
        return False


def run_shard(task: ShardTask) -> ShardDone:
    """Embed the task's images and write ``shard-<run>-<number>.npz``; return a summary only
    (the vectors travel through the shared folder, not through the scheduler)."""
    from aldesk.ml.encoders.embed import embed_sources

    start = time.perf_counter()
    host = socket.gethostname()
    folder = Path(task.folder)
    if not folder.is_dir():
        raise AldeskError(
            f"Worker {host} cannot see the shard folder {folder}. It must be on storage the workers "
            "and the client share (choose one with --shard-dir, map paths with --path-map)."
        )
    backbone = _backbone(task)
    if backbone.identity != task.identity:
        raise AldeskError(
            f"Worker {host} computes {backbone.identity} with the {task.backbone} backbone, but the "
            f"client computes {task.identity}: its weights file or aldesk version differs. Install "
            "the same aldesk, torch and weights on every worker."
        )
    sources = [lambda f=f: load_image(f, short_side=backbone.load_side) for f in task.files]
    n = len(task.ids)
    embedded = np.zeros(n, dtype=bool)
    out = np.zeros((n, backbone.spec.dim), dtype=np.float16)
    reasons: dict[int, str] = {}
    for chunk in embed_sources(backbone, sources, batch_size=task.batch_size):
        embedded[chunk.positions] = True
        out[chunk.positions] = chunk.vectors
        reasons.update((pos, reason or "unusable") for pos, reason in chunk.failures)
    seconds = time.perf_counter() - start
    name = shard_name(task.run, task.number)
    write_shard(
        folder / name,
        meta={
            "backbone": backbone.spec.name,
            "identity": backbone.identity,
            "dim": backbone.spec.dim,
            "aldesk": __version__,
            "host": host,
            "seconds": round(seconds, 3),
        },
        ids=np.array(task.ids, dtype=np.int64),
        paths=list(task.stored),
        embedded=embedded,
        vectors=out[embedded],
        reasons=[reasons[int(i)] for i in np.flatnonzero(~embedded)],
    )
    return ShardDone(name, int(embedded.sum()), n - int(embedded.sum()), seconds, host)
