"""Query strategies: each is a small object with one method that picks items to ask about.

A strategy sees the pool (whitened embeddings, the current model's probabilities if there is
one, which items may be asked) and returns pool indices in the order to ask, with the score
that put each there (recorded with the label, so the history explains every question).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from aldesk.core.errors import AldeskError

# Above this many candidates, clustering works on a random sample (pool sub-sampling).
CLUSTER_SAMPLE = 20_000
# margin-diverse clusters this many times the batch size of the least-certain items.
DIVERSE_PREFILTER = 10
# The cold start runs until every class has this many labels (then margin-diverse).
COLD_START_LABELS_PER_CLASS = 3
# The typical cold start clusters into at most this many clusters once labels + n exceed it
# (k-means cost grows with k; see TypicalStrategy).
COLD_START_MAX_CLUSTERS = 256


@dataclass
class PoolState:
    z: torch.Tensor  # [N, r] whitened embeddings of the pool
    eligible: np.ndarray  # [N] bool: items that may be asked (unlabeled, not skipped/unsure)
    probs: np.ndarray | None  # [N, K] current model's probabilities, None before the first model
    label_counts: np.ndarray  # [K] labels per class so far
    rng: np.random.Generator


@dataclass
class Selection:
    indices: np.ndarray  # pool indices, first = ask first
    scores: np.ndarray  # the strategy's score for each (margin, entropy, typicality, ...)
    strategy: str  # the strategy that actually chose them (default names its current stage)


class Strategy(Protocol):
    name: str
    # Whether it cannot choose without a model's probabilities (the round then starts with its
    # cold-start strategy); random, typical and default choose from the embeddings alone.
    needs_model: bool

    def select(self, state: PoolState, n: int) -> Selection: ...


# --- uncertainty ---------------------------------------------------------------------------


def margins(probs: np.ndarray) -> np.ndarray:
    """Best minus second-best class probability (small = the model hesitates between two)."""
    top2 = -np.partition(-probs, 1, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]


def _lowest(values: np.ndarray, eligible: np.ndarray, n: int) -> np.ndarray:
    candidates = np.flatnonzero(eligible)
    if len(candidates) <= n:
        return candidates[np.argsort(values[candidates], kind="stable")]
    part = np.argpartition(values[candidates], n - 1)[:n]
    chosen = candidates[part]
    return chosen[np.argsort(values[chosen], kind="stable")]


def _needs_model(state: PoolState, name: str) -> np.ndarray:
    if state.probs is None:
        raise AldeskError(f"The {name!r} strategy needs a trained model; train one first.")
    return state.probs


class RandomStrategy:
    name = "random"
    needs_model = False

    def select(self, state: PoolState, n: int) -> Selection:
        candidates = np.flatnonzero(state.eligible)
        chosen = state.rng.choice(candidates, size=min(n, len(candidates)), replace=False)
        return Selection(chosen, np.zeros(len(chosen)), self.name)


class _Uncertainty:
    """Ask the eligible items whose ``uncertainty`` ranks them first (lowest value first); the
    score recorded with each is ``shown(value)``. A new uncertainty measure is one subclass."""

    name = "uncertainty"
    needs_model = True

    @staticmethod
    def ranking(probs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def shown(value: np.ndarray) -> np.ndarray:
        return value

    def select(self, state: PoolState, n: int) -> Selection:
        value = self.ranking(_needs_model(state, self.name))
        chosen = _lowest(value, state.eligible, n)
        return Selection(chosen, self.shown(value[chosen]), self.name)


class MarginStrategy(_Uncertainty):
    name = "margin"
    ranking = staticmethod(margins)


class LeastConfidenceStrategy(_Uncertainty):
    name = "least-confidence"

    @staticmethod
    def ranking(probs: np.ndarray) -> np.ndarray:
        confidence: np.ndarray = probs.max(1)
        return confidence


class EntropyStrategy(_Uncertainty):
    """Highest entropy first; the score recorded is the entropy itself."""

    name = "entropy"

    @staticmethod
    def ranking(probs: np.ndarray) -> np.ndarray:
        minus_entropy: np.ndarray = (probs * np.log(np.clip(probs, 1e-12, 1))).sum(1)
        return minus_entropy

    @staticmethod
    def shown(value: np.ndarray) -> np.ndarray:
        return -value


class MarginDiverseStrategy:
    """Margin over a candidate set, then one item per cluster of the candidates, so one batch
    never holds near-duplicates (Zhdanov 2019, "Diverse mini-batch active learning")."""

    name = "margin-diverse"
    needs_model = True

    def select(self, state: PoolState, n: int) -> Selection:
        m = margins(_needs_model(state, self.name))
        candidates = _lowest(m, state.eligible, n * DIVERSE_PREFILTER)
        if len(candidates) <= n:
            return Selection(candidates, m[candidates], self.name)
        z = state.z[torch.from_numpy(candidates)]
        # Uncertain candidates pull the centroids harder.
        weights = torch.from_numpy(1.0 - m[candidates]).float().clamp_min(1e-3)
        centroids, assignment = kmeans(z, n, state.rng, weights=weights)
        picks = []
        for cluster in range(len(centroids)):
            members = torch.nonzero(assignment == cluster).flatten()
            if len(members) == 0:
                continue
            distance = ((z[members] - centroids[cluster]) ** 2).sum(1)
            picks.append(candidates[int(members[torch.argmin(distance)])])
        chosen = np.array(picks, dtype=np.int64)
        chosen = chosen[np.argsort(m[chosen], kind="stable")]
        return Selection(chosen, m[chosen], self.name)


class TypicalStrategy:
    """Cold start without a model (TypiClust, Hacohen et al. 2022): cluster the pool into
    (labels so far + n) clusters and ask for the most typical item of the largest clusters that
    hold no label yet: representative, and diverse by construction.

    With many labels (imported ones, say) k = labels + n would be tens of thousands of clusters
    (a 1M pool with 118k labels ran over an hour). Past COLD_START_MAX_CLUSTERS the labeled
    items are sampled with the pool instead of all kept, k is bounded, and clusters are ranked
    by the share of their members already labeled (least covered first): still typical items
    of the regions the labels cover least, at a cost that does not grow with the label count."""

    name = "typical"
    needs_model = False
    neighbours = 20

    def select(self, state: PoolState, n: int) -> Selection:
        pool = np.arange(len(state.eligible))
        labeled = np.flatnonzero(~state.eligible)
        bounded = len(labeled) + n > COLD_START_MAX_CLUSTERS
        if len(pool) <= CLUSTER_SAMPLE:
            sample = pool
        elif bounded:  # labeled items in the sample at their share of the pool
            sample = np.sort(state.rng.choice(pool, CLUSTER_SAMPLE, replace=False))
        else:  # few labels: keep every one, so each covers its cluster
            sample = np.union1d(state.rng.choice(pool, CLUSTER_SAMPLE, replace=False), labeled)
        z = state.z[torch.from_numpy(sample)]
        is_labeled = torch.from_numpy((~state.eligible[sample]).astype(np.float32))
        n_labeled = int(is_labeled.sum())
        k = int(min(len(sample), max(n, COLD_START_MAX_CLUSTERS) if bounded else n_labeled + n))
        _, assignment = kmeans(z, k, state.rng)
        labeled_in = torch.zeros(k).index_add_(0, assignment, is_labeled)
        sizes = torch.bincount(assignment, minlength=k).float()
        # Uncovered (or least covered) clusters first, largest first.
        coverage = labeled_in / sizes.clamp_min(1) if bounded else labeled_in
        order = np.lexsort((-sizes.numpy(), coverage.numpy()))
        picks: list[np.intp] = []
        scores: list[float] = []
        for cluster in order:
            if len(picks) == n:
                break
            members = torch.nonzero(assignment == int(cluster)).flatten()
            open_members = members[torch.from_numpy(state.eligible[sample[members.numpy()]])]
            if len(open_members) == 0:
                continue
            typicality = _typicality(z[members], z[open_members], self.neighbours)
            best = int(torch.argmax(typicality))
            picks.append(sample[int(open_members[best])])
            scores.append(float(typicality[best]))
        return Selection(np.array(picks, dtype=np.int64), np.array(scores), self.name)


class DefaultStrategy:
    """What the app does: the typical cold start until every class has a few labels (or there
    is no model yet), then margin-diverse."""

    name = "default"
    needs_model = False

    def __init__(self) -> None:
        self.cold = TypicalStrategy()
        self.warm = MarginDiverseStrategy()

    def select(self, state: PoolState, n: int) -> Selection:
        if state.probs is None or (state.label_counts < COLD_START_LABELS_PER_CLASS).any():
            return self.cold.select(state, n)
        return self.warm.select(state, n)


STRATEGIES: dict[str, type[Strategy]] = {
    s.name: s
    for s in (
        DefaultStrategy,
        MarginStrategy,
        MarginDiverseStrategy,
        LeastConfidenceStrategy,
        EntropyStrategy,
        RandomStrategy,
        TypicalStrategy,
    )
}


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise AldeskError(f"Unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}.")
    return STRATEGIES[name]()


# --- clustering --------------------------------------------------------------------------------


def kmeans(
    z: torch.Tensor, k: int, rng: np.random.Generator, *, weights: torch.Tensor | None = None, iterations: int = 15
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted k-means with k-means++ seeding: (centroids [k, r], assignment [n])."""
    n = z.shape[0]
    k = max(1, min(k, n))
    w = torch.ones(n) if weights is None else weights.float()
    start_p = w.double().numpy()
    first = int(rng.choice(n, p=start_p / start_p.sum()))
    centroids = [z[first]]
    closest = ((z - z[first]) ** 2).sum(1)
    for _ in range(1, k):
        p = (closest * w).double().numpy()
        total = p.sum()
        nxt = int(rng.choice(n, p=p / total)) if total > 0 else int(rng.integers(n))
        centroids.append(z[nxt])
        closest = torch.minimum(closest, ((z - z[nxt]) ** 2).sum(1))
    c = torch.stack(centroids)
    assignment = torch.zeros(n, dtype=torch.long)
    for _ in range(iterations):
        assignment = torch.cdist(z, c).argmin(1)
        sums = torch.zeros_like(c).index_add_(0, assignment, z * w[:, None])
        mass = torch.zeros(k).index_add_(0, assignment, w)
        moved = torch.where(mass[:, None] > 0, sums / mass.clamp_min(1e-12)[:, None], c)
        if torch.allclose(moved, c, atol=1e-5):
            break
        c = moved
    return c, assignment


def _typicality(cluster: torch.Tensor, candidates: torch.Tensor, neighbours: int) -> torch.Tensor:
    """Inverse mean distance to the nearest members of the cluster: high = in a dense core."""
    if len(cluster) <= 1:
        return torch.ones(len(candidates))
    k = min(neighbours, len(cluster) - 1)
    distances = torch.cdist(candidates, cluster)
    nearest = torch.topk(distances, k + 1, largest=False).values[:, 1:]  # drop itself
    return 1.0 / (nearest.mean(1) + 1e-8)
