"""The learning engine applied to a project: embed its items, train a model, pick the queue.

Reading the project (``take_snapshot``) and writing results (``save_model``, ``replace_queue``)
are separate from the computing in between, so the desktop worker can compute on a snapshot in
its thread while the GUI thread alone writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aldesk.core import model_store, vectors
from aldesk.core.classes import list_classes
from aldesk.core.errors import AldeskError
from aldesk.core.imageio import load_image
from aldesk.core.labels import audit_items
from aldesk.core.queue import QueuedItem
from aldesk.core.store import Project
from aldesk.ml import engine, scratch_cnn
from aldesk.ml.backbones import Backbone
from aldesk.ml.embed import embed_sources
from aldesk.ml.heads import LinearHead

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


# --- embedding ------------------------------------------------------------------------------


@dataclass
class EmbedReport:
    backbone: str
    embedded: int = 0
    already: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False


def embed_project(
    project: Project,
    backbone: Backbone,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    batch_size: int | None = None,
) -> EmbedReport:
    """Embed every item not yet embedded with this backbone; each chunk is committed as it
    finishes, so an interrupted run resumes where it stopped."""
    eset = vectors.get_or_create_set(project, backbone.spec.name, backbone.identity, backbone.spec.dim)
    done = set(vectors.embedded_ids(project, eset.id).tolist())
    todo = [(i, p) for i, p in project.conn.execute("SELECT id, path FROM items ORDER BY id") if i not in done]
    report = EmbedReport(backbone=backbone.spec.name, already=len(done))
    ids = np.array([i for i, _ in todo], dtype=np.int64)
    paths = [project.resolve(p) for _, p in todo]
    sources = [lambda path=path: load_image(path, max_side=backbone.load_side) for path in paths]
    for chunk in embed_sources(backbone, sources, batch_size=batch_size, progress=progress, cancel=cancel):
        if len(chunk.positions):
            vectors.add_chunk(project, eset.id, ids[chunk.positions], chunk.vectors)
            report.embedded += len(chunk.positions)
        report.failed.extend((str(paths[pos]), reason) for pos, reason in chunk.failures)
    report.cancelled = bool(cancel and cancel())
    return report


# --- training -------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Everything a training job needs, read from the project at one moment."""

    set_id: int
    backbone: str
    item_ids: np.ndarray  # embedded items, sorted
    vectors: np.ndarray  # [N, d] float16
    class_ids: list[int]  # project classes in order; a class index is a position here
    labeled: np.ndarray  # pool indices of labeled items
    y: np.ndarray  # their class indices
    eligible: np.ndarray  # [N] bool: unlabeled, not skipped or unsure
    previous: LinearHead | scratch_cnn.CnnHead | None  # the latest model with the same classes, for a warm start
    previous_version: int | None
    audit: np.ndarray | None = None  # [len(labeled)] bool: labels of uniformly drawn audit items
    label_order: np.ndarray | None = None  # [len(labeled)] time rank of each label (0 = oldest)


def take_snapshot(project: Project) -> Snapshot:
    eset = vectors.latest_set(project)
    if eset is None:
        raise AldeskError(f"{project.path} has no embeddings yet; run: aldesk embed {project.path}")
    item_ids, vecs = vectors.load_embeddings(project, eset)
    classes = list_classes(project)
    class_ids = [c.id for c in classes]
    position_of_class = {cid: pos for pos, cid in enumerate(class_ids)}
    status = dict(project.conn.execute("SELECT id, status FROM items"))
    labels = dict(project.conn.execute("SELECT id, label_class_id FROM items WHERE status = 'labeled'"))
    index_of = {int(item): pos for pos, item in enumerate(item_ids)}
    labeled = np.array([index_of[i] for i in labels if i in index_of], dtype=np.int64)
    y = np.array([position_of_class[labels[int(item_ids[p])]] for p in labeled], dtype=np.int64)
    eligible = np.array([status.get(int(i)) == "unlabeled" for i in item_ids], dtype=bool)
    latest = model_store.latest_model(project)
    previous = None
    if latest is not None and latest.class_ids == class_ids and latest.set_id == eset.id:
        previous = scratch_cnn.head_from_bytes(latest.head, latest.params)  # linear or cnn, as stored
    audit_ids = set(audit_items(project))
    labeled_at = dict(project.conn.execute("SELECT id, labeled_at FROM items WHERE status = 'labeled'"))
    times = np.array([labeled_at[int(item_ids[p])] or 0.0 for p in labeled], dtype=np.float64)
    return Snapshot(
        eset.id, eset.backbone, item_ids, vecs, class_ids, labeled, y, eligible, previous,
        latest.version if latest else None,
        audit=np.array([int(item_ids[p]) in audit_ids for p in labeled], dtype=bool),
        label_order=np.argsort(np.argsort(times, kind="stable"), kind="stable"),
    )


@dataclass
class TrainResult:
    head: LinearHead | scratch_cnn.CnnHead
    probs: np.ndarray
    metrics: dict[str, Any]


def train_snapshot(
    snapshot: Snapshot, pool: engine.PoolModel, *, head: str = "default", cancel: Cancel | None = None
) -> TrainResult:
    # On the weight-free pixels backbone the app's head is the small CNN trained from scratch.
    head = scratch_cnn.default_head(snapshot.backbone, head)
    init = scratch_cnn.warm_start_for(head, snapshot.previous)
    if head == scratch_cnn.NAME:
        model, metrics = scratch_cnn.train_head(
            pool, snapshot.labeled, snapshot.y, len(snapshot.class_ids), init=init, cancel=cancel
        )
    else:
        model, metrics = engine.train_head(
            pool, snapshot.labeled, snapshot.y, len(snapshot.class_ids), head=head, init=init
        )
    probs = model.predict_proba(scratch_cnn.pool_input(model, pool)).numpy()
    return TrainResult(model, probs, metrics)


def previous_predictions(project: Project, snapshot: Snapshot) -> np.ndarray | None:
    """The previous model's predicted class for each pool item (-1 where it made none), to
    measure how much a new model changes; None when there is no comparable previous model."""
    if snapshot.previous_version is None or snapshot.previous is None:
        return None
    stored = model_store.load_predictions(project, snapshot.previous_version)
    if stored is None:
        return None
    ids, probs = stored
    out = np.full(len(snapshot.item_ids), -1, dtype=np.int64)
    where = np.searchsorted(snapshot.item_ids, ids)
    where = np.clip(where, 0, max(len(snapshot.item_ids) - 1, 0))
    found = snapshot.item_ids[where] == ids
    out[where[found]] = probs[found].argmax(1)
    return out


def evaluate_snapshot(
    snapshot: Snapshot, pool: engine.PoolModel, result: TrainResult, previous: np.ndarray | None,
    cancel: Cancel | None = None,
) -> dict[str, Any]:
    """Accuracy estimate from the audit labels, gain per 100 labels, agreement with the
    previous model (aldesk/ml/audit.py explains each)."""
    from aldesk.ml.audit import evaluate_model

    audit = snapshot.audit if snapshot.audit is not None else np.zeros(len(snapshot.y), dtype=bool)
    order = snapshot.label_order if snapshot.label_order is not None else np.arange(len(snapshot.y))
    return evaluate_model(
        pool, snapshot.labeled, snapshot.y, audit, order, len(snapshot.class_ids),
        head=result.metrics.get("head", "default"), init=result.head, probs=result.probs,
        previous_predictions=previous, cancel=cancel,
    )


def save_training(project: Project, snapshot: Snapshot, result: TrainResult) -> int:
    return model_store.save_model(
        project, set_id=snapshot.set_id, head=result.metrics["head"], n_labels=len(snapshot.y),
        class_ids=snapshot.class_ids, params=result.head.to_bytes(), metrics=result.metrics,
        item_ids=snapshot.item_ids, probs=result.probs,
    )


# --- querying -------------------------------------------------------------------------------


def pick_queue(
    snapshot: Snapshot,
    pool: engine.PoolModel,
    probs: np.ndarray | None,
    model_version: int | None,
    *,
    n: int,
    strategy: str = "default",
    seed: int | None = None,
) -> list[QueuedItem]:
    """The next ``n`` items to ask, each with the strategy, score and rank that chose it."""
    from aldesk.ml.strategies import PoolState, get_strategy

    state = PoolState(
        z=pool.z, eligible=snapshot.eligible, probs=probs,
        label_counts=np.bincount(snapshot.y, minlength=len(snapshot.class_ids)),
        rng=np.random.default_rng(seed),
    )
    chooser = get_strategy(strategy)
    if probs is None and strategy not in ("default", "typical", "random"):
        raise AldeskError(f"The {strategy!r} strategy needs a trained model; run aldesk train first.")
    selection = chooser.select(state, n)
    return [
        QueuedItem(int(snapshot.item_ids[i]), rank, model_version, selection.strategy, float(score))
        for rank, (i, score) in enumerate(zip(selection.indices, selection.scores), start=1)
    ]
