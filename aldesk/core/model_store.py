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
    """Store a new model version with its predictions in one transaction; returns the version."""
    ids = np.ascontiguousarray(item_ids, dtype=np.int64)
    p = np.ascontiguousarray(probs, dtype=np.float16)
    if p.shape != (len(ids), len(class_ids)):
        raise ValueError(f"predictions of shape {p.shape} for {len(ids)} items, {len(class_ids)} classes")
    with project.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO models(created_at, set_id, head, n_labels, class_ids, params, metrics)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (time.time(), set_id, head, n_labels, json.dumps(class_ids), params, json.dumps(metrics)),
        )
        version = int(cursor.lastrowid)
        conn.execute(
            "INSERT INTO predictions(model_version, item_ids, probs) VALUES (?, ?, ?)",
            (version, ids.tobytes(), p.tobytes()),
        )
        conn.execute(
            "DELETE FROM predictions WHERE model_version NOT IN"
            " (SELECT model_version FROM predictions ORDER BY model_version DESC LIMIT ?)",
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
    row = project.conn.execute(
        "SELECT m.class_ids, p.item_ids, p.probs FROM predictions p"
        " JOIN models m ON m.version = p.model_version WHERE p.model_version = ?",
        (version,),
    ).fetchone()
    if row is None:
        return None
    n_classes = len(json.loads(row[0]))
    ids = np.frombuffer(row[1], dtype=np.int64)
    probs = np.frombuffer(row[2], dtype=np.float16).reshape(len(ids), n_classes).astype(np.float32)
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
