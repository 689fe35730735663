"""Replaying the labeling loop with known labels, to measure label efficiency honestly.

The true labels act as the oracle; accuracy is measured on a held-out split that no strategy
sees. Each step asks ``batch`` items, adds their true labels, retrains exactly as the app does
(warm start, calibration, the chosen head) and records test accuracy. The strategy named
``default`` is the app's own policy, so its curve is the product's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aldesk.ml.heads.base import Model
from aldesk.ml.heads.linear import fit_linear
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.loop.round import RoundSettings, run_round
from aldesk.ml.loop.snapshot import Snapshot

if TYPE_CHECKING:
    from aldesk.ml.simulation.text_tuning import SimulatedTuning

TARGETS = (0.95, 0.98, 0.99)
AUDIT_EVERY = 10  # the default of the project setting audit_every
AUDIT_AFTER_PER_CLASS = 3  # as aldesk/core/session.py
Progress = Callable[[str, int, int], None]


@dataclass
class Curve:
    labels: list[int]
    accuracy: list[list[float]] = field(default_factory=list)  # [seed][checkpoint]

    def mean(self) -> np.ndarray:
        out: np.ndarray = np.mean(np.array(self.accuracy), axis=0)  # (numpy types it Any)
        return out

    def std(self) -> np.ndarray:
        out: np.ndarray = np.std(np.array(self.accuracy), axis=0)
        return out


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


def held_out_input(model: Model | None, z_test: torch.Tensor, test_raw: np.ndarray | None) -> torch.Tensor | np.ndarray:
    """What ``model`` reads of the test split: the whitened features, or the vectors as embedded."""
    if model is not None and model.reads == "raw":
        if test_raw is None:
            raise ValueError("a head that reads raw vectors needs the test split's raw vectors (test_raw)")
        return test_raw
    return z_test


def accuracy_of(head: Model | None, z: torch.Tensor | np.ndarray, y: np.ndarray, fallback: int) -> float:
    """``z``: what the head reads (the whitened features, or the raw vectors for the cnn head)."""
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
    tuning: Callable[[str], SimulatedTuning] | None = None,
) -> SimulationResult:
    """``tuning``: for texts, a new SimulatedTuning per run (given the strategy's name)."""
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
            for accuracy in run_one(
                pool,
                y_pool,
                z_test,
                y_test,
                n_classes,
                name,
                seed,
                budget,
                batch,
                head,
                test_raw=test_vectors,
                tuning=tuning(name) if tuning is not None else None,
            ):
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
    test_raw: np.ndarray | None = None,  # the test vectors as embedded (a head reading raw vectors scores them)
    observe: Callable[[np.ndarray, np.ndarray, Model | None, np.ndarray | None], None] | None = None,
    tuning: SimulatedTuning | None = None,
) -> Iterator[float]:
    """One seeded run; yields test accuracy after each batch of new labels.

    Each step is the app's own round (aldesk/ml/loop/round.py) on an in-memory snapshot of the
    labels so far: train on them, then pick the next batch. ``observe(labeled, audit, model,
    probs)``, when given, sees each step's state (pool indices of the labels in the order given,
    which of them are audit items, the model, its pool probabilities): the audit simulation
    scores its accuracy estimates with it. ``tuning`` (text data sets): the app's fine-tuning of
    the encoder, which replaces the pool's and the test split's vectors when it is adopted."""
    rng = np.random.default_rng(seed)
    # random never reads the model's probabilities: its rounds skip calibrating and rescoring, so
    # a random run to a budget of thousands (the baseline's denominator) stays cheap.
    needs_probs = strategy_name != "random" or observe is not None
    # Strategies that need a model start from random picks, as is usual; the app's policy
    # (default) and typical have their own cold start.
    base = RoundSettings(head=head_name, strategy=strategy_name, cold_start="random", calibrate=needs_probs, score=needs_probs)
    eligible = np.ones(pool.size, dtype=bool)
    labeled: list[int] = []
    audited: list[bool] = []
    model: Model | None = None
    while True:
        idx = np.array(labeled, dtype=np.int64)
        y = y_pool[idx]
        if tuning is not None and labeled and tuning.step(idx, y, np.array(audited, dtype=bool)):
            # New vectors: a new pool, and no warm start from a model of the old ones.
            pool = PoolModel.build(tuning.pool_vectors)
            z_test, test_raw, model = pool.whitening.apply(tuning.test_vectors), tuning.test_vectors, None
        n = min(batch, budget - len(labeled))
        # The app's policy mixes one uniformly drawn audit item into every AUDIT_EVERY labels
        # (aldesk/core/session.py); replay that too, so `default` measures the real product.
        # Audits start after the cold start: AUDIT_AFTER_PER_CLASS labels per class, counted in all.
        auditing = strategy_name == "default" and len(labeled) >= AUDIT_AFTER_PER_CLASS * n_classes
        n_audit = (len(labeled) + n) // AUDIT_EVERY - len(labeled) // AUDIT_EVERY if auditing else 0
        snapshot = Snapshot.in_memory(pool.size, idx, y, eligible, n_classes, previous=model)
        settings = dataclasses.replace(base, queue_length=n - n_audit, train=len(labeled) > 0)
        result = run_round(snapshot, pool, settings, rng=rng)
        assert result is not None  # None only when cancelled, and nothing cancels here
        if result.train is not None:
            model = result.train.head
        if labeled:
            if observe is not None:
                observe(idx, np.array(audited), model, result.probs)
            majority = int(np.bincount(y).argmax())
            # test_raw is None unless the caller gave it: a head reading raw vectors then cannot be scored.
            yield accuracy_of(
                model,
                test_raw if model is not None and model.reads == "raw" else z_test,  # type: ignore[arg-type]
                y_test,
                majority,
            )
        if n == 0:
            return
        picked = result.selection.indices if result.selection is not None else np.zeros(0, dtype=np.int64)
        chosen = len(picked)
        if n_audit:
            rest = np.flatnonzero(eligible)
            rest = rest[~np.isin(rest, picked)]
            picked = np.concatenate([picked, rng.choice(rest, min(n_audit, len(rest)), replace=False)])
        labeled.extend(int(i) for i in picked)
        audited.extend([False] * chosen + [True] * (len(picked) - chosen))
        eligible[picked] = False
