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
import torch

from aldesk.core.disk import reserve_error
from aldesk.core import model_store, vectors
from aldesk.core.classes import list_classes
from aldesk.core.errors import AldeskError
from aldesk.core.imageio import load_image
from aldesk.core.labels import audit_items
from aldesk.core.queue import QueuedItem
from aldesk.core.store import Project
from aldesk.ml.loop import pool as engine
from aldesk.ml.heads import cnn as scratch_cnn
from aldesk.ml.encoders import Backbone
from aldesk.ml.encoders.embed import embed_sources
from aldesk.ml.heads.linear import LinearHead

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
    todo = vectors.unembedded(project, eset.id)
    total = project.conn.execute("SELECT count(*) FROM items").fetchone()[0]
    report = EmbedReport(backbone=backbone.spec.name, already=total - len(todo))
    ids = np.array([i for i, _ in todo], dtype=np.int64)
    paths = [project.resolve(p) for _, p in todo]
    sources = [lambda path=path: load_image(path, max_side=backbone.load_side) for path in paths]
    for chunk in embed_sources(backbone, sources, batch_size=batch_size, progress=progress, cancel=cancel):
        if len(chunk.positions):
            # Embeddings can be computed again, labels cannot: never fill the disk's last 64 MB.
            tight = reserve_error(project.path, incoming=chunk.vectors.nbytes, outcome=(
                f"embedding stopped to keep room for labels ({report.embedded} items embedded now and "
                "every earlier chunk are kept; run the same command again after freeing space)"))
            if tight is not None:
                raise tight
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


def take_snapshot(project: Project, *, load_vectors: bool = True) -> Snapshot:
    """The pool and its labels as stored now. ``load_vectors=False`` leaves ``vectors`` None:
    a caller that keeps its ``PoolModel`` between refreshes (``pool_key``) needs only the ids,
    and at a million 1,280-d items the vectors are 2.56 GB read from the file."""
    eset = vectors.latest_set(project)
    if eset is None:
        raise AldeskError(f"{project.path} has no embeddings yet; run: aldesk embed {project.path}")
    if load_vectors:
        item_ids, vecs = vectors.load_embeddings(project, eset)
    else:
        item_ids, vecs = vectors.embedding_layout(project, eset).ids, None
    classes = list_classes(project)
    class_ids = [c.id for c in classes]
    # Column reads into arrays and binary searches, not Python dicts keyed by a million ids.
    labeled_rows = project.conn.execute(
        "SELECT id, label_class_id, coalesce(labeled_at, 0) FROM items WHERE status = 'labeled' ORDER BY id"
    ).fetchall()
    label_ids = np.array([r[0] for r in labeled_rows], dtype=np.int64)
    label_class = np.array([r[1] for r in labeled_rows], dtype=np.int64)
    label_time = np.array([r[2] for r in labeled_rows], dtype=np.float64)
    pos, found = _positions(item_ids, label_ids)
    labeled = pos[found]
    class_position = np.full(max(class_ids, default=0) + 1, -1, dtype=np.int64)
    class_position[class_ids] = np.arange(len(class_ids))
    y = class_position[label_class[found]]
    # Every embedded item may be asked but the labeled, skipped and unsure ones: the labeled are
    # at hand, and the other two are few (reading the unlabeled ones instead was 880,000 rows).
    set_aside = np.fromiter((r[0] for r in project.conn.execute(
        "SELECT id FROM items WHERE status IN ('skipped', 'unsure')")), dtype=np.int64)
    eligible = np.ones(len(item_ids), dtype=bool)
    eligible[labeled] = False
    spos, sfound = _positions(item_ids, set_aside)
    eligible[spos[sfound]] = False
    latest = model_store.latest_model(project)
    previous = None
    if latest is not None and latest.class_ids == class_ids and latest.set_id == eset.id:
        previous = scratch_cnn.head_from_bytes(latest.head, latest.params)  # linear or cnn, as stored
    audit_ids = np.array(audit_items(project), dtype=np.int64)
    times = label_time[found]
    return Snapshot(
        eset.id, eset.backbone, item_ids, vecs, class_ids, labeled, y, eligible, previous,
        latest.version if latest else None,
        audit=np.isin(item_ids[labeled], audit_ids),
        label_order=np.argsort(np.argsort(times, kind="stable"), kind="stable"),
    )


def _positions(sorted_ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in sorted_ids, found) for each wanted id."""
    if len(sorted_ids) == 0:
        return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
    where = np.clip(np.searchsorted(sorted_ids, wanted), 0, len(sorted_ids) - 1)
    return where, sorted_ids[where] == wanted


def pool_key(snapshot: Snapshot) -> tuple[int, int, int]:
    """What a ``PoolModel`` depends on: the embedding set and which items it covers."""
    ids = snapshot.item_ids
    return (snapshot.set_id, len(ids), int(ids.sum()) if len(ids) else 0)


# Above this many items the pool is built chunk by chunk from the file (``build_pool``).
STREAM_POOL_FROM = 100_000
PROJECT_ROWS = 16_384  # rows projected at once while streaming (42 MB of float16 vectors at 1,280-d)


def build_pool(project: Project, snapshot: Snapshot, *, seed: int = 0) -> engine.PoolModel:
    """The snapshot's ``PoolModel``, equal to ``PoolModel.build(vectors)``.

    On large pools it never holds all raw vectors at once: the whitening is fitted on the same
    sample rows ``fit_whitening`` would draw, then each stored chunk is projected into the
    float32 features as it is read. At a million 1,280-d items that peaks near the 1 GB of
    features instead of 2.56 GB of vectors plus the features (benchmarks/bench_scale.py).
    """
    from aldesk.ml.loop import pool_cache
    from aldesk.ml.device import compute_device
    from aldesk.ml.features import FIT_SAMPLE, MAX_COMPONENTS, fit_whitening

    if snapshot.vectors is not None:
        return engine.PoolModel.build(snapshot.vectors, seed=seed)
    eset = vectors.find_set_by_id(project, snapshot.set_id)
    layout = vectors.embedding_layout(project, eset)
    n = len(layout.ids)
    if not np.array_equal(layout.ids, snapshot.item_ids):
        raise AldeskError(f"The embeddings in {project.path} changed while being read; try again.")
    if n <= STREAM_POOL_FROM or scratch_cnn.reads(np.zeros((0, eset.dim), dtype=np.float16)):
        _, vecs = vectors.load_embeddings(project, eset)  # the cnn head keeps the raw pixels
        return engine.PoolModel.build(vecs, seed=seed)
    # The rows fit_whitening samples from the whole array (same generator, same draw).
    sample_rows = np.random.default_rng(seed).choice(n, FIT_SAMPLE, replace=False) if n > FIT_SAMPLE else None
    if sample_rows is None:
        _, vecs = vectors.load_embeddings(project, eset)
        return engine.PoolModel.build(vecs, seed=seed)
    # Kept on disk between app starts (aldesk/ml/loop/pool_cache.py): the projection below is the
    # slow part of opening a large project.
    key = pool_cache.pool_cache_key(project.path, project.meta("created_at"), eset.identity, layout.last_chunk,
                                    layout.ids, (seed, FIT_SAMPLE, MAX_COMPONENTS, engine.GRAPH_MAX))
    cached = pool_cache.load(key)
    if cached is not None:
        return engine.PoolModel(*cached, raw=None)
    slot = np.full(n, -1, dtype=np.int64)
    slot[sample_rows] = np.arange(len(sample_rows))
    sample = np.empty((len(sample_rows), eset.dim), dtype=np.float16)
    for rows, vecs in vectors.iter_vectors(project, eset, layout):
        where = slot[rows]
        hit = where >= 0
        sample[where[hit]] = vecs[hit]
    whitening = fit_whitening(sample, seed=seed)
    z = torch.empty((n, whitening.dim), dtype=torch.float32)
    device = compute_device()  # CUDA when there is one: the projection runs there
    # Chunks are projected in batches of PROJECT_ROWS: one 512-row product per stored chunk ran
    # the matrix product at a fraction of its speed.
    rows_buffer, vecs_buffer, buffered = [], [], 0
    for rows, vecs in vectors.iter_vectors(project, eset, layout):
        rows_buffer.append(rows)
        vecs_buffer.append(vecs)
        buffered += len(rows)
        if buffered >= PROJECT_ROWS:
            z[torch.from_numpy(np.concatenate(rows_buffer))] = whitening.apply(np.concatenate(vecs_buffer), device=device)
            rows_buffer, vecs_buffer, buffered = [], [], 0
    if rows_buffer:
        z[torch.from_numpy(np.concatenate(rows_buffer))] = whitening.apply(np.concatenate(vecs_buffer), device=device)
    anchors = _graph_anchors(n, seed)
    pool_cache.save(key, whitening, z, anchors)
    return engine.PoolModel(whitening, z, anchors, raw=None)


def _graph_anchors(n: int, seed: int) -> np.ndarray:
    """The k-NN graph's sample of the pool, drawn as ``PoolModel.build`` draws it."""
    rng = np.random.default_rng(seed)
    if n <= engine.GRAPH_MAX:
        return np.arange(n)
    return np.sort(rng.choice(n, engine.GRAPH_MAX, replace=False))


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
    previous model (aldesk/ml/evaluation/audit.py explains each)."""
    from aldesk.ml.evaluation.audit import evaluate_model

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
