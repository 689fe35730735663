"""How good is the model, honestly: accuracy estimated from audit labels alone.

Items the model chose are a biased sample (hard cases), so accuracy measured on them says little
about the pool. Audit items are drawn uniformly at random; the current model is scored on them
out of fold: the audit labels are split into folds, and for each fold a head is trained on every
other label and predicts that fold. The interval is a Wilson score interval on the number of
correct out-of-fold predictions.

The gain per 100 labels compares, on the same audit items and folds, heads trained with and
without the latest 100 non-audit labels: a paired difference, far less noisy than subtracting
two estimates made at different times.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from aldesk.ml.heads.base import Model
    from aldesk.ml.heads.base import Pool

LEVEL = 0.90
MIN_AUDIT_LABELS = 10
FOLDS = 3
GAIN_WINDOW = 100  # "gain per 100 labels" drops this many of the latest labels


class EstimateCancelled(Exception):
    """The estimate was asked to stop (the window is closing)."""


@dataclass(frozen=True)
class AccuracyEstimate:
    value: float | None
    low: float | None
    high: float | None
    audit_labels: int
    level: float = LEVEL

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson_interval(correct: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (good coverage even for small n)."""
    if n <= 0:
        raise ValueError("an interval needs at least one observation")
    z = _normal_quantile(0.5 + level / 2)
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # Clamped so the interval always holds the observed proportion (rounding at p = 0 or 1).
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def _normal_quantile(q: float) -> float:
    # Bisection on the normal CDF: exact enough and needs no scipy.
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def estimate_from_counts(correct: int, n: int) -> AccuracyEstimate:
    if n < MIN_AUDIT_LABELS:
        return AccuracyEstimate(None, None, None, n)
    low, high = wilson_interval(correct, n)
    return AccuracyEstimate(correct / n, low, high, n)


def cohens_kappa(a: np.ndarray, b: np.ndarray, n_classes: int) -> float:
    """Agreement of two labelings beyond chance (1 = identical, 0 = as if independent)."""
    if len(a) == 0:
        return 1.0
    confusion = np.bincount(a * n_classes + b, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    total = confusion.sum()
    observed = np.trace(confusion) / total
    expected = float((confusion.sum(0) * confusion.sum(1)).sum()) / (total * total)
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return float((observed - expected) / (1 - expected))


def out_of_fold_correct(
    predict_fold: Callable[[np.ndarray, np.ndarray], np.ndarray],
    labeled: np.ndarray,
    y: np.ndarray,
    audit: np.ndarray,
    order: np.ndarray,
    *,
    folds: int = FOLDS,
    drop_latest: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """Whether each audit label is predicted correctly by a head that did not see it.

    ``predict_fold(train_positions, test_positions)`` trains on the labeled positions given and
    returns predicted classes for the test positions (positions index ``labeled``/``y``).
    ``audit`` marks audit labels; ``order`` gives each label's time rank, so ``drop_latest``
    can leave out the latest non-audit labels (for the gain estimate).
    """
    audit_pos = np.flatnonzero(audit)
    correct = np.zeros(len(audit_pos), dtype=bool)
    if len(audit_pos) == 0:
        return correct
    keep = np.ones(len(y), dtype=bool)
    if drop_latest:
        others = np.flatnonzero(~audit)
        latest = others[np.argsort(order[others])[::-1][:drop_latest]]
        keep[latest] = False
    fold_of = np.random.default_rng(seed).permutation(len(audit_pos)) % min(folds, len(audit_pos))
    for fold in np.unique(fold_of):
        test = audit_pos[fold_of == fold]
        train = np.flatnonzero(keep)
        train = train[~np.isin(train, test)]
        if len(np.unique(y[train])) < 2:
            continue  # counts as wrong: no model could be trained without these labels
        correct[fold_of == fold] = predict_fold(train, test) == y[test]
    return correct


def evaluate_model(
    pool: Pool,
    labeled: np.ndarray,
    y: np.ndarray,
    audit: np.ndarray,
    label_order: np.ndarray,
    n_classes: int,
    *,
    head: str,
    init: Model | None = None,
    probs: np.ndarray | None = None,
    previous_predictions: np.ndarray | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """The metrics that tell a person how far to trust the model and when to stop:
    ``estimate`` (AccuracyEstimate as a dict), ``gain_per_100`` (points, or None) and
    ``kappa_previous`` (agreement with the previous model's pool predictions, or None).

    ``pool`` is a loop.pool.Pool; ``previous_predictions`` are the previous model's predicted
    classes for the same pool items (-1 where unknown). ``cancel`` is checked before each fit;
    when it says stop, EstimateCancelled is raised.
    """
    from aldesk.ml.heads.base import fit_head, get_head, pool_input

    # A head whose fit is not convex (the CNN), warm-started from a model that saw the held-out
    # fold, remembers those labels after a short training: its folds start from scratch (slower, honest).
    warm = get_head(head).convex

    def predict_fold(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        if cancel is not None and cancel():
            raise EstimateCancelled()
        model, _ = fit_head(head, pool, labeled[train], y[train], n_classes, init=init if warm else None, calibrate=False)
        return model.predict_proba(pool_input(model, pool)[labeled[test]]).argmax(1).numpy()

    if int(audit.sum()) >= MIN_AUDIT_LABELS:
        correct = out_of_fold_correct(predict_fold, labeled, y, audit, label_order)
        estimate = estimate_from_counts(int(correct.sum()), len(correct))
    else:  # too few to estimate anything: spend no fits on them
        estimate = estimate_from_counts(0, int(audit.sum()))
    gain = None
    if estimate.value is not None and int((~audit).sum()) >= 2 * GAIN_WINDOW:
        before = out_of_fold_correct(predict_fold, labeled, y, audit, label_order, drop_latest=GAIN_WINDOW)
        gain = 100.0 * float(correct.mean() - before.mean())
    kappa = None
    if probs is not None and previous_predictions is not None:
        known = previous_predictions >= 0
        if known.any():
            kappa = cohens_kappa(probs.argmax(1)[known], previous_predictions[known], n_classes)
    return {"estimate": estimate.as_dict(), "gain_per_100": gain, "kappa_previous": kappa}
