"""What a round leaves in the project: its model and the model's predictions (``aldesk train``).

The app's window stores the same row (``model_row``) in steps between key presses
(gui/learning/controller.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aldesk.core import model_store
from aldesk.core.store import Project

if TYPE_CHECKING:  # only the types: the window imports this to store a model, without torch
    from aldesk.ml.loop.round import TrainResult
    from aldesk.ml.loop.snapshot import Snapshot


def model_row(snapshot: Snapshot, result: TrainResult) -> dict[str, Any]:
    """The model's row in the project (``model_store.save_model`` / ``commit_model``'s fields)."""
    return {
        "set_id": snapshot.set_id, "head": result.metrics["head"], "n_labels": len(snapshot.y),
        "class_ids": snapshot.class_ids, "params": result.head.to_bytes(), "metrics": result.metrics,
    }  # fmt: skip


def save_training(project: Project, snapshot: Snapshot, result: TrainResult) -> int:
    """Store a trained model and its predictions for the whole pool; returns its version."""
    assert result.probs is not None, "a model is stored with its predictions: train with RoundSettings.score"
    return model_store.save_model(project, **model_row(snapshot, result), item_ids=snapshot.item_ids, probs=result.probs)
