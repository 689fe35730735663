"""Cached embeddings: one set per backbone identity, stored in chunks of items.

Plain numpy and SQLite: the learning engine computes vectors, this module keeps them. Vectors
are float16 (half the size; the heads train in float32 anyway).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from aldesk.core.store import Project


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
    return EmbeddingSet(int(cursor.lastrowid), backbone, identity, dim)


def find_set(project: Project, identity: str) -> EmbeddingSet | None:
    if not project.has_table("embedding_sets"):
        return None
    row = project.conn.execute(
        "SELECT id, backbone, identity, dim FROM embedding_sets WHERE identity = ?", (identity,)
    ).fetchone()
    return EmbeddingSet(*row) if row else None


def latest_set(project: Project) -> EmbeddingSet | None:
    """The set most recently written to: the backbone the project is using."""
    if not project.has_table("embedding_sets"):
        return None
    row = project.conn.execute(
        "SELECT s.id, s.backbone, s.identity, s.dim FROM embedding_sets s"
        " LEFT JOIN embedding_chunks c ON c.set_id = s.id"
        " GROUP BY s.id ORDER BY max(coalesce(c.id, 0)) DESC, s.id DESC LIMIT 1"
    ).fetchone()
    return EmbeddingSet(*row) if row else None


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
        for (blob,) in project.conn.execute(
            "SELECT item_ids FROM embedding_chunks WHERE set_id = ? ORDER BY id", (set_id,)
        )
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def load_embeddings(project: Project, embedding_set: EmbeddingSet) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, float16 vectors) of every embedded item still in the project, sorted by id."""
    ids_parts, vec_parts = [], []
    for blob_ids, blob_vecs in project.conn.execute(
        "SELECT item_ids, vectors FROM embedding_chunks WHERE set_id = ? ORDER BY id",
        (embedding_set.id,),
    ):
        ids_parts.append(np.frombuffer(blob_ids, dtype=np.int64))
        vec_parts.append(np.frombuffer(blob_vecs, dtype=np.float16).reshape(-1, embedding_set.dim))
    if not ids_parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, embedding_set.dim), dtype=np.float16)
    ids = np.concatenate(ids_parts)
    vectors = np.concatenate(vec_parts)
    present = np.fromiter((row[0] for row in project.conn.execute("SELECT id FROM items")), dtype=np.int64)
    # Keep the last vector of an item embedded twice, and only items still in the project.
    _, last = np.unique(ids[::-1], return_index=True)
    keep = len(ids) - 1 - last
    keep = keep[np.isin(ids[keep], present)]
    order = np.argsort(ids[keep])
    return ids[keep][order], vectors[keep][order]
