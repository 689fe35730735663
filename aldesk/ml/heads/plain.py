"""The ``plain`` head: the linear head trained on the person's labels alone (no pool, no graph).

The baseline the app head is measured against, and what suspects' held-out fits use."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aldesk.ml.heads import linear
from aldesk.ml.heads.base import Fit, Model, Reads, RebuiltHead, fit_metrics, register

if TYPE_CHECKING:
    from aldesk.core.model_store import ModelRecord
    from aldesk.ml.heads.base import Pool


class PlainHead:
    name = "plain"
    reads: Reads = "whitened"
    convex = True  # a warm start leaks nothing of labels held out of the fit
    description = "a linear head on the labels alone"

    def fit(self, pool: Pool, task: Fit) -> tuple[Model, dict[str, Any]]:
        start = time.perf_counter()
        z_l = pool.z[torch.from_numpy(task.labeled)]
        y_t = torch.from_numpy(task.y).long()
        model = linear.fit_linear(z_l, y_t, task.n_classes, init=self.warm_start(task.init), device=pool.fit_device)
        oof_accuracy = None
        if task.calibrate:  # the temperature and accuracy estimate from out-of-fold fits of this head
            model, oof_accuracy = linear.calibrate(model, z_l, y_t, device=pool.fit_device)
        return model, fit_metrics(self.name, task.y, model, oof_accuracy, time.perf_counter() - start)

    def can_read(self, vectors: np.ndarray) -> bool:
        return vectors.ndim == 2

    def warm_start(self, previous: Model | None) -> linear.LinearHead | None:
        return previous if isinstance(previous, linear.LinearHead) else None

    def load(self, data: bytes) -> linear.LinearHead:
        return linear.LinearHead.from_bytes(data)

    def bundle(
        self, model: ModelRecord, fit_vectors: np.ndarray | None
    ) -> tuple[RebuiltHead, Callable[[np.ndarray], np.ndarray]]:
        from aldesk.ml.heads.linear_export import linear_bundle

        return linear_bundle(model, fit_vectors)


register(PlainHead())
