"""The stored model's head rebuilt from the project's stored embeddings, and checked: the export
refuses unless it reproduces every stored prediction (see export.py's docstring).

Large pools are streamed: one pass reads the whitening's sample rows, a second predicts chunk by
chunk, so the pool's vectors are never all in memory (3 GB at 1M x 1,280-d).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from aldesk.core import model_store, vectors
from aldesk.core.model_store import ModelRecord
from aldesk.core.errors import AldeskError
from aldesk.core.store import Project
from aldesk.ml.heads.base import get_head
from aldesk.ml.features import FIT_SAMPLE
from aldesk.ml.heads.base import RebuiltHead

# Pools above this many items are read chunk by chunk (never all vectors at once; 3 GB at 1M x
# 1,280-d); below it all vectors are loaded, as before (same bytes, faster on small pools).
STREAM_FROM = 50_000
PREDICT_ROWS = 4_096  # rows predicted at once while streaming (10 MB of float16 at 1,280-d)


def rebuild_head(model: ModelRecord, pool_vectors: np.ndarray) -> RebuiltHead:
    """The head of ``model`` as a module, with the app's predictions for ``pool_vectors`` (the
    stored float16 embeddings of exactly the items the model scored, in the stored order)."""
    head, predict = _rebuild(model, pool_vectors)
    head.app_probs = predict(pool_vectors)
    return head


def whitening_sample_positions(n: int, seed: int = 0) -> np.ndarray:
    """The pool positions ``fit_whitening`` draws its sample from, in its order (all n when the
    pool is small), so a caller can read just those rows and fit the same projection."""
    if n <= FIT_SAMPLE:
        return np.arange(n)
    return np.random.default_rng(seed).choice(n, FIT_SAMPLE, replace=False)


def rebuild_head_streamed(
    model: ModelRecord, fit_vectors: np.ndarray | None, chunks: Iterable[tuple[np.ndarray, np.ndarray]], n: int
) -> RebuiltHead:
    """``rebuild_head`` without all pool vectors in memory: ``fit_vectors`` are the rows at
    ``whitening_sample_positions(n)`` (None for the cnn head, which fits nothing), ``chunks``
    yields (pool positions, their float16 vectors) covering all n positions."""
    head, predict = _rebuild(model, fit_vectors)
    probs: np.ndarray | None = None
    for positions, vecs in chunks:
        part = predict(vecs)
        if probs is None:
            probs = np.empty((n, part.shape[1]), dtype=np.float32)
        probs[positions] = part
    head.app_probs = probs if probs is not None else np.zeros((0, len(head.active)), dtype=np.float32)
    return head


def _rebuild(model: ModelRecord, fit_vectors: np.ndarray | None) -> tuple[RebuiltHead, Callable[[np.ndarray], np.ndarray]]:
    """The module (app_probs not filled in yet) and the app's own prediction for some vectors."""
    return get_head(model.head).bundle(model, fit_vectors)


@dataclass
class Reconstruction:
    """What the bundle needs beyond the backbone, checked against the stored predictions."""

    model: model_store.ModelRecord
    head: RebuiltHead
    embedding_set: vectors.EmbeddingSet
    item_ids: np.ndarray
    stored_probs: np.ndarray  # float32 copies of the stored float16 predictions
    max_diff: float  # the rebuilt head (app code) vs stored predictions, over every pool item


def reconstruct(project: Project) -> Reconstruction:
    """Rebuild the latest model's head (and projection) from its stored embeddings; refuse
    unless it reproduces every stored prediction."""
    model, item_ids, stored_probs = model_store.latest_with_predictions(project, "so there is no model to export")
    eset = _embedding_set(project, model.set_id)
    if len(item_ids) <= STREAM_FROM:
        ids, vecs = vectors.load_embeddings(project, eset)
        head = rebuild_head(model, vecs[_positions_of(project, model, ids, item_ids)])
    else:
        head = _rebuild_streamed(project, model, eset, item_ids)
    diff = np.abs(head.app_probs - stored_probs)
    # The stored copies are float16: allow one float16 step of the stored value, no more.
    step = np.spacing(stored_probs.astype(np.float16)).astype(np.float32)
    if np.any(diff > step + 1e-6):
        raise AldeskError(
            f"Cannot rebuild model {model.version} exactly (its predictions differ by up to "
            f"{float(diff.max()):.2g} from the stored ones), so an export would not behave like the "
            "app. Retrain (aldesk train or let the app train), then export."
        )
    return Reconstruction(model, head, eset, item_ids, stored_probs, float(diff.max()) if diff.size else 0.0)


def _positions_of(project: Project, model: model_store.ModelRecord, ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    """Rows of the sorted embedded ``ids`` holding the model's items; refuse if any is gone."""
    where = np.searchsorted(ids, item_ids)
    if len(ids) == 0 or np.any(where >= len(ids)) or np.any(ids[np.minimum(where, len(ids) - 1)] != item_ids):
        raise AldeskError(
            f"Some embeddings model {model.version} was trained on are gone from {project.path}; "
            "retrain (aldesk train or let the app train), then export."
        )
    return where


def _rebuild_streamed(
    project: Project, model: model_store.ModelRecord, eset: vectors.EmbeddingSet, item_ids: np.ndarray
) -> RebuiltHead:
    """rebuild_head on a large pool without its vectors in memory (3 GB at 1M x 1,280-d): one
    pass reads the whitening's sample rows, a second predicts chunk by chunk."""
    layout = vectors.embedding_layout(project, eset)
    position = np.full(len(layout.ids), -1, dtype=np.int64)  # layout row -> the model's position
    position[_positions_of(project, model, layout.ids, item_ids)] = np.arange(len(item_ids))
    fit = None
    if get_head(model.head).reads == "whitened":
        sample = whitening_sample_positions(len(item_ids))
        slot = np.full(len(item_ids), -1, dtype=np.int64)
        slot[sample] = np.arange(len(sample))
        # float32 (exact for float16 values): fit_whitening would make this copy itself anyway.
        fit = np.empty((len(sample), eset.dim), dtype=np.float32)
        for pos, vecs in _model_chunks(project, eset, layout, position):
            where = slot[pos]
            hit = where >= 0
            fit[where[hit]] = vecs[hit]
    return rebuild_head_streamed(model, fit, _model_chunks(project, eset, layout, position), len(item_ids))


def _model_chunks(
    project: Project, eset: vectors.EmbeddingSet, layout: vectors.Layout, position: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(model positions, float16 vectors) in batches of about PREDICT_ROWS rows: one stored
    chunk (512 rows) per matrix product ran the product at a fraction of its speed."""
    pos_buffer, vec_buffer, buffered = [], [], 0
    for rows, vecs in vectors.iter_vectors(project, eset, layout):
        pos = position[rows]
        hit = pos >= 0
        pos_buffer.append(pos[hit])
        vec_buffer.append(vecs[hit])
        buffered += int(hit.sum())
        if buffered >= PREDICT_ROWS:
            yield np.concatenate(pos_buffer), np.concatenate(vec_buffer)
            pos_buffer, vec_buffer, buffered = [], [], 0
    if buffered:
        yield np.concatenate(pos_buffer), np.concatenate(vec_buffer)


def _embedding_set(project: Project, set_id: int) -> vectors.EmbeddingSet:
    try:
        return vectors.find_set_by_id(project, set_id)
    except AldeskError:
        raise AldeskError(f"The embeddings of the latest model are gone from {project.path}; retrain, then export.") from None
