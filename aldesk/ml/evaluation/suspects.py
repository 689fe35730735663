"""Suspects: labeled items whose label the rest of the labels disagree with.

Each labeled item is scored by a plain head that never saw it (stratified k-fold, the same
out-of-fold fits the calibration uses), so an item cannot vouch for its own label. The items
those held-out heads most confidently put in another class come first: a wrong key press, or an
image that really is ambiguous, is what a person should look at again.

Qt-free; the worker computes a ranking on a snapshot and the GUI thread stores it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from aldesk.core.errors import AldeskError
from aldesk.core.suspects_store import Suspect, doubt_cutoff
from aldesk.ml.heads import linear as heads

if TYPE_CHECKING:
    from aldesk.ml.heads.base import Pool


class LabelsOfAPool(Protocol):
    """The labels as a round sees them (aldesk/ml/loop/snapshot.py's Snapshot is one)."""

    item_ids: np.ndarray  # [N] the pool's item ids
    class_ids: list[int]  # a class index is a position here
    labeled: np.ndarray  # pool indices of the labeled items
    y: np.ndarray  # their class indices


# self-confidence: 1 - p(given class); margin: p(best other class) - p(given class), in [-1, 1].
# self-confidence found more of the flipped labels on digits and Fashion-MNIST (docs/benchmarks.md).
SCORES = ("self-confidence", "margin")
DEFAULT_SCORE = "self-confidence"
DEFAULT_FOLDS = 5
METHOD = f"{DEFAULT_SCORE}, {DEFAULT_FOLDS} folds"  # stored with each ranking
# Below this many labels the held-out heads are too weak for their disagreement to mean much.
MIN_LABELS = 20


@dataclass(frozen=True)
class SuspectRanking:
    """Labeled items, most suspect first. Positions refer to the arrays given to ``rank_suspects``."""

    positions: np.ndarray  # [m] positions in ``labeled``/``y``
    scores: np.ndarray  # [m] higher = more suspect
    suggested: np.ndarray  # [m] class index the held-out heads prefer over the given one
    p_given: np.ndarray  # [m] held-out probability of the given class
    seconds: float

    def __len__(self) -> int:
        return int(len(self.positions))


def rank_suspects(
    z: torch.Tensor,
    labeled: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    folds: int = DEFAULT_FOLDS,
    score: str = DEFAULT_SCORE,
    seed: int = 0,
    device: torch.device | None = None,
) -> SuspectRanking:
    """Rank the labeled pool items (``labeled``: pool indices into ``z``, ``y``: class indices).

    The heads are class-balanced (``heads.fit_linear``) and the folds stratified, so a rare
    class is neither drowned nor left out of a fold. Items whose class has no other label in
    the training part of their fold get no score (a head cannot know a class it never saw).
    """
    if score not in SCORES:
        raise AldeskError(f"Unknown suspect score {score!r}; choose one of: {', '.join(SCORES)}.")
    if folds < 2:
        raise AldeskError(f"Suspects need at least 2 folds, got {folds}.")
    labeled = np.asarray(labeled, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    if len(labeled) != len(y):
        raise AldeskError(f"{len(labeled)} labeled items but {len(y)} labels; give one label per item.")
    start = time.perf_counter()
    if len(y) < MIN_LABELS or len(np.unique(y)) < 2:
        return _empty(time.perf_counter() - start)
    logits = heads.out_of_fold_logits(
        z[torch.from_numpy(labeled)], torch.from_numpy(y), n_classes, folds=folds, seed=seed, device=device
    )  # the fits run on a GPU when ``device`` is one
    return rank_from_logits(logits, y, score=score, started=start)


def rank_from_logits(
    logits: torch.Tensor, y: np.ndarray, *, score: str = DEFAULT_SCORE, started: float | None = None
) -> SuspectRanking:
    """Rank from out-of-fold logits already at hand (``heads.out_of_fold_logits``), e.g. the
    ones a refresh computes for its temperature: then a ranking costs almost nothing."""
    start = time.perf_counter() if started is None else started
    if score not in SCORES:
        raise AldeskError(f"Unknown suspect score {score!r}; choose one of: {', '.join(SCORES)}.")
    y_t = torch.from_numpy(np.asarray(y, dtype=np.int64))
    given_logit = logits.gather(1, y_t[:, None]).squeeze(1)
    scored = torch.isfinite(given_logit)
    if not bool(scored.any()):
        return _empty(time.perf_counter() - start)
    # Calibrated probabilities make the score readable ("the others say 0.9 'cat'") and put
    # items on one scale across classes; the temperature costs a few dozen softmaxes.
    temperature = heads.fit_temperature(*_temperature_sample(logits[scored], y_t[scored]))
    probs = torch.softmax(logits[scored] / temperature, dim=1)
    y_s = y_t[scored]
    p_given = probs.gather(1, y_s[:, None]).squeeze(1)
    others = probs.scatter(1, y_s[:, None], -1.0)
    p_other, suggested = others.max(1)
    values = 1.0 - p_given if score == "self-confidence" else p_other - p_given
    positions = torch.nonzero(scored).flatten()
    # Stable descending order; ties (e.g. many 0.0 scores) keep label order, reproducibly.
    order = torch.from_numpy(np.argsort(-values.numpy(), kind="stable"))
    return SuspectRanking(
        positions=positions[order].numpy(),
        scores=values[order].numpy().astype(np.float64),
        suggested=suggested[order].numpy(),
        p_given=p_given[order].numpy().astype(np.float64),
        seconds=time.perf_counter() - start,
    )


# The temperature is one number: this many held-out rows pin it down (its search scores every
# row ~40 times: 0.4 s at 118,000 labels).
TEMPERATURE_ROWS = 20_000


def _temperature_sample(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if len(y) <= TEMPERATURE_ROWS:
        return logits, y
    rows = torch.from_numpy(np.sort(np.random.default_rng(0).choice(len(y), TEMPERATURE_ROWS, replace=False)))
    return logits[rows], y[rows]


def _empty(seconds: float) -> SuspectRanking:
    return SuspectRanking(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros(0), seconds)


def suspects_for_snapshot(
    snapshot: LabelsOfAPool,
    pool: "Pool",
    *,
    limit: int | None = None,
    folds: int = DEFAULT_FOLDS,
    score: str = DEFAULT_SCORE,
    every: bool = False,
) -> list[Suspect]:
    """The project's suspects as stored records (item and class ids, not positions), best first:
    the labels whose held-out probability is below ``doubt_cutoff`` (``every``: every scored label).

    Runs in the worker on a snapshot; ``limit`` keeps only the top of the ranking."""
    ranking = rank_suspects(
        pool.z, snapshot.labeled, snapshot.y, len(snapshot.class_ids), folds=folds, score=score, device=pool.fit_device
    )
    cutoff = doubt_cutoff(len(snapshot.class_ids))
    listed = np.arange(len(ranking)) if every else np.flatnonzero(ranking.p_given < cutoff)
    out: list[Suspect] = []
    for at in listed[:limit]:
        position = int(ranking.positions[at])
        out.append(
            Suspect(
                item_id=int(snapshot.item_ids[snapshot.labeled[position]]),
                rank=len(out) + 1,
                given_class_id=snapshot.class_ids[int(snapshot.y[position])],
                suggested_class_id=snapshot.class_ids[int(ranking.suggested[at])],
                score=float(ranking.scores[at]),
                p_given=float(ranking.p_given[at]),
            )
        )
    return out
