import numpy as np

from aldesk.ml.simulation.audit_coverage import simulate_audit


def test_replay_scores_the_estimate_against_the_truth():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 12)) * 3

    def sample(n):
        y = rng.integers(0, 3, n)
        return (centres[y] + 4.0 * rng.normal(size=(n, 12))).astype(np.float32), y

    xp, yp = sample(300)
    xt, yt = sample(200)
    result = simulate_audit(xp, yp, xt, yt, 3, seeds=2, budget=120, batch=10, head="plain", every=4)
    assert [c.labels for c in result.checkpoints if c.seed == 0] == [40, 80, 120]
    # one audit per batch of 10, from the batch after the cold start (9 labels for 3 classes)
    assert all(c.audit_labels == c.labels // 10 - 1 for c in result.checkpoints)
    judged = [c for c in result.checkpoints if c.value is not None]
    assert judged and all(c.low <= c.value <= c.high for c in judged)
    coverage, n = result.coverage()
    assert n == len(judged) and 0.0 <= coverage <= 1.0
    # the estimate is about the model's accuracy, not a fixed number: it follows the truth
    assert abs(np.mean([c.value for c in judged]) - np.mean([c.true_accuracy for c in judged])) < 0.15
    assert len(result.first_stops()) == 2


def test_the_cnn_head_is_scored_on_raw_test_vectors(monkeypatch):
    """The cnn head reads pixel vectors: the replay and its accuracy checkpoints must hand it the
    test split as embedded, not whitened (they did not: `--head cnn` crashed)."""
    from aldesk.ml.heads import cnn

    monkeypatch.setattr(cnn, "MIN_STEPS", 5)
    monkeypatch.setattr(cnn, "MAX_STEPS", 5)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 160)
    images = np.zeros((160, 3, cnn.SIDE, cnn.SIDE), dtype=np.float32)
    images[y == 0, :, :, : cnn.SIDE // 2] = 1.0  # left half bright
    images[y == 1, :, :, cnn.SIDE // 2 :] = 1.0  # right half bright
    x = (images + 0.1 * rng.normal(size=images.shape)).reshape(160, -1).astype(np.float32)
    result = simulate_audit(x[:120], y[:120], x[120:], y[120:], 2, seeds=1, budget=60, batch=10, head="cnn", every=3)
    assert [c.labels for c in result.checkpoints] == [30, 60]
    assert all(0.0 <= c.true_accuracy <= 1.0 for c in result.checkpoints)
    assert result.checkpoints[-1].true_accuracy > 0.9  # halves this distinct: the CNN sees it
