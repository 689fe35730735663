"""Shard files: embeddings computed away from the project, as one ``.npz`` per group of items.

A cluster worker never opens the project (one writer, a file lock, often on another machine);
it writes what it computed into a shard file, and the machine that holds the project ingests
it. So a shard carries everything needed to check it belongs where it is ingested: the item
ids *and* their stored paths (a shard from another project, or from before a re-import, is
refused rather than attached to the wrong pictures), and the backbone identity.

Arrays in the file (``np.savez``, uncompressed: float16 features barely compress):

- ``meta``: a JSON string: format, backbone, identity, dim, aldesk version, host, seconds
- ``ids``: int64 [n], every item the shard was asked to embed, in order
- ``paths``: uint8, the items' stored paths, UTF-8, NUL-separated (paths never hold NUL)
- ``embedded``: bool [n], which of them were embedded
- ``vectors``: float16 [embedded.sum(), dim], their features in the same order
- ``reasons``: uint8, why each of the others failed, NUL-separated

Nothing here imports torch: ingesting needs numpy and the project only.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aldesk.core.errors import AldeskError

FORMAT = 1
SUFFIX = ".npz"
PREFIX = "shard-"
_SEP = "\0"


class ShardError(AldeskError):
    """A shard file that cannot be used; the message names it and says why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"Shard {path} {reason}")
        self.path = path
        self.reason = reason


@dataclass
class Shard:
    """A shard file's contents; ``vectors`` are read (and CRC-checked) on first use."""

    path: Path
    meta: dict[str, Any]  # the JSON object
    ids: np.ndarray
    paths: list[str]
    embedded: np.ndarray
    reasons: list[str]
    _vectors: np.ndarray | None = None

    @property
    def identity(self) -> str:
        return str(self.meta["identity"])

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = _read_vectors(self.path, len(self.ids), int(self.embedded.sum()), self.dim)
        return self._vectors

    def failures(self) -> list[tuple[int, str, str]]:
        """(item id, stored path, reason) of every item the shard could not embed."""
        failed = np.flatnonzero(~self.embedded)
        return [(int(self.ids[i]), self.paths[i], reason) for i, reason in zip(failed, self.reasons)]


def shard_name(run: str, number: int) -> str:
    """``shard-<run>-000123.npz``: the run token keeps a new run's names apart from files an
    earlier run's still-running tasks may write later."""
    return f"{PREFIX}{run}-{number:06d}{SUFFIX}"


def list_shards(folder: Path) -> list[Path]:
    """Finished shard files under ``folder`` (any depth), sorted; temporary files excluded."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob(f"{PREFIX}*{SUFFIX}") if p.is_file())


def write_shard(
    path: Path,
    *,
    meta: dict[str, Any],
    ids: np.ndarray,
    paths: list[str],
    embedded: np.ndarray,
    vectors: np.ndarray,
    reasons: list[str],
) -> None:
    """Write atomically: a temporary name in the same folder, flushed to disk, then renamed,
    so a reader sees a complete file or none (a killed worker leaves only a ``.tmp-*`` file)."""
    if len(paths) != len(ids) or len(embedded) != len(ids) or len(vectors) != int(np.sum(embedded)):
        raise ValueError("shard arrays disagree in length")
    if len(reasons) != len(ids) - int(np.sum(embedded)):
        raise ValueError("one failure reason per item not embedded")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(3).hex()}")
    arrays = {
        "meta": np.array(json.dumps({"format": FORMAT, **meta})),
        "ids": np.ascontiguousarray(ids, dtype=np.int64),
        "paths": _pack(paths),
        "embedded": np.ascontiguousarray(embedded, dtype=bool),
        "vectors": np.ascontiguousarray(vectors, dtype=np.float16).reshape(-1, int(meta["dim"])),
        "reasons": _pack(reasons),
    }
    try:
        with open(tmp, "wb") as fh:
            # mypy matches **arrays against savez's allow_pickle: bool too; the keys are array names.
            np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_shard(path: Path) -> Shard:
    """The shard's ids, paths and metadata, checked for consistency (vectors read later).

    Raises ShardError for a truncated, damaged or foreign file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"meta", "ids", "paths", "embedded", "vectors", "reasons"} - set(npz.files)
            if missing:
                raise ShardError(path, f"is not an aldesk shard (no {', '.join(sorted(missing))}).")
            meta = json.loads(str(npz["meta"][()]))
            ids = npz["ids"]
            paths = _unpack(npz["paths"])
            embedded = npz["embedded"]
            reasons = _unpack(npz["reasons"])
    except ShardError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ShardError(path, f"is truncated or damaged ({_describe(exc)}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ShardError(
            path,
            f"has format {meta.get('format') if isinstance(meta, dict) else '?'}; "
            f"this aldesk reads format {FORMAT}. Embed with the same aldesk version.",
        )
    for key in ("identity", "backbone", "dim"):
        if key not in meta:
            raise ShardError(path, f"has no {key} in its metadata; it is not an aldesk shard.")
    if ids.dtype != np.int64 or ids.ndim != 1 or embedded.dtype != bool or embedded.shape != ids.shape:
        raise ShardError(path, "has item ids and flags of the wrong type or length.")
    if len(paths) != len(ids) or len(reasons) != len(ids) - int(embedded.sum()):
        raise ShardError(path, f"lists {len(ids)} items but {len(paths)} paths and {len(reasons)} failure reasons.")
    if len(np.unique(ids)) != len(ids):
        raise ShardError(path, "lists an item twice.")
    return Shard(path, meta, ids, paths, embedded, reasons)


def _read_vectors(path: Path, n: int, embedded: int, dim: int) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as npz:
            vectors: np.ndarray = npz["vectors"]  # read to the end: zipfile checks the member's CRC-32
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ShardError(path, f"is truncated or damaged ({_describe(exc)}).") from None
    if vectors.dtype != np.float16 or vectors.shape != (embedded, dim):
        raise ShardError(
            path,
            f"holds vectors of shape {vectors.shape} ({vectors.dtype}); expected ({embedded}, {dim}) float16 for its {n} items.",
        )
    if not np.isfinite(vectors).all():
        raise ShardError(path, "holds vectors that are not finite numbers (damaged, or the backbone overflowed).")
    return vectors


def _pack(texts: list[str]) -> np.ndarray:
    for text in texts:
        if _SEP in text:
            raise ValueError(f"{text!r} contains a NUL character")
    joined = _SEP.join(texts).encode("utf-8", "surrogateescape")
    return np.frombuffer(joined, dtype=np.uint8).copy()


def _unpack(packed: np.ndarray) -> list[str]:
    if packed.dtype != np.uint8 or packed.ndim != 1:
        raise ValueError("text array of the wrong type")
    if packed.size == 0:
        return []  # zero texts; a shard always lists at least one item, so no path is lost here
    return packed.tobytes().decode("utf-8", "surrogateescape").split(_SEP)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__
