"""Suspects: flipped labels in a separable problem come first; odd inputs are handled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aldesk.core.errors import AldeskError
from aldesk.ml.evaluation import suspects
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.evaluation.suspects import MIN_LABELS, rank_suspects, suspects_for_snapshot
from aldesk.ml.loop.snapshot import Snapshot


def blobs(n: int, n_classes: int, dim: int = 32, spread: float = 0.6, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)) * 3
    y = rng.integers(0, n_classes, n)
    x = centres[y] + rng.normal(size=(n, dim)) * spread * 3
    return torch.from_numpy(x.astype(np.float32)), y


def flip(y: np.ndarray, n_classes: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(y), int(round(rate * len(y))), replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return noisy, flipped


@pytest.mark.parametrize("score", ["margin", "self-confidence"])
def test_flipped_labels_are_ranked_first(score):
    z, y = blobs(800, 8)
    noisy, flipped = flip(y, 8, 0.05, seed=1)
    labeled = np.arange(len(y))
    ranking = rank_suspects(z, labeled, noisy, 8, score=score)
    k = len(flipped)  # 40
    top = labeled[ranking.positions[:k]]
    precision = np.isin(top, flipped).mean()
    assert precision >= 0.8, precision  # chance is 0.05
    # The suggested class of a caught flip is, nearly always, its true class.
    caught = ranking.positions[:k][np.isin(top, flipped)]
    suggested = ranking.suggested[:k][np.isin(top, flipped)]
    assert (suggested == y[caught]).mean() >= 0.9
    assert np.all(np.diff(ranking.scores) <= 0)  # best first
    assert np.all(ranking.suggested != noisy[ranking.positions])  # never the label it has


def test_positions_refer_to_the_labeled_subset_of_a_larger_pool():
    z, y = blobs(1000, 4, seed=3)
    labeled = np.sort(np.random.default_rng(0).choice(1000, 300, replace=False))
    noisy, flipped = flip(y[labeled], 4, 0.05, seed=2)
    ranking = rank_suspects(z, labeled, noisy, 4)
    top_positions = ranking.positions[: len(flipped)]
    assert np.isin(top_positions, flipped).mean() >= 0.8


def test_a_class_with_a_single_label_gets_no_score():
    z, y = blobs(200, 3, seed=4)
    keep = np.concatenate([np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:1]])
    ranking = rank_suspects(z, keep, y[keep], 3)
    lone = len(keep) - 1
    assert lone not in set(ranking.positions.tolist())
    assert len(ranking) == len(keep) - 1


def test_too_few_labels_or_one_class_give_an_empty_ranking():
    z, y = blobs(100, 3)
    assert len(rank_suspects(z, np.arange(MIN_LABELS - 1), y[: MIN_LABELS - 1], 3)) == 0
    assert len(rank_suspects(z, np.arange(50), np.zeros(50, dtype=np.int64), 3)) == 0


def test_bad_arguments_are_refused_with_a_message():
    z, y = blobs(100, 3)
    with pytest.raises(AldeskError, match="score"):
        rank_suspects(z, np.arange(100), y, 3, score="loss")
    with pytest.raises(AldeskError, match="folds"):
        rank_suspects(z, np.arange(100), y, 3, folds=1)
    with pytest.raises(AldeskError, match="one label per item"):
        rank_suspects(z, np.arange(100), y[:50], 3)


def test_ranking_is_reproducible():
    z, y = blobs(300, 4, seed=5)
    noisy, _ = flip(y, 4, 0.05, seed=0)
    a = rank_suspects(z, np.arange(300), noisy, 4)
    b = rank_suspects(z, np.arange(300), noisy, 4)
    assert np.array_equal(a.positions, b.positions) and np.allclose(a.scores, b.scores)


def test_snapshot_suspects_carry_item_and_class_ids():
    x, y = blobs(400, 3, dim=16, seed=6)
    noisy, flipped = flip(y, 3, 0.05, seed=3)
    item_ids = np.arange(400, dtype=np.int64) * 10 + 7
    class_ids = [11, 22, 33]
    snapshot = Snapshot(
        set_id=1,
        backbone="test",
        item_ids=item_ids,
        vectors=x.numpy().astype(np.float16),
        class_ids=class_ids,
        labeled=np.arange(400),
        y=noisy,
        eligible=np.zeros(400, dtype=bool),
        previous=None,
        previous_version=None,
    )
    suspects = suspects_for_snapshot(snapshot, PoolModel.build(snapshot.vectors), limit=len(flipped), every=True)
    assert [s.rank for s in suspects] == list(range(1, len(flipped) + 1))
    assert np.isin([s.item_id for s in suspects], item_ids[flipped]).mean() >= 0.8
    for s in suspects:
        position = int(np.flatnonzero(item_ids == s.item_id)[0])
        assert s.given_class_id == class_ids[noisy[position]]
        assert s.suggested_class_id in class_ids and s.suggested_class_id != s.given_class_id
        assert 0.0 <= s.p_given <= 1.0


def test_ranking_from_logits_at_hand_orders_by_doubt_and_skips_unknown_classes():
    from aldesk.ml.evaluation.suspects import rank_from_logits

    inf = float("-inf")
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 3.0, 0.0], [inf, 2.0, 0.0], [1.0, 1.0, 0.0]])
    y = np.array([0, 0, 0, 1])
    ranking = rank_from_logits(logits, y)
    assert ranking.positions.tolist() == [1, 3, 0]  # row 2's label was never seen by its head
    assert ranking.suggested.tolist() == [1, 0, 1]
    assert np.all(np.diff(ranking.scores) <= 0) and np.all((ranking.scores >= 0) & (ranking.scores <= 1))


def test_temperature_of_a_large_ranking_comes_from_a_sample_of_rows(monkeypatch):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    logits = torch.from_numpy(rng.normal(size=(500, 3))).float()
    logits[np.arange(500), y] += 2.0
    full = suspects.rank_from_logits(logits, y)
    seen = []
    fit = suspects.heads.fit_temperature
    monkeypatch.setattr(suspects.heads, "fit_temperature", lambda lg, yy: seen.append(len(yy)) or fit(lg, yy))
    monkeypatch.setattr(suspects, "TEMPERATURE_ROWS", 200)
    sampled = suspects.rank_from_logits(logits, y)
    assert seen == [200] and len(sampled) == len(full) == 500
    # A temperature from 200 of the 500 rows ranks nearly as the one from all of them.
    assert len(np.intersect1d(sampled.positions[:50], full.positions[:50])) >= 45


def test_only_labels_the_held_out_heads_doubt_are_listed():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 16)) * 6
    y = np.repeat(np.arange(3), 60)
    x = torch.from_numpy((centres[y] + rng.normal(size=(180, 16))).astype(np.float32))
    noisy = y.copy()
    flipped = np.array([5, 70, 130])
    noisy[flipped] = (y[flipped] + 1) % 3
    snapshot = Snapshot(
        set_id=1,
        backbone="test",
        item_ids=np.arange(180, dtype=np.int64) + 1,
        vectors=x.numpy().astype(np.float16),
        class_ids=[1, 2, 3],
        labeled=np.arange(180),
        y=noisy,
        eligible=np.zeros(180, dtype=bool),
        previous=None,
        previous_version=None,
    )
    pool = PoolModel.build(snapshot.vectors)
    everything = suspects_for_snapshot(snapshot, pool, every=True)
    listed = suspects_for_snapshot(snapshot, pool)
    assert len(everything) == 180  # the ranking scores every label...
    assert set(flipped + 1) <= {s.item_id for s in listed} and len(listed) < 20  # ...the list holds the doubted
    assert [s.rank for s in listed] == list(range(1, len(listed) + 1))
