import numpy as np
import pytest
import torch

from aldesk.ml import heads


def _blobs(n_per_class=60, n_classes=3, dim=8, seed=0, spread=0.6):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(n_classes, dim))
    x = np.concatenate([c + rng.normal(0, spread, size=(n_per_class, dim)) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    return torch.from_numpy(x).float(), torch.from_numpy(y)


def test_linear_head_learns_separable_classes_and_round_trips():
    z, y = _blobs()
    head = heads.fit_linear(z, y, 3)
    assert (head.logits(z).argmax(1) == y).float().mean() > 0.97
    probs = head.predict_proba(z)
    assert torch.allclose(probs.sum(1), torch.ones(len(y)), atol=1e-5)
    again = heads.LinearHead.from_bytes(head.to_bytes())
    assert torch.equal(again.weight, head.weight) and again.temperature == head.temperature


def test_classes_without_labels_get_zero_probability():
    z, y = _blobs(n_classes=3)
    keep = y < 2
    head = heads.fit_linear(z[keep], y[keep], 4)  # 4 project classes, only 0 and 1 labeled
    probs = head.predict_proba(z)
    assert head.active.tolist() == [True, True, False, False]
    assert float(probs[:, 2:].max()) == 0.0


def test_class_balance_protects_a_rare_class():
    z, y = _blobs(n_per_class=200, n_classes=2, spread=2.5, seed=3)
    rare = torch.cat([torch.nonzero(y == 0).flatten(), torch.nonzero(y == 1).flatten()[:10]])
    head = heads.fit_linear(z[rare], y[rare], 2)
    recall_rare = (head.logits(z[y == 1]).argmax(1) == 1).float().mean()
    assert recall_rare > 0.6


def test_warm_start_converges_to_the_same_model():
    z, y = _blobs()
    cold = heads.fit_linear(z, y, 3, max_iter=300)
    warm = heads.fit_linear(z, y, 3, init=cold, max_iter=5)
    assert torch.allclose(cold.predict_proba(z), warm.predict_proba(z), atol=1e-3)


def test_temperature_shrinks_overconfident_logits():
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.integers(0, 2, 400))
    correct = torch.from_numpy(rng.random(400) < 0.7)
    predicted = torch.where(correct, y, 1 - y)
    logits = torch.nn.functional.one_hot(predicted, 2).float() * 20  # 70% right, always sure
    t = heads.fit_temperature(logits, y)
    p = torch.softmax(logits / t, 1).max(1).values.mean()
    assert t > 5 and abs(float(p) - 0.7) < 0.05


def test_label_propagation_follows_the_graph():
    # two chains 0-1-2-3 and 4-5-6-7, one seed each
    indices = torch.tensor([[1], [2], [3], [2], [5], [6], [7], [6]])
    sims = torch.ones(8, 1)
    spread = heads.propagate_labels(indices, sims, torch.tensor([0, 4]), torch.tensor([0, 1]), 2)
    assert spread[:4, 0].min() > 0.99 and spread[4:, 1].min() > 0.99


def test_calibration_needs_enough_labels():
    z, y = _blobs(n_per_class=5)
    head = heads.fit_linear(z, y, 3)
    same, accuracy = heads.calibrate(head, z, y)
    assert accuracy is None and same.temperature == 1.0
    z, y = _blobs(n_per_class=40, spread=2.0)
    head, accuracy = heads.calibrate(heads.fit_linear(z, y, 3), z, y)
    assert 0.5 < accuracy <= 1.0 and head.temperature != 1.0
