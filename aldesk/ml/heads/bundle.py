"""The stored model's head, rebuilt as a module for the model export.

A stored model version keeps its head's parameters, not everything it reads: the linear heads
(``plain`` and the app's ``default``) work on the projected embeddings ``pool.z`` of
aldesk/ml/loop/pool.py, whose projection (mean, principal directions, scale) is fitted on the pool
and not stored. It is fitted again here exactly as ``PoolModel.build`` does (seed 0, the same
stored float16 vectors in the same order). The ``cnn`` head (aldesk/ml/heads/cnn.py, the app's
head on the weight-free ``pixels`` backbone) reads the stored pixel vectors as 32 x 32 images.

Each rebuilt head also predicts the way the app does (the app's own code on the stored vectors),
so the export can check that it reproduces the stored predictions before writing anything.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.core.model_store import ModelRecord
from aldesk.ml.features import FIT_SAMPLE, Whitening, fit_whitening
from aldesk.ml.heads.linear import LinearHead

if TYPE_CHECKING:
    from aldesk.ml.heads.cnn import CnnHead


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


class CnnOnPixels(nn.Module):
    """pixels-backbone features [B, 3072] -> the CNN's raw logits, as scratch_cnn.as_images reads them."""

    def __init__(self, network: nn.Module, side: int, channels: int) -> None:
        super().__init__()
        self.network = copy.deepcopy(network).eval()
        self.side, self.channels = side, channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.network(features.reshape(-1, self.channels, self.side, self.side))
        return logits


@dataclass
class RebuiltHead:
    module: nn.Module  # backbone features (float16-rounded) -> raw logits
    active: torch.Tensor  # [K] bool: classes that had labels when trained
    temperature: float
    kind: str  # "linear" or "cnn"
    projection_dim: int | None  # linear heads only
    app_probs: np.ndarray  # the app's own predictions from the stored vectors, float32

    @property
    def contract(self) -> str:
        if self.kind == "linear":
            return ("the linear head on the projected float16 embeddings (what the app shows and "
                    "queries with; label propagation only chose the app head's training examples)")
        return "the small CNN trained from scratch on the float16 pixel thumbnails (the app's head on the pixels backbone)"


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
    model: ModelRecord,
    fit_vectors: np.ndarray | None,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    n: int,
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
    from aldesk.ml.heads.base import get_head

    return get_head(model.head).bundle(model, fit_vectors)


def cnn_bundle(cnn: "CnnHead") -> tuple[RebuiltHead, Callable[[np.ndarray], np.ndarray]]:
    """The ``cnn`` head's bundle: its network on the pixel vectors read as images."""
    from aldesk.ml.heads.cnn import CHANNELS, SIDE

    module = CnnOnPixels(cnn.network, SIDE, CHANNELS)
    rebuilt = RebuiltHead(module, cnn.active.bool(), float(cnn.temperature), "cnn", None, np.zeros((0, 0), dtype=np.float32))
    return rebuilt, lambda vecs: cnn.predict_proba(vecs).numpy()


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
