import math

import numpy as np
import pytest

from aldesk.ml.evaluation.audit import (
    MIN_AUDIT_LABELS,
    cohens_kappa,
    estimate_from_counts,
    evaluate_model,
    out_of_fold_correct,
    wilson_interval,
)
from aldesk.ml.loop.pool import PoolModel


def test_wilson_interval_matches_a_textbook_value_and_covers_at_the_stated_rate():
    # 8 of 10 at 90% (z = 1.6449, z^2 = 2.7055): centre (0.8 + 0.1353) / 1.2706 = 0.7361,
    # half width 1.6449 * sqrt(0.016 + 0.0068) / 1.2706 = 0.1953 -> 0.5408 .. 0.9314
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.5408, abs=1e-3) and high == pytest.approx(0.9314, abs=1e-3)
    rng = np.random.default_rng(0)
    for p, n in [(0.9, 30), (0.7, 50), (0.95, 200)]:
        hits = 0
        for _ in range(2000):
            k = rng.binomial(n, p)
            lo, hi = wilson_interval(int(k), n)
            hits += lo <= p <= hi
        assert 0.85 <= hits / 2000 <= 0.96


def test_no_estimate_until_enough_audit_labels():
    assert estimate_from_counts(5, MIN_AUDIT_LABELS - 1).value is None
    estimate = estimate_from_counts(9, 12)
    assert estimate.value == pytest.approx(0.75) and estimate.low < 0.75 < estimate.high
    assert estimate.audit_labels == 12


def test_kappa():
    a = np.array([0, 1, 2, 0, 1, 2])
    assert cohens_kappa(a, a, 3) == pytest.approx(1.0)
    assert cohens_kappa(a, np.array([1, 2, 0, 1, 2, 0]), 3) < 0
    # one disagreement of six: observed 5/6, expected 1/3 -> (5/6 - 1/3) / (2/3) = 0.75
    assert cohens_kappa(a, np.array([0, 1, 2, 0, 1, 0]), 3) == pytest.approx(0.75)


def test_out_of_fold_never_lets_a_head_see_the_label_it_is_scored_on():
    y = np.array([0, 1] * 20)
    audit = np.zeros(40, dtype=bool)
    audit[::3] = True
    seen = []

    def predict(train, test):
        assert not set(train) & set(test)
        seen.extend(test.tolist())
        return y[test]  # a perfect predictor

    correct = out_of_fold_correct(predict, np.arange(40), y, audit, np.arange(40))
    assert sorted(seen) == np.flatnonzero(audit).tolist() and correct.all()


def test_dropping_the_latest_labels_removes_the_newest_non_audit_ones():
    y = np.array([0, 1] * 10)
    audit = np.zeros(20, dtype=bool)
    audit[:4] = True
    order = np.arange(20)
    trained_on = []

    def predict(train, test):
        trained_on.append(set(train.tolist()))
        return y[test]

    out_of_fold_correct(predict, np.arange(20), y, audit, order, drop_latest=5)
    assert all(not ({15, 16, 17, 18, 19} & used) for used in trained_on)
    assert all({4, 5, 14} <= used for used in trained_on)


def _blobs(n_per_class: int, seed: int, spread: float):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 16)) * 3
    x = np.concatenate([c + spread * rng.normal(size=(n_per_class, 16)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(3), n_per_class)
    return x, y


@pytest.mark.parametrize("head", ["plain", "default"])
def test_the_estimate_tracks_the_true_accuracy_of_the_model(head):
    x, y = _blobs(400, seed=1, spread=5.0)
    pool = PoolModel.build(x)
    rng = np.random.default_rng(2)
    labeled = rng.choice(len(x), 240, replace=False)
    audit = np.zeros(len(labeled), dtype=bool)
    audit[rng.choice(len(labeled), 120, replace=False)] = True
    from aldesk.ml.heads.base import fit_head

    model, _ = fit_head(head, pool, labeled, y[labeled], 3, calibrate=False)
    probs = model.predict_proba(pool.z).numpy()
    rest = np.setdiff1d(np.arange(len(x)), labeled)
    true_accuracy = float((probs[rest].argmax(1) == y[rest]).mean())
    metrics = evaluate_model(
        pool, labeled, y[labeled], audit, np.arange(len(labeled)), 3, head=head, probs=probs, previous_predictions=probs.argmax(1)
    )
    estimate = metrics["estimate"]
    assert estimate["audit_labels"] == 120
    assert 0.6 < true_accuracy < 0.99  # a problem where accuracy is informative
    assert estimate["low"] <= true_accuracy + 0.03 and true_accuracy - 0.03 <= estimate["high"]
    assert metrics["kappa_previous"] == pytest.approx(1.0)
    assert metrics["gain_per_100"] is None  # only 120 non-audit labels: too few to drop 100


def test_gain_is_positive_while_labels_still_help():
    x, y = _blobs(600, seed=3, spread=5.0)
    pool = PoolModel.build(x)
    rng = np.random.default_rng(4)
    labeled = rng.choice(len(x), 330, replace=False)
    audit = np.zeros(len(labeled), dtype=bool)
    audit[:130] = True
    # the 200 non-audit labels: the oldest 100 all from one pair of classes, so the latest 100
    # carry what the model needs about the third class
    order = np.arange(len(labeled))
    metrics = evaluate_model(pool, labeled, y[labeled], audit, order, 3, head="plain")
    assert metrics["gain_per_100"] is not None and math.isfinite(metrics["gain_per_100"])
    # The gain is a whole number of the 130 audit labels, per 100: at least one more of them is
    # predicted right with the latest 100 labels than without them (two, with these seeds).
    more_right = metrics["gain_per_100"] * 130 / 100
    assert more_right == pytest.approx(round(more_right)) and round(more_right) >= 1
