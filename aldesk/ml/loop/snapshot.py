"""A snapshot: what one round needs from a project, read at one moment (store.py writes the
round's model back). Reading and writing stay apart from the computing in between, so the app's worker
computes on a snapshot in another process while the GUI thread alone writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aldesk.core import items, model_store, vectors
from aldesk.core.classes import list_classes
from aldesk.core.errors import AldeskError
from aldesk.core.labels import audit_items
from aldesk.core.store import Project
from aldesk.core.tuned_encoders import active_set
from aldesk.ml.heads.base import Model, load_model


@dataclass
class Snapshot:
    """Everything a training job needs, read from the project at one moment."""

    set_id: int
    backbone: str  # the encoder's name
    item_ids: np.ndarray  # embedded items, sorted
    vectors: np.ndarray | None  # [N, d] float16; None when read without them (take_snapshot)
    class_ids: list[int]  # project classes in order; a class index is a position here
    labeled: np.ndarray  # pool indices of labeled items
    y: np.ndarray  # their class indices
    eligible: np.ndarray  # [N] bool: unlabeled, not skipped or unsure
    previous: Model | None  # the latest model with the same classes, for a warm start
    previous_version: int | None
    audit: np.ndarray | None = None  # [len(labeled)] bool: labels of uniformly drawn audit items
    label_order: np.ndarray | None = None  # [len(labeled)] time rank of each label (0 = oldest)
    # The stored model's predicted class per pool item (-1 where it made none), to measure how
    # much a new model changes; None unless asked for (take_snapshot(with_predictions=True)).
    previous_predicted: np.ndarray | None = None

    @classmethod
    def in_memory(
        cls,
        pool_size: int,
        labeled: np.ndarray,
        y: np.ndarray,
        eligible: np.ndarray,
        n_classes: int,
        previous: Model | None = None,
        encoder: str = "",
    ) -> Snapshot:
        """A snapshot of labels held in memory (the simulation, benchmarks): item ids are pool
        positions and class ids class indices."""
        return cls(
            0,
            encoder,
            np.arange(pool_size),
            None,
            list(range(n_classes)),
            np.asarray(labeled, dtype=np.int64),
            np.asarray(y, dtype=np.int64),
            eligible,
            previous,
            None,
        )


def take_snapshot(project: Project, *, load_vectors: bool = True, with_predictions: bool = False) -> Snapshot:
    """The pool and its labels as stored now. ``load_vectors=False`` leaves ``vectors`` None:
    a caller that keeps its ``PoolModel`` between refreshes (``pool_key``) needs only the ids,
    and at a million 1,280-d items the vectors are 2.56 GB read from the file.
    ``with_predictions`` also reads the stored model's predictions (``previous_predicted``)."""
    eset = active_set(project)
    if eset is None:
        raise AldeskError(f"{project.path} has no embeddings yet; run: aldesk embed {project.path}")
    if load_vectors:
        item_ids, vecs = vectors.load_embeddings(project, eset)
    else:
        item_ids, vecs = vectors.embedding_layout(project, eset).ids, None
    classes = list_classes(project)
    class_ids = [c.id for c in classes]
    # Column reads into arrays and binary searches, not Python dicts keyed by a million ids.
    labeled_rows = items.labeled_rows(project)
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
    set_aside = np.fromiter(items.set_aside_ids(project), dtype=np.int64)
    eligible = np.ones(len(item_ids), dtype=bool)
    eligible[labeled] = False
    spos, sfound = _positions(item_ids, set_aside)
    eligible[spos[sfound]] = False
    latest = model_store.latest_model(project)
    previous = None
    if latest is not None and latest.class_ids == class_ids and latest.set_id == eset.id:
        previous = load_model(latest.head, latest.params)  # by the head stored with it
    audit_ids = np.array(audit_items(project), dtype=np.int64)
    times = label_time[found]
    snapshot = Snapshot(
        eset.id,
        eset.backbone,
        item_ids,
        vecs,
        class_ids,
        labeled,
        y,
        eligible,
        previous,
        latest.version if latest else None,
        audit=np.isin(item_ids[labeled], audit_ids),
        label_order=np.argsort(np.argsort(times, kind="stable"), kind="stable"),
    )
    if with_predictions:
        snapshot.previous_predicted = previous_predictions(project, snapshot)
    return snapshot


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
