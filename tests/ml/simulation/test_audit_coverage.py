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
