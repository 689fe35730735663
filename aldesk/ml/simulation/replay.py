"""Replaying the labeling loop with known labels, to measure label efficiency honestly.

The true labels act as the oracle; accuracy is measured on a held-out split that no strategy
sees. Each step asks ``batch`` items, adds their true labels, retrains exactly as the app does
(warm start, calibration, the chosen head) and records test accuracy. The strategy named
``default`` is the app's own policy, so its curve is the product's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from aldesk.ml.loop.pool import PoolModel, train_head
from aldesk.ml.heads.linear import LinearHead, fit_linear
from aldesk.ml.heads.cnn import CnnHead, pool_input
from aldesk.ml.strategies import PoolState, get_strategy

TARGETS = (0.95, 0.98, 0.99)
AUDIT_EVERY = 10  # the default of the project setting audit_every
AUDIT_AFTER_PER_CLASS = 3  # as aldesk/core/session.py
Progress = Callable[[str, int, int], None]


@dataclass
class Curve:
    labels: list[int]
    accuracy: list[list[float]] = field(default_factory=list)  # [seed][checkpoint]

    def mean(self) -> np.ndarray:
        return np.mean(np.array(self.accuracy), axis=0)

    def std(self) -> np.ndarray:
        return np.std(np.array(self.accuracy), axis=0)


@dataclass
class SimulationResult:
    full_pool_accuracy: float
    curves: dict[str, Curve]
    head: str
    seconds: float

    def labels_to(self) -> dict[str, dict[str, int | None]]:
        """Labels each strategy's mean curve needs to reach each fraction of full-pool accuracy."""
        out: dict[str, dict[str, int | None]] = {}
        for name, curve in self.curves.items():
            mean = curve.mean()
            out[name] = {}
            for target in TARGETS:
                reached = np.flatnonzero(mean >= target * self.full_pool_accuracy)
                out[name][f"{target:.0%}"] = int(curve.labels[reached[0]]) if len(reached) else None
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "full_pool_accuracy": self.full_pool_accuracy,
            "head": self.head,
            "curves": {
                name: {"labels": c.labels, "accuracy": c.mean().tolist(), "std": c.std().tolist()}
                for name, c in self.curves.items()
            },
            "labels_to": self.labels_to(),
        }


def accuracy_of(head: LinearHead | None, z: torch.Tensor, y: np.ndarray, fallback: int) -> float:
    if head is None:
        return float(np.mean(y == fallback))
    predicted = head.logits(z).argmax(1).numpy()
    return float(np.mean(predicted == y))


def full_pool_accuracy(pool: PoolModel, y_pool: np.ndarray, z_test: torch.Tensor, y_test: np.ndarray, n_classes: int) -> float:
    """The ceiling: the supervised head trained on every pool label."""
    head = fit_linear(pool.z, torch.from_numpy(y_pool), n_classes, max_iter=300)
    return accuracy_of(head, z_test, y_test, 0)


def simulate(
    pool_vectors: np.ndarray,
    y_pool: np.ndarray,
    test_vectors: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    *,
    strategies: list[str],
    seeds: int = 5,
    budget: int = 600,
    batch: int = 10,
    head: str = "default",
    progress: Progress | None = None,
) -> SimulationResult:
    start = time.perf_counter()
    pool = PoolModel.build(pool_vectors)
    z_test = pool.whitening.apply(test_vectors)
    ceiling = full_pool_accuracy(pool, y_pool, z_test, y_test, n_classes)
    checkpoints = list(range(batch, budget + 1, batch))
    curves = {name: Curve(checkpoints) for name in strategies}
    total = len(strategies) * seeds * len(checkpoints)
    done = 0
    for name in strategies:
        for seed in range(seeds):
            curve = []
            for accuracy in run_one(pool, y_pool, z_test, y_test, n_classes, name, seed, budget, batch, head, test_raw=test_vectors):
                curve.append(accuracy)
                done += 1
                if progress:
                    progress(name, done, total)
            curves[name].accuracy.append(curve)
    return SimulationResult(ceiling, curves, head, time.perf_counter() - start)


def run_one(
    pool: PoolModel,
    y_pool: np.ndarray,
    z_test: torch.Tensor,
    y_test: np.ndarray,
    n_classes: int,
    strategy_name: str,
    seed: int,
    budget: int,
    batch: int,
    head_name: str,
    test_raw: np.ndarray | None = None,  # the test vectors as embedded (the cnn head reads them)
    observe: Callable[[np.ndarray, np.ndarray, LinearHead | None, np.ndarray | None], None] | None = None,
):
    """One seeded run; yields test accuracy after each batch of new labels.

    ``observe(labeled, audit, model, probs)``, when given, sees each step's state (pool indices
    of the labels in the order given, which of them are audit items, the model, its pool
    probabilities): the audit simulation scores its accuracy estimates with it."""
    rng = np.random.default_rng(seed)
    strategy = get_strategy(strategy_name)
    # Strategies that need a model start from random picks, as is usual; the app's policy
    # (default) and typical have their own cold start.
    opener = strategy if strategy_name in ("default", "typical", "random") else get_strategy("random")
    eligible = np.ones(pool.size, dtype=bool)
    labeled: list[int] = []
    audited: list[bool] = []
    model: LinearHead | None = None
    probs = None
    majority = 0
    while len(labeled) < budget:
        state = PoolState(
            z=pool.z, eligible=eligible, probs=probs,
            label_counts=np.bincount(y_pool[labeled], minlength=n_classes) if labeled else np.zeros(n_classes, int),
            rng=rng,
        )
        chooser = strategy if probs is not None else opener
        n = min(batch, budget - len(labeled))
        # The app's policy mixes one uniformly drawn audit item into every AUDIT_EVERY labels
        # (aldesk/core/session.py); replay that too, so `default` measures the real product.
        # Audits start after the cold start: AUDIT_AFTER_PER_CLASS labels per class, counted in all.
        auditing = strategy_name == "default" and len(labeled) >= AUDIT_AFTER_PER_CLASS * n_classes
        n_audit = (len(labeled) + n) // AUDIT_EVERY - len(labeled) // AUDIT_EVERY if auditing else 0
        picked = chooser.select(state, n - n_audit).indices
        chosen = len(picked)
        if n_audit:
            rest = np.flatnonzero(eligible)
            rest = rest[~np.isin(rest, picked)]
            picked = np.concatenate([picked, rng.choice(rest, min(n_audit, len(rest)), replace=False)])
        labeled.extend(int(i) for i in picked)
        audited.extend([False] * chosen + [True] * (len(picked) - chosen))
        eligible[picked] = False
        idx = np.array(labeled)
        y = y_pool[idx]
        majority = int(np.bincount(y).argmax())
        if len(np.unique(y)) >= 2:
            # random never reads the model's probabilities: skip calibrating and rescoring, so
            # a random run to a budget of thousands (the baseline's denominator) stays cheap.
            needs_probs = strategy_name != "random" or observe is not None
            model, _ = train_head(pool, idx, y, n_classes, head=head_name, init=model, calibrate=needs_probs)
            probs = model.predict_proba(pool_input(model, pool)).numpy() if needs_probs else None
        if observe is not None:
            observe(idx, np.array(audited), model, probs)
        yield accuracy_of(model, test_raw if isinstance(model, CnnHead) else z_test, y_test, majority)
