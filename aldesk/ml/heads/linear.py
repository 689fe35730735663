"""Heads: a linear classifier on whitened embeddings, and the semi-supervised fit the app uses.

``plain`` trains the linear head on the person's labels alone. ``default`` (the app's head) first
spreads those labels over the pool's k-NN graph (label propagation), then trains the same linear
head on the labels plus the graph's most confident pseudo-labels. Predictions always come from
the linear head, so a model can be exported as one small program and reproduce the app exactly.

Fits take an optional CUDA ``device``: the data go there, L-BFGS runs there, and the head comes
back on the CPU (stored heads are always CPU tensors). Without one the CPU code runs unchanged.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from aldesk.ml.device import is_cuda
from aldesk.ml.heads.base import Reads

# Calibrate only with enough labels for the out-of-fold estimate to mean something.
MIN_LABELS_TO_CALIBRATE = 30
# Out-of-fold fits (temperature, accuracy estimate): three folds and short fits, as they run on
# every refresh, and a temperature needs no more precision than that.
OOF_FOLDS = 3
OOF_MAX_ITER = 30
# Each out-of-fold head trains on at most this many labels per class with labels (every label
# of a class with fewer, an equal share of the rest; every label is still scored): the held-out
# heads only need to be good, not trained on everything. At 118,000 labels in 10 classes, five
# fits on all of them took 14 s of every refresh. What a cap costs: benchmarks/bench_oof_cap.py.
OOF_MAX_TRAIN_PER_CLASS = 2_000
# The app head's fit: fewer iterations than the plain fit, as noisy pseudo-labels make L-BFGS
# crawl for little gain, and the warm start carries the solution from one refresh to the next.
SEMI_MAX_ITER = 50
# The app head's out-of-fold fits cost three fits of the head, so they are redone only when the
# labels have grown by this fraction since the last ones (30, 38, 48, 60, ... labels); between
# them the head keeps the last temperature. The plain head recalibrates on every fit.
RECALIBRATE_GROWTH = 0.25
# Pseudo-labels: how many at most, and their weight (times the graph's confidence) against a
# person's label; and the L2 penalty of the app head's fit. Tuned on a validation part of the
# digits pool, checked on Fashion-MNIST's (never on the test split): see docs/benchmarks.md.
SEMI_MAX_PSEUDO = 5_000
SEMI_PSEUDO_WEIGHT = 0.5
SEMI_L2 = 3.0


@dataclass
class LinearHead:
    """Logits = z @ weight + bias over the active classes; inactive classes get probability 0."""

    weight: torch.Tensor  # [r, K]
    bias: torch.Tensor  # [K]
    active: torch.Tensor  # [K] bool: classes that had labels when trained
    temperature: float = 1.0
    # When the temperature was last fitted from out-of-fold fits: the label count then, and
    # their accuracy (the app head refits them only as the labels grow, see RECALIBRATE_GROWTH).
    calibrated_at: int = 0
    oof_accuracy: float | None = None
    reads: ClassVar[Reads] = "whitened"  # scores the whitened pool features (a class attribute, not a field)

    @property
    def n_classes(self) -> int:
        return int(self.bias.shape[0])

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        raw = z @ self.weight + self.bias
        return raw.masked_fill(~self.active, float("-inf"))

    def predict_proba(self, z: torch.Tensor, block: int = 262_144) -> torch.Tensor:
        """Probabilities [N, K] as a float32 CPU tensor; computed where ``z`` is (a pool's
        features kept on the GPU are scored there, block by block)."""
        out = torch.empty((z.shape[0], self.n_classes), dtype=torch.float32)
        if z.device.type != "cpu":
            return self._predict_on(z, out, block)
        with torch.inference_mode():
            for start in range(0, z.shape[0], block):
                out[start : start + block] = torch.softmax(self.logits(z[start : start + block]) / self.temperature, dim=1)
        return out

    def _predict_on(self, z: torch.Tensor, out: torch.Tensor, block: int) -> torch.Tensor:
        on_device = self.to(z.device)
        with torch.inference_mode():
            for start in range(0, z.shape[0], block):
                part = torch.softmax(on_device.logits(z[start : start + block].float()) / self.temperature, dim=1)
                out[start : start + block] = part.cpu()
        return out

    def to(self, device: torch.device | str) -> "LinearHead":
        """The same head with its tensors on ``device`` (itself when already there)."""
        if self.weight.device == torch.device(device):
            return self
        return LinearHead(
            self.weight.to(device),
            self.bias.to(device),
            self.active.to(device),
            self.temperature,
            self.calibrated_at,
            self.oof_accuracy,
        )

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            weight=self.weight.numpy(),
            bias=self.bias.numpy(),
            active=self.active.numpy(),
            temperature=np.array(self.temperature),
            calibrated_at=np.array(self.calibrated_at),
            oof_accuracy=np.array(np.nan if self.oof_accuracy is None else self.oof_accuracy),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "LinearHead":
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            # Models stored before calibrated_at/oof_accuracy existed load with the defaults.
            oof = float(arrays["oof_accuracy"]) if "oof_accuracy" in arrays else float("nan")
            return cls(
                weight=torch.from_numpy(arrays["weight"].copy()),
                bias=torch.from_numpy(arrays["bias"].copy()),
                active=torch.from_numpy(arrays["active"].copy()),
                temperature=float(arrays["temperature"]),
                calibrated_at=int(arrays["calibrated_at"]) if "calibrated_at" in arrays else 0,
                oof_accuracy=None if np.isnan(oof) else oof,
            )


def fit_linear(
    z: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    *,
    sample_weight: torch.Tensor | None = None,
    init: LinearHead | None = None,
    l2: float = 1.0,
    max_iter: int = 100,
    device: torch.device | None = None,
) -> LinearHead:
    """Class-balanced, L2-regularised multinomial logistic regression (L-BFGS, full batch).

    Each class carries equal total weight, so a rare class is not drowned by a common one.
    ``init`` warm-starts from the previous model: retraining after 10 new labels then needs
    only a few iterations. With a CUDA ``device`` the fit runs there; the head returned is on
    the CPU either way.
    """
    if is_cuda(device) and z.device != torch.device(device):
        moved = fit_linear(
            z.to(device),
            y.to(device),
            n_classes,
            sample_weight=None if sample_weight is None else sample_weight.to(device),
            init=None if init is None else init.to(device),
            l2=l2,
            max_iter=max_iter,
        )
        return moved.to("cpu")
    z = z.float()
    y = y.long()
    weight = torch.ones(len(y), device=z.device) if sample_weight is None else sample_weight.float()
    counts = torch.zeros(n_classes, device=z.device).index_add_(0, y, weight)
    active = counts > 0
    balance = torch.where(active, counts.sum() / (active.sum() * counts.clamp_min(1e-12)), 0.0)
    w = weight * balance[y]
    total = w.sum()

    W = torch.zeros((z.shape[1], n_classes), device=z.device)
    b = torch.zeros(n_classes, device=z.device)
    if init is not None and init.weight.shape == W.shape:
        W.copy_(init.weight)
        b.copy_(torch.where(torch.isfinite(init.bias), init.bias, torch.zeros_like(init.bias)))
    W.requires_grad_(True)
    b.requires_grad_(True)
    mask = (~active).float() * -1e4  # keep inactive classes out of the softmax while training

    optimiser = torch.optim.LBFGS(
        [W, b],
        lr=1.0,
        max_iter=max_iter,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-6,
        tolerance_change=1e-9,
        history_size=20,
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = z @ W + b + mask
        loss = (F.cross_entropy(logits, y, reduction="none") * w).sum() / total
        loss = loss + 0.5 * l2 * (W * W).sum() / total
        loss.backward()
        return loss

    optimiser.step(closure)
    return LinearHead(W.detach(), b.detach(), active)


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The temperature that minimises the negative log-likelihood of held-out logits."""
    logits = logits.float()
    # Rows whose own class had no label in their fold's training part say nothing about scale.
    y = y.long()
    finite = torch.isfinite(logits.gather(1, y[:, None]).squeeze(1))
    logits, y = logits[finite], y[finite]
    if len(y) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        return float(F.cross_entropy(logits / np.exp(log_t), y.long()))

    # Golden-section search on log T in [-3, 3] (T from 0.05 to 20): NLL is unimodal in T.
    lo, hi = -3.0, 3.0
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(40):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


def stratified_folds(y: np.ndarray, folds: int = 3, seed: int = 0) -> np.ndarray:
    """A fold number per label, each class dealt round-robin over the folds after a shuffle."""
    generator = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=np.int64)
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        generator.shuffle(members)
        fold_of[members] = np.arange(len(members)) % folds
    return fold_of


def oof_train_limit(y: np.ndarray) -> int:
    """How many labels an out-of-fold head trains on at most (see OOF_MAX_TRAIN_PER_CLASS)."""
    return OOF_MAX_TRAIN_PER_CLASS * max(1, int(np.count_nonzero(np.bincount(y))))


def capped_per_class(y: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most ``limit`` of the labels ``y``: all labels of the classes with
    few, an equal share for the others (the heads weigh classes equally anyway), drawn at random."""
    if len(y) <= limit:
        return np.arange(len(y))
    generator = np.random.default_rng(seed)
    classes = np.flatnonzero(np.bincount(y))
    members = {int(c): np.flatnonzero(y == c) for c in classes}
    budget, picks = limit, []
    for done, cls in enumerate(sorted(members, key=lambda c: len(members[c]))):
        share = budget // (len(members) - done)  # what is left, split over the classes left
        take = min(len(members[cls]), share)
        picks.append(generator.choice(members[cls], take, replace=False))
        budget -= take
    return np.sort(np.concatenate(picks))


def out_of_fold_logits(
    z: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    *,
    folds: int = OOF_FOLDS,
    seed: int = 0,
    device: torch.device | None = None,
    max_train: int | None = None,
) -> torch.Tensor:
    """Logits for each labeled item from a plain head trained without it (stratified folds; each
    fold's head on at most ``max_train`` of the other labels, default ``oof_train_limit``); fits
    run on ``device`` when CUDA."""
    y_np = y.numpy()
    max_train = oof_train_limit(y_np) if max_train is None else max_train
    fold_of = stratified_folds(y_np, folds, seed)
    out = torch.full((len(y), n_classes), float("-inf"))
    for fold in range(folds):
        test = fold_of == fold
        if test.all() or not test.any():
            continue
        rest = np.flatnonzero(~test)
        train = torch.from_numpy(rest[capped_per_class(y_np[rest], max_train, seed + fold)])
        head = fit_linear(z[train], y[train], n_classes, max_iter=OOF_MAX_ITER, device=device)
        out[torch.from_numpy(test)] = head.logits(z[torch.from_numpy(test)])
    return out


def calibrate(
    head: LinearHead, z: torch.Tensor, y: torch.Tensor, device: torch.device | None = None
) -> tuple[LinearHead, float | None]:
    """Set the head's temperature from out-of-fold logits; also returns the out-of-fold accuracy."""
    if len(y) < MIN_LABELS_TO_CALIBRATE or int(torch.unique(y).numel()) < 2:
        return head, None
    logits = out_of_fold_logits(z, y, head.n_classes, device=device)
    return head, calibrate_from_logits(head, logits, y)


def calibrate_from_logits(head: LinearHead, logits: torch.Tensor, y: torch.Tensor) -> float:
    """Set the head's temperature from out-of-fold logits of the same kind of head; returns
    their accuracy (the out-of-fold estimate)."""
    head.temperature = fit_temperature(logits, y)
    return float((logits.argmax(1) == y).float().mean())


def fit_semi_supervised(
    z_labeled: torch.Tensor,
    y: torch.Tensor,
    z_pseudo: torch.Tensor,
    pseudo_probs: torch.Tensor,
    n_classes: int,
    *,
    init: LinearHead | None = None,
    pseudo_weight: float = SEMI_PSEUDO_WEIGHT,
    max_pseudo: int = SEMI_MAX_PSEUDO,
    min_confidence: float = 0.5,
    l2: float = SEMI_L2,
    max_iter: int = SEMI_MAX_ITER,
    device: torch.device | None = None,
) -> LinearHead:
    """Linear head on the labels plus the most confident propagated pseudo-labels.

    Pseudo-labels only for classes a person has labeled, at most ``max_pseudo`` of them spread
    evenly over classes, each weighted by its confidence times ``pseudo_weight``.
    """
    confidence, guess = pseudo_probs.max(1)
    labeled_classes = torch.zeros(n_classes, dtype=torch.bool)
    labeled_classes[y] = True
    ok = (confidence >= min_confidence) & labeled_classes[guess]
    chosen = _top_per_class(confidence, guess, ok, n_classes, max_pseudo)
    z_all = torch.cat([z_labeled, z_pseudo[chosen]])
    y_all = torch.cat([y, guess[chosen]])
    weights = torch.cat([torch.ones(len(y)), pseudo_weight * confidence[chosen]])
    return fit_linear(z_all, y_all, n_classes, sample_weight=weights, init=init, l2=l2, max_iter=max_iter, device=device)


def _top_per_class(confidence: torch.Tensor, guess: torch.Tensor, ok: torch.Tensor, n_classes: int, budget: int) -> torch.Tensor:
    per_class = max(1, budget // n_classes)
    picks = []
    for cls in range(n_classes):
        members = torch.nonzero(ok & (guess == cls)).flatten()
        if len(members) > per_class:
            members = members[torch.topk(confidence[members], per_class).indices]
        picks.append(members)
    return torch.cat(picks) if picks else torch.zeros(0, dtype=torch.long)
