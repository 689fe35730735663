"""The weight-free head: a small CNN trained from scratch on 32x32 thumbnails (pixels backbone)."""

import numpy as np
import pytest
import torch

from aldesk.core.errors import AldeskError
from aldesk.ml.heads import cnn as scratch_cnn
from aldesk.ml.heads.base import NotEnoughLabels, fit_head, get_head, load_model
from aldesk.ml.heads.cnn import CnnHead, fit_cnn
from aldesk.ml.heads.linear import LinearHead, fit_linear
from aldesk.ml.loop.pool import PoolModel
from tests.conftest import refresh_round

SIDE = scratch_cnn.SIDE
STEPS = 40  # enough for the toy problem, and the whole file stays within a few seconds


def shapes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes by shape alone -- a horizontal bar, a vertical bar, a small square -- in a
    random colour at a random place on a dark noisy background: colour and position say nothing
    about the class, so a linear model on the pixels does poorly and a CNN should not."""
    rng = np.random.default_rng(seed)
    images = rng.normal(-0.4, 0.05, size=(n, 3, SIDE, SIDE)).astype(np.float32)
    labels = np.arange(n) % 3
    for i, cls in enumerate(labels):
        colour = rng.uniform(0.1, 0.5, size=3)
        height, width = [(3, 14), (14, 3), (6, 6)][cls]
        top, left = rng.integers(2, SIDE - 2 - height), rng.integers(2, SIDE - 2 - width)
        images[i, :, top : top + height, left : left + width] = colour[:, None, None]
    return images.reshape(n, -1).astype(np.float16), labels


@pytest.fixture(scope="module")
def toy():
    x, y = shapes(90, seed=1)
    x_test, y_test = shapes(150, seed=2)
    model, info = fit_cnn(x, y, 3, seed=0, steps=STEPS)
    return x, y, x_test, y_test, model, info


def accuracy(model, x, y) -> float:
    return float((model.logits(x).argmax(1).numpy() == y).mean())


def test_learns_shapes_far_better_than_chance_and_than_a_linear_head(toy):
    x, y, x_test, y_test, model, info = toy
    assert info == {"steps": STEPS, "cancelled": False, "warm_start": False}
    cnn = accuracy(model, x_test, y_test)
    linear = fit_linear(torch.from_numpy(x).float(), torch.from_numpy(y), 3, max_iter=30)
    linear_accuracy = float((linear.logits(torch.from_numpy(x_test).float()).argmax(1).numpy() == y_test).mean())
    assert cnn > 0.85  # chance is 1/3
    assert cnn > linear_accuracy + 0.15
    probs = model.predict_proba(x_test)
    assert probs.shape == (150, 3) and torch.allclose(probs.sum(1), torch.ones(150), atol=1e-5)
    features = model.features(x_test)
    assert features.shape == (150, scratch_cnn.WIDTHS[-1]) and torch.isfinite(features).all()


def test_warm_start_keeps_what_was_learned(toy):
    x, y, x_test, y_test, model, _ = toy
    warm, info = fit_cnn(x, y, 3, init=model, seed=1, steps=5)
    cold, _ = fit_cnn(x, y, 3, seed=1, steps=5)
    assert info["warm_start"]
    assert accuracy(warm, x_test, y_test) > 0.8
    assert accuracy(warm, x_test, y_test) > accuracy(cold, x_test, y_test) + 0.2
    # A warm start runs fewer steps than a cold one by default.
    assert scratch_cnn.training_steps(300, warm=True) < scratch_cnn.training_steps(300, warm=False)


def test_serialization_round_trip_and_bad_bytes(toy):
    _, _, x_test, _, model, _ = toy
    data = model.to_bytes()
    again = load_model("cnn", data)
    assert isinstance(again, CnnHead)
    assert torch.equal(again.logits(x_test), model.logits(x_test))
    assert torch.equal(again.active, model.active) and again.temperature == model.temperature
    linear = LinearHead(torch.zeros(4, 3), torch.zeros(3), torch.ones(3, dtype=torch.bool))
    assert isinstance(load_model("plain", linear.to_bytes()), LinearHead)
    for bad in (b"not a model", linear.to_bytes()):
        with pytest.raises(AldeskError, match="retrain"):
            CnnHead.from_bytes(bad)


def test_cancel_flag_stops_training_between_steps():
    x, y = shapes(30, seed=3)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    model, info = fit_cnn(x, y, 3, steps=50, cancel=cancel)
    assert info["steps"] == 3 and info["cancelled"]
    assert model.predict_proba(x).shape == (30, 3)  # what was trained so far is still a model


def test_deterministic_for_a_seed_and_leaves_the_global_rng_alone():
    x, y = shapes(30, seed=4)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, _ = fit_cnn(x, y, 3, seed=7, steps=8)
    after = torch.rand(1)
    b, _ = fit_cnn(x, y, 3, seed=7, steps=8)
    c, _ = fit_cnn(x, y, 3, seed=8, steps=8)
    assert torch.equal(before, after)
    assert torch.equal(a.logits(x), b.logits(x))
    assert not torch.equal(a.logits(x), c.logits(x))


def test_class_balance_and_classes_without_labels():
    x, y = shapes(30, seed=5)
    keep = (y != 2) & ((y == 0) | (np.arange(30) < 12))  # class 1 rare, class 2 absent
    weights, active = scratch_cnn.class_weights(torch.from_numpy(y[keep]), 3)
    counts = np.bincount(y[keep], minlength=3)
    assert active.tolist() == [True, True, False]
    assert np.isclose(weights[0] * counts[0], weights[1] * counts[1])  # equal total weight
    model, _ = fit_cnn(x[keep], y[keep], 3, steps=5)
    assert (model.predict_proba(x)[:, 2] == 0).all()


def test_engine_trains_and_scores_the_cnn_on_raw_pixels(monkeypatch):
    monkeypatch.setattr(scratch_cnn, "MIN_STEPS", 10)  # the engine's step count, cut for speed
    x, y = shapes(60, seed=6)
    pool = PoolModel.build(x)
    labeled = np.arange(12)
    model, metrics = fit_head("cnn", pool, labeled, y[labeled], 3)
    assert isinstance(model, CnnHead) and metrics["head"] == "cnn" and metrics["n_labels"] == 12
    result = refresh_round(
        pool, labeled, y[labeled], np.arange(60) >= 12, 3, n=5, head="cnn", init=model, rng=np.random.default_rng(0)
    )
    assert result.probs.shape == (60, 3) and len(result.selection.indices) == 5
    with pytest.raises(NotEnoughLabels):
        fit_head("cnn", pool, labeled[:1], y[:1], 3)
    with pytest.raises(AldeskError, match="cnn"):
        fit_head("resnet-head", pool, labeled, y[labeled], 3)
    wide = PoolModel.build(np.random.default_rng(0).normal(size=(20, 50)).astype(np.float32))
    assert wide.raw is None  # a pretrained backbone's vectors are not kept twice
    with pytest.raises(AldeskError, match="50-d vectors from another backbone"):
        fit_head("cnn", wide, np.arange(6), np.arange(6) % 2, 2)


def test_the_cnn_is_the_default_head_only_on_the_pixels_backbone():
    assert get_head("default", "pixels").name == "cnn"
    assert get_head("plain", "pixels").name == "plain"
    assert get_head("default", "efficientnet-lite0").name == "default"
    cnn = CnnHead(scratch_cnn.SmallCnn(3), torch.ones(3, dtype=torch.bool))
    linear = LinearHead(torch.zeros(4, 3), torch.zeros(3), torch.ones(3, dtype=torch.bool))
    assert get_head("cnn").warm_start(cnn) is cnn and get_head("cnn").warm_start(linear) is None
    assert get_head("plain").warm_start(linear) is linear and get_head("default").warm_start(cnn) is None
