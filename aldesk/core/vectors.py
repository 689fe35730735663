"""Cached embeddings: one set per backbone identity, stored in chunks of items.

Plain numpy and SQLite: the learning engine computes vectors, this module keeps them. Vectors
are float16 (half the size; the heads train in float32 anyway).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project, inserted_id


@dataclass(frozen=True)
class EmbeddingSet:
    id: int
    backbone: str
    identity: str
    dim: int


def get_or_create_set(project: Project, backbone: str, identity: str, dim: int) -> EmbeddingSet:
    found = find_set(project, identity)
    if found is not None:
        return found
    with project.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO embedding_sets(backbone, identity, dim, created_at) VALUES (?, ?, ?, ?)",
            (backbone, identity, dim, time.time()),
        )
    return EmbeddingSet(inserted_id(cursor), backbone, identity, dim)


def find_set(project: Project, identity: str) -> EmbeddingSet | None:
    if not project.has_table("embedding_sets"):
        return None
    row = project.conn.execute(
        "SELECT id, backbone, identity, dim FROM embedding_sets WHERE identity = ?", (identity,)
    ).fetchone()
    return EmbeddingSet(*row) if row else None


def find_set_by_id(project: Project, set_id: int) -> EmbeddingSet:
    row = project.conn.execute("SELECT id, backbone, identity, dim FROM embedding_sets WHERE id = ?", (set_id,)).fetchone()
    if row is None:
        raise AldeskError(f"{project.path} has no embedding set {set_id} (deleted meanwhile?); try again.")
    return EmbeddingSet(*row)


def add_chunk(project: Project, set_id: int, item_ids: np.ndarray, vectors: np.ndarray) -> None:
    """Store one chunk in its own transaction: an interrupted run keeps every finished chunk."""
    ids = np.ascontiguousarray(item_ids, dtype=np.int64)
    vecs = np.ascontiguousarray(vectors, dtype=np.float16)
    if vecs.ndim != 2 or len(ids) != len(vecs):
        raise ValueError(f"{len(ids)} item ids for vectors of shape {vecs.shape}")
    with project.transaction() as conn:
        conn.execute(
            "INSERT INTO embedding_chunks(set_id, count, item_ids, vectors) VALUES (?, ?, ?, ?)",
            (set_id, len(ids), ids.tobytes(), vecs.tobytes()),
        )


def embedded_ids(project: Project, set_id: int) -> np.ndarray:
    parts = [
        np.frombuffer(blob, dtype=np.int64)
        for (blob,) in project.conn.execute("SELECT item_ids FROM embedding_chunks WHERE set_id = ? ORDER BY id", (set_id,))
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def all_item_ids(project: Project) -> np.ndarray:
    """Every item id of the project, sorted.

    Ids are assigned in order and rarely deleted, so they are usually one unbroken range: then
    two aggregates of the primary key give them all (reading a million ids row by row took
    ~0.4 s of every refresh on the 1M benchmark project).
    """
    low, high, count = project.conn.execute("SELECT min(id), max(id), count(*) FROM items").fetchone()
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if high - low + 1 == count:
        return np.arange(low, high + 1, dtype=np.int64)
    return np.fromiter((row[0] for row in project.conn.execute("SELECT id FROM items ORDER BY id")), dtype=np.int64)


def unembedded(project: Project, set_id: int | None) -> list[tuple[int, str]]:
    """(item id, stored path) of every item without a vector in this set, by id.

    Compared as sorted arrays, and paths read only for the missing items: on a million items
    that are all embedded (every app start) this reads two id columns, not a million paths into
    a Python set.
    """
    all_ids = all_item_ids(project)
    # Sorted, duplicates kept (a binary search does not mind them): numpy's np.unique hashes
    # and took 0.6 s on a million ids, a sort 0.05 s.
    done = np.sort(embedded_ids(project, set_id)) if set_id is not None else np.zeros(0, dtype=np.int64)
    missing = all_ids[~_sorted_member(all_ids, done)]
    if len(missing) > _PATHS_BY_ID:
        wanted = set(missing.tolist())
        return [(i, p) for i, p in project.conn.execute("SELECT id, path FROM items ORDER BY id") if i in wanted]
    out: list[tuple[int, str]] = []
    for start in range(0, len(missing), 900):  # under SQLite's oldest limit of 999 parameters
        part = missing[start : start + 900].tolist()
        out.extend(
            project.conn.execute(f"SELECT id, path FROM items WHERE id IN ({','.join('?' * len(part))}) ORDER BY id", part)
        )
    return out


_PATHS_BY_ID = 50_000  # above this many missing items one scan of all paths is cheaper


@dataclass(frozen=True)
class Layout:
    """Where each stored vector of a set goes in the loaded pool, worked out from the item ids
    alone (8 bytes per item) before any vector is read.

    ``ids``: the pool's item ids, sorted. Stored vectors are numbered in chunk order; ``dest[k]``
    is the pool row of stored vector k, or -1 (a superseded duplicate, or an item since deleted).
    ``last_chunk`` bounds the chunks read later, so a chunk added meanwhile cannot shift rows.
    """

    ids: np.ndarray
    dest: np.ndarray
    last_chunk: int


def embedding_layout(project: Project, embedding_set: EmbeddingSet) -> Layout:
    ids_parts, last_chunk = [], 0
    for chunk_id, blob in project.conn.execute(
        "SELECT id, item_ids FROM embedding_chunks WHERE set_id = ? ORDER BY id", (embedding_set.id,)
    ):
        ids_parts.append(np.frombuffer(blob, dtype=np.int64))
        last_chunk = chunk_id
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
    present = all_item_ids(project)
    # Keep the last vector of an item embedded twice, and only items still in the project.
    _, last = np.unique(ids[::-1], return_index=True)
    keep = len(ids) - 1 - last  # stored positions, in increasing item id order
    keep = keep[_sorted_member(ids[keep], present)]
    dest = np.full(len(ids), -1, dtype=np.int64)
    dest[keep] = np.arange(len(keep))
    return Layout(ids[keep], dest, last_chunk)


def iter_vectors(project: Project, embedding_set: EmbeddingSet, layout: Layout) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(pool rows, float16 vectors) chunk by chunk: one chunk's blob in memory at a time."""
    offset = 0
    for blob in _vector_blobs(project, embedding_set, layout.last_chunk):
        vecs = np.frombuffer(blob, dtype=np.float16).reshape(-1, embedding_set.dim)
        dest = layout.dest[offset : offset + len(vecs)]
        offset += len(vecs)
        wanted = dest >= 0
        if wanted.all():
            yield dest, vecs
        elif wanted.any():
            yield dest[wanted], vecs[wanted]


def load_embeddings(project: Project, embedding_set: EmbeddingSet) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, float16 vectors) of every embedded item still in the project, sorted by id.

    Filled chunk by chunk into one array: at a million 1,280-d items that array is 2.56 GB, and
    concatenating the chunks first would need twice that (measured in benchmarks/bench_scale.py).
    """
    layout = embedding_layout(project, embedding_set)
    out = np.empty((len(layout.ids), embedding_set.dim), dtype=np.float16)
    for rows, vecs in iter_vectors(project, embedding_set, layout):
        out[rows] = vecs
    return layout.ids, out


def _vector_blobs(project: Project, embedding_set: EmbeddingSet, last_chunk: int) -> Iterator[bytes]:
    # One row at a time (not fetchall): the cursor holds a single blob.
    for (blob,) in project.conn.execute(
        "SELECT vectors FROM embedding_chunks WHERE set_id = ? AND id <= ? ORDER BY id", (embedding_set.id, last_chunk)
    ):
        yield blob


def _sorted_member(values: np.ndarray, sorted_pool: np.ndarray) -> np.ndarray:
    """values[i] in sorted_pool, for a sorted pool (a binary search; no hashing of a million ids)."""
    if len(sorted_pool) == 0:
        return np.zeros(len(values), dtype=bool)
    where = np.clip(np.searchsorted(sorted_pool, values), 0, len(sorted_pool) - 1)
    found: np.ndarray = sorted_pool[where] == values
    return found
