"""The one learning round: what each setting changes, cancellation, and that the callers agree."""

import numpy as np
import pytest

from aldesk.core.errors import AldeskError
from aldesk.ml.heads.linear import LinearHead
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.loop.round import RoundSettings, drive, round_steps, run_round
from aldesk.ml.loop.snapshot import Snapshot


def blobs(n_per_class: int = 60, classes: int = 3, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(classes, dim))
    y = np.repeat(np.arange(classes), n_per_class)
    x = (centres[y] + rng.normal(size=(len(y), dim))).astype(np.float32)
    return x, y


@pytest.fixture(scope="module")
def pool_and_truth():
    x, y = blobs()
    return PoolModel.build(x), y


def snapshot_with(pool, y_true, labeled, previous=None):
    eligible = np.ones(pool.size, dtype=bool)
    eligible[labeled] = False
    return Snapshot.in_memory(pool.size, labeled, y_true[labeled], eligible, 3, previous=previous)


def test_without_labels_the_round_trains_nothing_and_starts_cold(pool_and_truth):
    pool, y = pool_and_truth
    result = run_round(snapshot_with(pool, y, np.zeros(0, dtype=np.int64)), pool, RoundSettings(queue_length=6, seed=0))
    assert result.train is None and result.probs is None and result.metrics == {}
    assert len(result.queue) == 6 and {q.strategy for q in result.queue} == {"typical"}
    assert [q.rank for q in result.queue] == [1, 2, 3, 4, 5, 6]


def test_a_round_trains_scores_and_asks_only_eligible_items(pool_and_truth):
    pool, y = pool_and_truth
    labeled = np.arange(0, 180, 6)
    result = run_round(snapshot_with(pool, y, labeled), pool, RoundSettings(queue_length=8, fallback_length=20, seed=0))
    assert isinstance(result.train.head, LinearHead) and result.metrics["n_labels"] == len(labeled)
    assert result.probs.shape == (pool.size, 3)
    assert (result.probs.argmax(1) == y).mean() > 0.95  # well-separated blobs
    asked = [q.item_id for q in result.queue] + [q.item_id for q in result.fallback]
    assert len(set(asked)) == 28 and not set(asked) & set(labeled.tolist())  # no repeats, nothing labeled
    assert all(q.model_version is None for q in result.queue)  # the owner numbers the new model
    assert [q.strategy for q in result.fallback] == ["margin"] * 20
    assert set(result.seconds) == {"train", "select"}


def test_a_round_without_training_scores_with_the_stored_model(pool_and_truth):
    pool, y = pool_and_truth
    labeled = np.arange(0, 180, 6)
    trained = run_round(snapshot_with(pool, y, labeled), pool, RoundSettings(queue_length=0)).train
    snapshot = snapshot_with(pool, y, labeled, previous=trained.head)
    snapshot.previous_version = 7
    queried = run_round(snapshot, pool, RoundSettings(strategy="margin", queue_length=5, train=False, seed=0))
    assert queried.train is None
    np.testing.assert_array_equal(queried.probs, trained.probs)
    assert [q.model_version for q in queried.queue] == [7] * 5 and queried.queue[0].strategy == "margin"


def test_a_strategy_that_needs_a_model_uses_the_cold_start_or_says_what_to_run(pool_and_truth):
    pool, y = pool_and_truth
    empty = snapshot_with(pool, y, np.zeros(0, dtype=np.int64))
    started = run_round(empty, pool, RoundSettings(strategy="margin", cold_start="random", queue_length=4, seed=0))
    assert {q.strategy for q in started.queue} == {"random"}
    with pytest.raises(AldeskError, match="needs a trained model; run aldesk train first"):
        run_round(empty, pool, RoundSettings(strategy="margin", cold_start=None, queue_length=4))


def test_one_class_so_far_gives_no_model_but_a_queue(pool_and_truth):
    pool, y = pool_and_truth
    result = run_round(snapshot_with(pool, y, np.array([0, 1, 2])), pool, RoundSettings(queue_length=3, seed=0))
    assert result.train is None and len(result.queue) == 3


def test_the_steps_report_progress_and_cancelling_stops_between_them(pool_and_truth):
    pool, y = pool_and_truth
    labeled = np.arange(0, 180, 3)
    settings = RoundSettings(queue_length=5, suspects=True, seed=0)
    seen = []
    result = run_round(snapshot_with(pool, y, labeled), pool, settings, progress=lambda *s: seen.append(s[0]))
    assert seen == ["training", "checking labels", "scoring"] and result.suspects is not None
    stages = []

    def cancel_after_training() -> bool:
        return "training" in stages

    steps = round_steps(snapshot_with(pool, y, labeled), pool, settings)
    assert drive(steps, progress=lambda *s: stages.append(s[0]), cancel=cancel_after_training) is None
    assert stages == ["training"]  # stopped at the next step: nothing after it ran


def test_the_same_seed_gives_the_same_round(pool_and_truth):
    pool, y = pool_and_truth
    labeled = np.arange(0, 180, 9)
    a, b = (run_round(snapshot_with(pool, y, labeled), pool, RoundSettings(queue_length=10, seed=3)) for _ in range(2))
    assert [q.item_id for q in a.queue] == [q.item_id for q in b.queue]
    np.testing.assert_array_equal(a.probs, b.probs)
