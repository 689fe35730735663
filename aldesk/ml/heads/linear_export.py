"""A stored linear head, rebuilt as a module for the model export.

A stored model version keeps its head's parameters, not everything it reads: the linear heads
(``plain`` and the app's ``default``) work on the projected embeddings ``pool.z`` of
aldesk/ml/loop/pool.py, whose projection (mean, principal directions, scale) is fitted on the pool
and not stored. It is fitted again here exactly as ``PoolModel.build`` does (seed 0, the same
stored float16 vectors in the same order). (The ``cnn`` head's module is in cnn.py: it reads the
stored pixel vectors as 32 x 32 images and fits nothing.)

Each rebuilt head also predicts the way the app does (the app's own code on the stored vectors),
so the export can check that it reproduces the stored predictions before writing anything.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.core.model_store import ModelRecord
from aldesk.ml.features import Whitening, fit_whitening
from aldesk.ml.heads.base import RebuiltHead
from aldesk.ml.heads.linear import LinearHead


class LinearOnProjection(nn.Module):
    """features -> (features - mean) @ components / scale -> @ weight + bias (raw logits)."""

    # The buffers registered below (nn.Module's attribute lookup alone types them Tensor | Module).
    feature_mean: torch.Tensor
    projection: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def __init__(self, whitening: Whitening, head: LinearHead) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.from_numpy(np.array(whitening.mean, dtype=np.float32)))
        # The same float32 quotient Whitening.apply uses, so the projection matches it exactly.
        self.register_buffer("projection", torch.from_numpy(whitening.components) / whitening.scale)
        self.register_buffer("weight", head.weight.float().clone())
        self.register_buffer("bias", head.bias.float().clone())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = (features - self.feature_mean) @ self.projection
        return z @ self.weight + self.bias


def linear_bundle(model: ModelRecord, fit_vectors: np.ndarray | None) -> tuple[RebuiltHead, Callable[[np.ndarray], np.ndarray]]:
    """A linear head's bundle: the projection fitted again as ``PoolModel.build`` does, then the head."""
    head = LinearHead.from_bytes(model.params)
    if fit_vectors is None:
        raise ValueError("a linear head needs the whitening's sample rows")
    whitening = fit_whitening(fit_vectors, seed=0)  # as PoolModel.build(vectors) does
    if head.weight.shape[0] != whitening.dim:
        raise AldeskError(
            f"Model {model.version}'s head expects {head.weight.shape[0]} features but the rebuilt "
            f"projection gives {whitening.dim}; retrain, then export."
        )
    module = LinearOnProjection(whitening, head)
    empty = np.zeros((0, 0), dtype=np.float32)
    rebuilt = RebuiltHead(module, head.active.bool(), float(head.temperature), "linear", whitening.dim, empty)
    return rebuilt, lambda vecs: head.predict_proba(whitening.apply(vecs)).numpy()
