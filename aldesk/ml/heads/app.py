"""The app's head (``default``): the person's labels spread over the pool's k-NN graph (label
propagation), then the linear head on the labels plus the graph's confident pseudo-labels.

Predictions come from the linear head alone, so a model exports as one small program that
reproduces the app exactly (aldesk/ml/bundle/export.py). Its temperature and accuracy estimate
come from out-of-fold fits of this same head, redone only as the labels grow (RECALIBRATE_GROWTH).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aldesk.ml.heads import linear
from aldesk.ml.heads.base import Fit, Model, fit_metrics, register
from aldesk.ml.heads.plain import PlainHead

if TYPE_CHECKING:
    from aldesk.ml.heads.base import Pool


class AppHead(PlainHead):  # loads, warm-starts and exports as the plain head: both are linear
    name = "default"
    description = "the app's head: labels spread over the pool's k-NN graph, then a linear head"

    def fit(self, pool: Pool, task: Fit) -> tuple[Model, dict[str, Any]]:
        start = time.perf_counter()
        previous = self.warm_start(task.init)
        labeled, y, n_classes = task.labeled, task.y, task.n_classes
        model = fit_app_head(pool, labeled, y, n_classes, init=previous)
        oof_accuracy = None
        if task.calibrate:
            if previous is not None and not recalibration_due(previous, len(y)):
                model.temperature, model.calibrated_at = previous.temperature, previous.calibrated_at
                model.oof_accuracy = oof_accuracy = previous.oof_accuracy
            else:
                oof_accuracy = calibrate_app_head(pool, labeled, y, n_classes, model)
                if oof_accuracy is not None:
                    model.calibrated_at, model.oof_accuracy = len(y), oof_accuracy
        return model, fit_metrics(self.name, y, model, oof_accuracy, time.perf_counter() - start)


def recalibration_due(previous: linear.LinearHead, n_labels: int) -> bool:
    """Whether the out-of-fold fits are due again: never made, or the labels grew by
    RECALIBRATE_GROWTH since (or shrank: labels were undone)."""
    at = previous.calibrated_at
    return not (0 < at <= n_labels < at * (1 + linear.RECALIBRATE_GROWTH))


def fit_app_head(
    pool: Pool,
    labeled: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    init: linear.LinearHead | None = None,
    exclude: np.ndarray | None = None,
    max_iter: int = linear.SEMI_MAX_ITER,
) -> linear.LinearHead:
    """The labels spread over the graph, then the linear head on them plus the confident
    pseudo-labels. ``exclude``: pool items that must not become pseudo-labels (labels held out
    to calibrate)."""
    nodes, spread = pool.propagate(labeled, y, n_classes)
    taken = labeled if exclude is None else np.concatenate([labeled, exclude])
    unlabeled = ~np.isin(nodes, taken)
    return linear.fit_semi_supervised(
        pool.z[torch.from_numpy(labeled)],
        torch.from_numpy(y).long(),
        pool.z[torch.from_numpy(nodes[unlabeled])],
        spread[torch.from_numpy(unlabeled)],
        n_classes,
        init=init,
        max_iter=max_iter,
        device=pool.fit_device,
    )


def calibrate_app_head(pool: Pool, labeled: np.ndarray, y: np.ndarray, n_classes: int, model: linear.LinearHead) -> float | None:
    """Set the app head's temperature from out-of-fold fits of the app head itself; returns
    their accuracy. Each fold's labels are held out of the graph's seeds, of the pseudo-labels
    and of the fit (cold start: a warm start from ``model`` would leak them)."""
    if len(y) < linear.MIN_LABELS_TO_CALIBRATE or len(np.unique(y)) < 2:
        return None
    fold_of = linear.stratified_folds(y, linear.OOF_FOLDS)
    logits = torch.full((len(y), n_classes), float("-inf"))
    for fold in range(linear.OOF_FOLDS):
        test = fold_of == fold
        if not test.any() or len(np.unique(y[~test])) < 2:
            continue
        rest = np.flatnonzero(~test)
        train = rest[linear.capped_per_class(y[rest], linear.oof_train_limit(y), fold)]  # see OOF_MAX_TRAIN_PER_CLASS
        part = fit_app_head(pool, labeled[train], y[train], n_classes, exclude=labeled[test], max_iter=linear.OOF_MAX_ITER)
        logits[torch.from_numpy(test)] = part.logits(pool.z[torch.from_numpy(labeled[test])])
    return linear.calibrate_from_logits(model, logits, torch.from_numpy(y).long())


register(AppHead())
