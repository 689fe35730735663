"""Trained model versions and their predictions, as the learning engine hands them over.

A head's parameters arrive as bytes (an ``.npz`` written by the engine, never a pickle), the
predictions as a float16 probability array over the model's classes for every embedded item.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project

# Older versions keep their parameters and metrics (the learning curve) but not predictions,
# which dominate the file's size on large pools.
KEEP_PREDICTIONS = 3


@dataclass(frozen=True)
class ModelRecord:
    version: int
    created_at: float
    set_id: int
    head: str
    n_labels: int
    class_ids: list[int]
    params: bytes
    metrics: dict[str, Any]


# Predictions are stored in rows of this many items (0.45 MB at 10 classes, ~3 ms to write):
# each row is its own short transaction, so a label committed meanwhile waits for one row at
# most (store.Project lets it go before the writer's next row), never for the 28 MB of a
# million items. Measured at 1M x 10 with a label every 7-20 ms during the write: rows of 4,096
# to 16,384 items alike (label commit p99 3-6 ms), 32,768 p99 12 ms; smaller rows gain nothing.
PREDICTION_CHUNK_ROWS = 16_384


def save_model(
    project: Project,
    *,
    set_id: int,
    head: str,
    n_labels: int,
    class_ids: list[int],
    params: bytes,
    metrics: dict[str, Any],
    item_ids: np.ndarray,
    probs: np.ndarray,
) -> int:
    """Store a new model version with its predictions; returns the version. The predictions go
    first, in chunk rows, and the model's row last: a reader never sees a model without them."""
    version = reserve_version(project)
    write_predictions(project, version, item_ids, probs, len(class_ids))
    return commit_model(
        project, version, set_id=set_id, head=head, n_labels=n_labels, class_ids=class_ids, params=params, metrics=metrics
    )


def reserve_version(project: Project) -> int:
    """The version the next model gets: past every model and every chunk row, so chunks a killed
    write left behind (no model row) never mix with the new ones. Only reads: the orphans are
    removed by ``write_predictions``, off the GUI thread (at a million items they are 28 MB).
    One model is written at a time: the project lock admits one process, and the app writes one
    result after the other."""
    row = project.conn.execute(
        "SELECT max(coalesce((SELECT max(version) FROM models), 0),"
        " coalesce((SELECT max(model_version) FROM prediction_chunks), 0))"
    ).fetchone()
    return int(row[0]) + 1


def write_predictions(
    project: Project, version: int, item_ids: np.ndarray, probs: np.ndarray, n_classes: int, *, rows: int = PREDICTION_CHUNK_ROWS
) -> None:
    """The predictions of model ``version`` (from ``reserve_version``, no row yet), one
    transaction per ``rows`` items, after removing orphan chunks and ``prune_predictions``.
    ``project`` may be a second connection used by a background thread (store.second_connection)."""
    ids = np.ascontiguousarray(item_ids, dtype=np.int64)
    p = np.ascontiguousarray(probs, dtype=np.float16)
    if p.shape != (len(ids), n_classes):
        raise ValueError(f"predictions of shape {p.shape} for {len(ids)} items, {n_classes} classes")
    _delete_chunks(
        project,
        project.conn.execute(
            "SELECT model_version, first_row FROM prediction_chunks WHERE model_version <> ?"
            " AND model_version NOT IN (SELECT version FROM models) ORDER BY model_version, first_row",
            (version,),
        ).fetchall(),
    )
    prune_predictions(project)
    for first in range(0, max(len(ids), 1), rows):  # an empty pool still gets its (empty) row
        with project.transaction() as conn:
            conn.execute(
                "INSERT INTO prediction_chunks(model_version, first_row, item_ids, probs) VALUES (?, ?, ?, ?)",
                (version, first, ids[first : first + rows].tobytes(), p[first : first + rows].tobytes()),
            )


def prune_predictions(project: Project, keep: int = KEEP_PREDICTIONS - 1) -> None:
    """Drop the predictions of all but the newest ``keep`` models, one chunk row per transaction
    (a background writer does this before writing a new model's, so adding the model's row
    later has nothing left to delete on the GUI thread)."""
    _delete_chunks(
        project,
        project.conn.execute(
            "SELECT model_version, first_row FROM prediction_chunks WHERE model_version IN"
            " (SELECT version FROM models ORDER BY version DESC LIMIT -1 OFFSET ?)"
            " ORDER BY model_version, first_row",
            (keep,),
        ).fetchall(),
    )


def _delete_chunks(project: Project, chunks: list[tuple[int, int]]) -> None:
    """One short transaction per chunk row, first rows first: a model whose deletion was cut
    short (the app was killed) lacks its chunk 0, which ``load_predictions`` notices."""
    for version, first in chunks:
        with project.transaction() as conn:
            conn.execute("DELETE FROM prediction_chunks WHERE model_version = ? AND first_row = ?", (version, first))


def commit_model(
    project: Project,
    version: int,
    *,
    set_id: int,
    head: str,
    n_labels: int,
    class_ids: list[int],
    params: bytes,
    metrics: dict[str, Any],
) -> int:
    """The model's row, once ``write_predictions`` stored its predictions; older versions beyond
    KEEP_PREDICTIONS lose theirs. One short transaction; returns the version."""
    with project.transaction() as conn:
        if conn.execute("SELECT 1 FROM prediction_chunks WHERE model_version = ? LIMIT 1", (version,)).fetchone() is None:
            raise AldeskError(f"The predictions of model {version} were not stored in {project.path}; retrain.")
        conn.execute(
            "INSERT INTO models(version, created_at, set_id, head, n_labels, class_ids, params, metrics)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (version, time.time(), set_id, head, n_labels, json.dumps(class_ids), params, json.dumps(metrics)),
        )
        conn.execute(
            "DELETE FROM prediction_chunks WHERE model_version NOT IN (SELECT version FROM models ORDER BY version DESC LIMIT ?)",
            (KEEP_PREDICTIONS,),
        )
    return version


def latest_model(project: Project) -> ModelRecord | None:
    if not project.has_table("models"):
        return None
    row = project.conn.execute(
        "SELECT version, created_at, set_id, head, n_labels, class_ids, params, metrics FROM models ORDER BY version DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    version, created, set_id, head, n_labels, class_ids, params, metrics = row
    return ModelRecord(version, created, set_id, head, n_labels, json.loads(class_ids), bytes(params), json.loads(metrics))


def load_predictions(project: Project, version: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(item ids, float32 probabilities) of a model version, or None if it has no row or its
    chunks are missing or incomplete (pruned, or a pruning cut short)."""
    row = project.conn.execute("SELECT class_ids FROM models WHERE version = ?", (version,)).fetchone()
    if row is None:
        return None
    n_classes = len(json.loads(row[0]))
    if project.has_table("prediction_chunks"):
        query = "SELECT item_ids, probs, first_row FROM prediction_chunks WHERE model_version = ? ORDER BY first_row"
    else:  # a file opened read-only keeps its schema: before step 6 one row held all predictions
        query = "SELECT item_ids, probs, 0 FROM predictions WHERE model_version = ?"
    chunks = project.conn.execute(query, (version,)).fetchall()
    if not chunks:
        return None
    # Each chunk starts where the previous one ended, the first at row 0; otherwise a chunk is
    # missing (a pruning cut short) and the model has no usable predictions.
    expected = 0
    for item_blob, _, first in chunks:
        if first != expected:
            return None
        expected += len(item_blob) // 8
    ids = np.concatenate([np.frombuffer(c[0], dtype=np.int64) for c in chunks])
    probs = np.empty((len(ids), n_classes), dtype=np.float32)
    done = 0
    for _, blob, _ in chunks:
        part = np.frombuffer(blob, dtype=np.float16).reshape(-1, n_classes)
        probs[done : done + len(part)] = part
        done += len(part)
    return ids, probs


def model_history(project: Project) -> list[tuple[int, float, int, dict[str, Any]]]:
    """(version, created_at, n_labels, metrics) of every model, oldest first: the learning curve."""
    if not project.has_table("models"):
        return []
    return [
        (v, c, n, json.loads(m))
        for v, c, n, m in project.conn.execute("SELECT version, created_at, n_labels, metrics FROM models ORDER BY version")
    ]


def latest_with_predictions(project: Project, purpose: str) -> tuple[ModelRecord, np.ndarray, np.ndarray]:
    """The latest model with its stored (item ids, probabilities); AldeskError saying what to do
    when there is no model yet or its predictions were pruned. ``purpose`` ends the first message
    ("so there is nothing to export")."""
    model = latest_model(project)
    if model is None:
        raise AldeskError(
            f"{project.path} has no trained model yet, {purpose}. Label items of at least two "
            f"classes, then let the app train or run: aldesk train {project.path}"
        )
    stored = load_predictions(project, model.version)
    if stored is None:
        raise AldeskError(f"The predictions of model {model.version} are no longer stored; retrain, then try again.")
    return model, stored[0], stored[1]
