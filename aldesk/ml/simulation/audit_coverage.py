"""Does the accuracy estimate tell the truth? Replay the app's loop and compare.

Each seeded run replays the ``default`` policy with its audit items (aldesk/ml/simulation/replay.py) and,
at checkpoints, makes the estimate exactly as the app does (aldesk/ml/evaluation/audit.py) and the stopping
advice from the metrics so far, next to the model's true accuracy on the held-out test split.
Coverage is the fraction of checkpoints whose 90% interval contains the true accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from aldesk.core.stopping import stopping_advice
from aldesk.ml.evaluation.audit import cohens_kappa, evaluate_model
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.simulation.replay import accuracy_of, run_one, held_out_input

if TYPE_CHECKING:
    from aldesk.ml.heads.base import Model

Progress = Callable[[int, int], None]


@dataclass
class Checkpoint:
    seed: int
    labels: int
    audit_labels: int
    true_accuracy: float
    value: float | None
    low: float | None
    high: float | None
    gain_per_100: float | None
    kappa_previous: float | None
    stop: bool

    @property
    def covered(self) -> bool | None:
        if self.value is None or self.low is None or self.high is None:  # an estimate sets all three or none
            return None
        return self.low <= self.true_accuracy <= self.high


@dataclass
class AuditSimulation:
    checkpoints: list[Checkpoint] = field(default_factory=list)

    def coverage(self) -> tuple[float, int]:
        """(fraction of estimated checkpoints whose interval holds the truth, how many)."""
        judged = [c.covered for c in self.checkpoints if c.covered is not None]
        return (float(np.mean(judged)) if judged else float("nan")), len(judged)

    def by_labels(self) -> dict[int, dict[str, float]]:
        """Per checkpoint label count: coverage, mean estimate, mean truth, mean interval width."""
        out: dict[int, dict[str, float]] = {}
        for labels in sorted({c.labels for c in self.checkpoints}):
            rows = [c for c in self.checkpoints if c.labels == labels and c.value is not None]
            if rows:
                out[labels] = {
                    "runs": len(rows),
                    "coverage": float(np.mean([c.covered for c in rows])),
                    "estimate": float(np.mean([c.value for c in rows])),
                    "truth": float(np.mean([c.true_accuracy for c in rows])),
                    "width": float(np.mean([c.high - c.low for c in rows if c.high is not None and c.low is not None])),
                    "audit_labels": float(np.mean([c.audit_labels for c in rows])),
                }
        return out

    def first_stops(self) -> list[Checkpoint | None]:
        """Per seed, the first checkpoint where the stopping rule fired (None if it never did)."""
        seeds = sorted({c.seed for c in self.checkpoints})
        return [next((c for c in self.checkpoints if c.seed == s and c.stop), None) for s in seeds]

    def to_json(self) -> dict[str, Any]:
        coverage, judged = self.coverage()
        return {
            "coverage": coverage,
            "checkpoints_judged": judged,
            "by_labels": self.by_labels(),
            "checkpoints": [c.__dict__ for c in self.checkpoints],
        }


def simulate_audit(
    pool_vectors: np.ndarray,
    y_pool: np.ndarray,
    test_vectors: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    *,
    seeds: int = 20,
    budget: int = 600,
    batch: int = 10,
    head: str = "default",
    every: int = 5,
    gain_threshold: float = 0.5,
    kappa_min: float = 0.99,
    progress: Progress | None = None,
    seed_done: Callable[[int, AuditSimulation], None] | None = None,
) -> AuditSimulation:
    """Replay ``seeds`` runs; estimate at every ``every``-th batch (kappa at every batch, as the
    app retrains after every batch of labels)."""
    pool = PoolModel.build(pool_vectors)
    z_test = pool.whitening.apply(test_vectors)
    result = AuditSimulation()
    steps = budget // batch
    for seed in range(seeds):
        history: list[dict[str, Any]] = []
        state: dict[str, Any] = {"step": 0, "previous": None}

        def observe(
            labeled: np.ndarray,
            audit: np.ndarray,
            model: Model | None,
            probs: np.ndarray | None,
            seed: int = seed,
            history: list[dict[str, Any]] = history,
            state: dict[str, Any] = state,
        ) -> None:
            state["step"] += 1
            if model is None:
                return
            assert probs is not None  # observing makes every round score the pool (replay.run_one)
            predicted = probs.argmax(1)
            previous = state["previous"]
            state["previous"] = predicted
            if state["step"] % every:
                kappa = None if previous is None else cohens_kappa(predicted, previous, n_classes)
                history.append({"kappa_previous": kappa})
                return
            metrics = evaluate_model(
                pool,
                labeled,
                y_pool[labeled],
                audit,
                np.arange(len(labeled)),
                n_classes,
                head=head,
                init=model,
                probs=probs,
                previous_predictions=previous,
            )
            history.append(metrics)
            estimate = metrics["estimate"]
            advice = stopping_advice(history, gain_threshold=gain_threshold, kappa_min=kappa_min)
            result.checkpoints.append(
                Checkpoint(
                    seed,
                    len(labeled),
                    int(audit.sum()),
                    accuracy_of(model, held_out_input(model, z_test, test_vectors), y_test, 0),
                    estimate["value"],
                    estimate["low"],
                    estimate["high"],
                    metrics["gain_per_100"],
                    metrics["kappa_previous"],
                    bool(advice["stop"]),
                )
            )

        for step, _accuracy in enumerate(
            run_one(
                pool,
                y_pool,
                z_test,
                y_test,
                n_classes,
                "default",
                seed,
                budget,
                batch,
                head,
                test_raw=test_vectors,
                observe=observe,
            ),
            start=1,
        ):
            if progress:
                progress(seed * steps + step, seeds * steps)
        if seed_done:
            seed_done(seed + 1, result)  # e.g. write what is known so far
    return result
