"""One learning step, shared by the CLI, the desktop worker and the simulator.

``PoolModel`` holds what depends only on the embeddings (whitening, the k-NN graph) and is built
once per embedding set. ``refresh`` takes the labels so far and returns a new head, its
predictions for the whole pool and the next items to ask, without touching any database.

A pool has a device (``compute_device()``: CUDA when there is one and ALDESK_DEVICE does not
say otherwise, else the CPU). On CUDA the pool's projection, the k-NN graph, the head fits and
the pool's scoring run there, and so does label propagation (the graph, 2.4 MB at 20,000 nodes,
crosses on each refresh). The whitening's fit stays on the CPU (see features.fit_whitening); the
features stay on the CPU as the strategies read them, with a copy on the GPU for scoring when it
fits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from aldesk.core.errors import AldeskError
from aldesk.ml.heads import linear as heads
from aldesk.ml.heads import cnn as scratch_cnn
from aldesk.ml.device import MEMORY_FRACTION, compute_device, free_memory, is_cuda, rows_that_fit
from aldesk.ml.features import Whitening, fit_whitening, knn_graph
from aldesk.ml.strategies import PoolState, Selection, get_strategy

# The label-propagation graph covers at most this many pool items (a fixed random sample on
# larger pools, plus every labeled item); the linear head then generalises to the rest.
GRAPH_MAX = 20_000
GRAPH_NEIGHBOURS = 10
# Labeled items outside that sample join the graph as extra seeds, at most this many (a fixed
# pseudo-random choice, so the next refresh reuses their neighbour search): with 115,000 of them
# the search took 10 s of the first refresh and each propagation 0.6 s, while the linear head
# still learns from every label directly. Pools up to GRAPH_MAX items have no extra nodes.
GRAPH_EXTRA_MAX = 20_000


class NotEnoughLabels(AldeskError):
    """Training needs labels from at least two classes."""


@dataclass
class PoolModel:
    whitening: Whitening
    z: torch.Tensor  # [N, r] whitened pool
    anchors: np.ndarray  # pool indices covered by the graph
    _graph: tuple[torch.Tensor, torch.Tensor] | None = None
    raw: np.ndarray | None = None  # the vectors as embedded (the cnn head reads pixels)
    # Where fits and scoring run (CUDA or the CPU); see the module's docstring.
    device: torch.device = field(default_factory=compute_device)
    _z_device: torch.Tensor | None = field(default=None, repr=False)
    # Nearest anchors of labeled items outside the sample, kept across refreshes (they depend
    # only on the embeddings): row _near_row[i] of _near for pool item i, -1 when not computed.
    _near_row: np.ndarray | None = field(default=None, repr=False)
    _near: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, seed: int = 0, graph_max: int = GRAPH_MAX, device: torch.device | str | None = None
    ) -> "PoolModel":
        """``device``: None for :func:`compute_device`, or ``cpu`` / ``cuda[:N]``."""
        device = compute_device() if device is None else torch.device(device)
        whitening = fit_whitening(vectors, seed=seed)  # on the CPU: see fit_whitening
        z = whitening.apply(vectors, device=device) if is_cuda(device) else whitening.apply(vectors)
        rng = np.random.default_rng(seed)
        n = len(z)
        anchors = np.arange(n) if n <= graph_max else np.sort(rng.choice(n, graph_max, replace=False))
        # Kept only when the cnn head can read them (pixel thumbnails): holding a pretrained
        # backbone's vectors here would keep a second copy alive in the worker on large pools.
        return cls(whitening, z, anchors, raw=vectors if scratch_cnn.reads(vectors) else None, device=device)

    @property
    def fit_device(self) -> torch.device | None:
        """The device to hand to fits: CUDA, or None for the unchanged CPU code."""
        return self.device if is_cuda(self.device) else None

    def scoring_z(self) -> torch.Tensor:
        """The features to score: on a CUDA pool a copy on the GPU (made once, kept) when it
        fits in a share of the free memory, else ``z`` itself (scoring then runs on the CPU,
        which beats copying the pool across for every refresh)."""
        if not is_cuda(self.device):
            return self.z
        if self._z_device is None:
            needed = self.z.numel() * self.z.element_size()
            if needed > MEMORY_FRACTION * (free_memory(self.device) or 0):
                return self.z
            self._z_device = self.z.to(self.device)
        return self._z_device

    @property
    def size(self) -> int:
        return int(self.z.shape[0])

    def graph(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The anchors' k-NN graph (neighbour positions in ``anchors``, similarities); built on
        first use and kept, as it depends only on the embeddings."""
        if self._graph is None:
            self._graph = knn_graph(
                self.z[torch.from_numpy(self.anchors)], k=GRAPH_NEIGHBOURS, device=self.fit_device
            )
        return self._graph

    def propagate(self, labeled: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, torch.Tensor]:
        """Label propagation over the graph; returns (pool indices of graph nodes, their class
        distributions). Labeled items outside the sample join the graph through their nearest
        sampled neighbours."""
        position = np.full(self.size, -1, dtype=np.int64)
        position[self.anchors] = np.arange(len(self.anchors))
        extra = np.unique(labeled[position[labeled] < 0])
        if len(extra) > GRAPH_EXTRA_MAX:
            extra = np.sort(extra[np.argsort(_fixed_rank(extra), kind="stable")[:GRAPH_EXTRA_MAX]])
        nodes = np.concatenate([self.anchors, extra])
        position[extra] = len(self.anchors) + np.arange(len(extra))
        indices, sims = self.graph()
        if len(extra):
            near_indices, near_sims = self._nearest_anchors(extra, indices.shape[1])
            indices = torch.cat([indices, near_indices])
            sims = torch.cat([sims, near_sims])
        seeded = position[labeled] >= 0
        spread = heads.propagate_labels(
            indices, sims, torch.from_numpy(position[labeled[seeded]]), torch.from_numpy(y[seeded]), n_classes,
            device=self.fit_device,
        )
        return nodes, spread


    def _nearest_anchors(self, items: np.ndarray, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Each item's k most similar anchors. Computed once per item and kept: with 118,000
        labels outside the sample of a 1M pool the search took ~40 s per propagation, and a
        refresh propagates four times (benchmarks/bench_scale.py)."""
        if self._near_row is None:
            self._near_row = np.full(self.size, -1, dtype=np.int64)
        new = np.unique(items[self._near_row[items] < 0])
        if len(new):
            where, block = torch.device("cpu"), 4096
            if self.fit_device is not None:  # on a GPU: blocks sized to its free memory
                where = self.fit_device
                block = rows_that_fit(8 * len(self.anchors), free_memory(where) or 0, minimum=256, maximum=4096)
            anchor_z = torch.nn.functional.normalize(self.z[torch.from_numpy(self.anchors)].to(where), dim=1)
            # In blocks of rows: 118,000 x 20,000 similarities at once would be 9.4 GB.
            tops = [torch.topk(torch.nn.functional.normalize(self.z[torch.from_numpy(new[start:start + block])].to(where),
                                                             dim=1) @ anchor_z.T, k, dim=1)
                    for start in range(0, len(new), block)]
            old = self._near or (torch.empty((0, k), dtype=torch.long), torch.empty((0, k)))
            self._near_row[new] = len(old[0]) + np.arange(len(new))
            self._near = (torch.cat([old[0], *(t.indices.cpu() for t in tops)]),
                          torch.cat([old[1], *(t.values.cpu() for t in tops)]))
        rows = torch.from_numpy(self._near_row[items])
        return self._near[0][rows], self._near[1][rows]


def _fixed_rank(items: np.ndarray) -> np.ndarray:
    """A pseudo-random but fixed rank per pool index (Knuth's multiplicative hash): the same
    items win each time, without storing a permutation of the whole pool."""
    return (items.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)


@dataclass
class RefreshResult:
    head: heads.LinearHead | None
    probs: np.ndarray | None  # [N, K] for the whole pool
    selection: Selection
    metrics: dict[str, Any] = field(default_factory=dict)


def train_head(
    pool: PoolModel,
    labeled: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    head: str = "default",
    init: heads.LinearHead | None = None,
    calibrate: bool = True,
) -> tuple[heads.LinearHead, dict[str, Any]]:
    """Fit a head on the labeled pool items (``labeled``: pool indices, ``y``: class indices)."""
    if head not in heads.HEADS and head != scratch_cnn.NAME:
        raise AldeskError(f"Unknown head {head!r}; choose one of: {', '.join(heads.HEADS)}, {scratch_cnn.NAME}.")
    present = np.unique(y)
    if len(present) < 2:
        raise NotEnoughLabels(
            "Training needs labels from at least two classes; "
            f"so far {len(y)} label(s), all of one class."
        )
    if head == scratch_cnn.NAME:
        return scratch_cnn.train_head(pool, labeled, y, n_classes, init=init)
    start = time.perf_counter()
    z_l = pool.z[torch.from_numpy(labeled)]
    y_t = torch.from_numpy(y).long()
    if head == "plain":
        model = heads.fit_linear(z_l, y_t, n_classes, init=init, device=pool.fit_device)
    else:
        model = fit_app_head(pool, labeled, y, n_classes, init=init)
    oof_accuracy = None
    if calibrate:
        # Each head's temperature and accuracy estimate come from out-of-fold fits of that head.
        if head == "plain":
            model, oof_accuracy = heads.calibrate(model, z_l, y_t, device=pool.fit_device)
        elif 0 < getattr(init, "calibrated_at", 0) <= len(y) < init.calibrated_at * (1 + heads.RECALIBRATE_GROWTH):
            model.temperature, model.calibrated_at = init.temperature, init.calibrated_at
            model.oof_accuracy = oof_accuracy = init.oof_accuracy
        else:
            oof_accuracy = calibrate_app_head(pool, labeled, y, n_classes, model)
            if oof_accuracy is not None:
                model.calibrated_at, model.oof_accuracy = len(y), oof_accuracy
    metrics = {
        "head": head,
        "n_labels": int(len(y)),
        "classes_with_labels": int(len(present)),
        "temperature": model.temperature,
        "cv_accuracy": oof_accuracy,
        "train_seconds": time.perf_counter() - start,
    }
    return model, metrics


def fit_app_head(
    pool: PoolModel,
    labeled: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    init: heads.LinearHead | None = None,
    exclude: np.ndarray | None = None,
    max_iter: int = heads.SEMI_MAX_ITER,
) -> heads.LinearHead:
    """The app head: the labels spread over the pool's k-NN graph, then the linear head on the
    labels plus the graph's confident pseudo-labels. ``exclude``: pool items that must not
    become pseudo-labels (labels held out to calibrate)."""
    nodes, spread = pool.propagate(labeled, y, n_classes)
    taken = labeled if exclude is None else np.concatenate([labeled, exclude])
    unlabeled = ~np.isin(nodes, taken)
    return heads.fit_semi_supervised(
        pool.z[torch.from_numpy(labeled)], torch.from_numpy(y).long(),
        pool.z[torch.from_numpy(nodes[unlabeled])], spread[torch.from_numpy(unlabeled)],
        n_classes, init=init, max_iter=max_iter, device=pool.fit_device,
    )


def calibrate_app_head(
    pool: PoolModel, labeled: np.ndarray, y: np.ndarray, n_classes: int, model: heads.LinearHead
) -> float | None:
    """Set the app head's temperature from out-of-fold fits of the app head itself; returns
    their accuracy. Each fold's labels are held out of the graph's seeds, of the pseudo-labels
    and of the fit (cold start: a warm start from ``model`` would leak them)."""
    if len(y) < heads.MIN_LABELS_TO_CALIBRATE or len(np.unique(y)) < 2:
        return None
    fold_of = heads.stratified_folds(y, heads.OOF_FOLDS)
    logits = torch.full((len(y), n_classes), float("-inf"))
    for fold in range(heads.OOF_FOLDS):
        test = fold_of == fold
        if not test.any() or len(np.unique(y[~test])) < 2:
            continue
        rest = np.flatnonzero(~test)
        train = rest[heads.capped_per_class(y[rest], heads.oof_train_limit(y), fold)]  # see OOF_MAX_TRAIN_PER_CLASS
        part = fit_app_head(
            pool, labeled[train], y[train], n_classes, exclude=labeled[test], max_iter=heads.OOF_MAX_ITER
        )
        logits[torch.from_numpy(test)] = part.logits(pool.z[torch.from_numpy(labeled[test])])
    return heads.calibrate_from_logits(model, logits, torch.from_numpy(y).long())


def refresh(
    pool: PoolModel,
    labeled: np.ndarray,
    y: np.ndarray,
    eligible: np.ndarray,
    n_classes: int,
    *,
    n: int = 20,
    strategy: str = "default",
    head: str = "default",
    init: heads.LinearHead | None = None,
    rng: np.random.Generator | None = None,
) -> RefreshResult:
    """Retrain (when at least two classes have labels), rescore the pool, pick the next ``n``."""
    rng = rng or np.random.default_rng()
    model, probs, metrics = None, None, {}
    if len(np.unique(y)) >= 2:
        model, metrics = train_head(pool, labeled, y, n_classes, head=head, init=init)
        start = time.perf_counter()
        probs = model.predict_proba(scratch_cnn.pool_input(model, pool)).numpy()
        metrics["score_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    state = PoolState(
        z=pool.z, eligible=eligible, probs=probs,
        label_counts=np.bincount(y, minlength=n_classes), rng=rng,
    )
    chooser = get_strategy(strategy)
    if probs is None and strategy not in ("default", "typical", "random"):
        # Uncertainty needs a model: before the first one, start as the app does.
        chooser = get_strategy("default")
    selection = chooser.select(state, n)
    metrics["select_seconds"] = time.perf_counter() - start
    return RefreshResult(model, probs, selection, metrics)
