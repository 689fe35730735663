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


# Predictions are stored in rows of this many items (0.9 MB at 10 classes): each row is its own
# short transaction, so a label committed meanwhile waits for one row at most, never for the
# 28 MB of a million items.
PREDICTION_CHUNK_ROWS = 32_768


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
    return commit_model(project, version, set_id=set_id, head=head, n_labels=n_labels, class_ids=class_ids,
                        params=params, metrics=metrics)


def reserve_version(project: Project) -> int:
    """The version the next model gets. Removes the chunks of a write that never got its model
    row (the app was killed meanwhile). One model is written at a time: the project lock admits
    one process, and the app writes one result after the other."""
    with project.transaction() as conn:
        conn.execute("DELETE FROM prediction_chunks WHERE model_version NOT IN (SELECT version FROM models)")
        return int(conn.execute("SELECT coalesce(max(version), 0) FROM models").fetchone()[0]) + 1


def write_predictions(
    project: Project, version: int, item_ids: np.ndarray, probs: np.ndarray, n_classes: int,
    *, rows: int = PREDICTION_CHUNK_ROWS,
) -> None:
    """The predictions of a model not stored yet, one transaction per ``rows`` items, after
    ``prune_predictions``. ``project`` may be a second connection used by a background thread
    (store.second_connection)."""
    prune_predictions(project)
    ids = np.ascontiguousarray(item_ids, dtype=np.int64)
    p = np.ascontiguousarray(probs, dtype=np.float16)
    if p.shape != (len(ids), n_classes):
        raise ValueError(f"predictions of shape {p.shape} for {len(ids)} items, {n_classes} classes")
    for first in range(0, max(len(ids), 1), rows):  # an empty pool still gets its (empty) row
        with project.transaction() as conn:
            conn.execute(
                "INSERT INTO prediction_chunks(model_version, first_row, item_ids, probs) VALUES (?, ?, ?, ?)",
                (version, first, ids[first:first + rows].tobytes(), p[first:first + rows].tobytes()),
            )


def prune_predictions(project: Project, keep: int = KEEP_PREDICTIONS - 1) -> None:
    """Drop the predictions of all but the newest ``keep`` models, one chunk row per transaction
    (a background writer does this before writing a new model's, so adding the model's row
    later has nothing left to delete on the GUI thread)."""
    rows = project.conn.execute(
        "SELECT model_version, first_row FROM prediction_chunks WHERE model_version IN"
        " (SELECT version FROM models ORDER BY version DESC LIMIT -1 OFFSET ?)", (keep,)).fetchall()
    for version, first in rows:
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
            "DELETE FROM prediction_chunks WHERE model_version NOT IN"
            " (SELECT version FROM models ORDER BY version DESC LIMIT ?)",
            (KEEP_PREDICTIONS,),
        )
    return version


def latest_model(project: Project) -> ModelRecord | None:
    if not project.has_table("models"):
        return None
    row = project.conn.execute(
        "SELECT version, created_at, set_id, head, n_labels, class_ids, params, metrics"
        " FROM models ORDER BY version DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    version, created, set_id, head, n_labels, class_ids, params, metrics = row
    return ModelRecord(version, created, set_id, head, n_labels, json.loads(class_ids), bytes(params), json.loads(metrics))


def load_predictions(project: Project, version: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(item ids, float32 probabilities) of a model version, or None if pruned."""
    row = project.conn.execute("SELECT class_ids FROM models WHERE version = ?", (version,)).fetchone()
    if row is None:
        return None
    n_classes = len(json.loads(row[0]))
    # A file opened read-only keeps its schema: before step 6 one row held all predictions.
    table = "prediction_chunks" if project.has_table("prediction_chunks") else "predictions"
    order = " ORDER BY first_row" if table == "prediction_chunks" else ""
    chunks = project.conn.execute(
        f"SELECT item_ids, probs FROM {table} WHERE model_version = ?{order}", (version,)).fetchall()
    if not chunks:
        return None
    ids = np.concatenate([np.frombuffer(c[0], dtype=np.int64) for c in chunks])
    probs = np.empty((len(ids), n_classes), dtype=np.float32)
    done = 0
    for _, blob in chunks:
        part = np.frombuffer(blob, dtype=np.float16).reshape(-1, n_classes)
        probs[done:done + len(part)] = part
        done += len(part)
    return ids, probs


def model_history(project: Project) -> list[tuple[int, float, int, dict[str, Any]]]:
    """(version, created_at, n_labels, metrics) of every model, oldest first: the learning curve."""
    if not project.has_table("models"):
        return []
    return [
        (v, c, n, json.loads(m))
        for v, c, n, m in project.conn.execute(
            "SELECT version, created_at, n_labels, metrics FROM models ORDER BY version"
        )
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
