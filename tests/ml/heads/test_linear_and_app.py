import io

import numpy as np
import pytest
import torch

from aldesk.ml.heads import app
from aldesk.ml.heads.base import fit_head
from aldesk.ml.loop import pool as engine


from aldesk.ml import features
from aldesk.ml.heads import linear as heads


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
    spread = features.propagate_labels(indices, sims, torch.tensor([0, 4]), torch.tensor([0, 1]), 2)
    assert spread[:4, 0].min() > 0.99 and spread[4:, 1].min() > 0.99


def test_calibration_needs_enough_labels():
    z, y = _blobs(n_per_class=5)
    head = heads.fit_linear(z, y, 3)
    same, accuracy = heads.calibrate(head, z, y)
    assert accuracy is None and same.temperature == 1.0
    z, y = _blobs(n_per_class=40, spread=2.0)
    head, accuracy = heads.calibrate(heads.fit_linear(z, y, 3), z, y)
    assert 0.5 < accuracy <= 1.0 and head.temperature != 1.0


def test_temperature_ignores_rows_whose_class_had_no_label_in_their_fold():
    logits = torch.tensor([[2.0, 0.0, float("-inf")], [0.0, 2.0, float("-inf")], [1.0, 0.0, float("-inf")]])
    t = heads.fit_temperature(logits, torch.tensor([0, 1, 2]))  # row 3: its class was never trained
    assert np.isfinite(t) and 0.05 <= t <= 20


def test_calibration_fields_round_trip_and_old_models_still_load():
    z, y = _blobs()
    head = heads.fit_linear(z, y, 3)
    head.temperature, head.calibrated_at, head.oof_accuracy = 1.7, 48, 0.81
    again = heads.LinearHead.from_bytes(head.to_bytes())
    assert (again.temperature, again.calibrated_at, again.oof_accuracy) == (1.7, 48, 0.81)
    buffer = io.BytesIO()  # a model stored before these fields existed
    np.savez(buffer, weight=head.weight.numpy(), bias=head.bias.numpy(), active=head.active.numpy(), temperature=np.array(1.0))
    old = heads.LinearHead.from_bytes(buffer.getvalue())
    assert old.calibrated_at == 0 and old.oof_accuracy is None


def _pool_and_labels(n_labels: int, seed: int = 0):
    z, y = _blobs(n_per_class=150, n_classes=3, dim=8, spread=2.2, seed=seed)
    pool = engine.PoolModel.build(z.numpy())
    labeled = np.random.default_rng(seed).choice(len(y), n_labels, replace=False)
    return pool, labeled, y.numpy()


def test_app_head_gets_a_temperature_from_its_own_out_of_fold_fits():
    pool, labeled, y = _pool_and_labels(60)
    model, metrics = fit_head("default", pool, labeled, y[labeled], 3)
    assert metrics["temperature"] != 1.0 and model.calibrated_at == 60
    assert 0.5 < metrics["cv_accuracy"] <= 1.0
    # The calibrated app head is closer to honest on unseen items than the raw one (T = 1).
    rest = torch.from_numpy(np.setdiff1d(np.arange(pool.size), labeled))
    logits, truth = model.logits(pool.z[rest]), torch.from_numpy(y)[rest]
    nll_calibrated = torch.nn.functional.cross_entropy(logits / model.temperature, truth)
    nll_raw = torch.nn.functional.cross_entropy(logits, truth)
    assert nll_calibrated < nll_raw


def test_app_head_recalibrates_only_when_the_labels_have_grown_enough():
    pool, labeled, y = _pool_and_labels(120)
    first, _ = fit_head("default", pool, labeled[:60], y[labeled[:60]], 3)
    kept, metrics = fit_head("default", pool, labeled[:70], y[labeled[:70]], 3, init=first)
    assert (kept.temperature, kept.calibrated_at) == (first.temperature, 60)
    assert metrics["cv_accuracy"] == first.oof_accuracy
    grown, _ = fit_head("default", pool, labeled[:80], y[labeled[:80]], 3, init=kept)
    assert grown.calibrated_at == 80


def test_capped_per_class_keeps_rare_classes_whole_and_shares_the_rest():
    y = np.array([0] * 500 + [1] * 40 + [2] * 300 + [3] * 5)
    picked = heads.capped_per_class(y, 200, seed=1)
    assert len(picked) == 200 and len(np.unique(picked)) == 200 and np.all(np.diff(picked) > 0)
    counts = np.bincount(y[picked], minlength=4)
    assert counts[3] == 5 and counts[1] == 40  # the rare classes keep every label
    assert counts[0] + counts[2] == 155 and abs(int(counts[0]) - int(counts[2])) <= 1
    assert heads.capped_per_class(y, 10_000).tolist() == list(range(len(y)))  # under the cap: all


def test_out_of_fold_heads_train_on_at_most_max_train_labels_but_score_every_label(monkeypatch):
    z, y = _blobs(n_per_class=100)
    sizes = []
    fit = heads.fit_linear
    monkeypatch.setattr(heads, "fit_linear", lambda zz, yy, *a, **k: sizes.append(len(yy)) or fit(zz, yy, *a, **k))
    logits = heads.out_of_fold_logits(z, y, 3, folds=3, max_train=60)
    assert sizes == [60, 60, 60]
    assert torch.isfinite(logits).all()
    assert (logits.argmax(1) == y).float().mean() > 0.95  # well-separated blobs: still right


def test_app_head_calibration_fits_its_folds_on_at_most_max_train_labels(monkeypatch):
    pool, labeled, y = _pool_and_labels(150)
    monkeypatch.setattr(heads, "OOF_MAX_TRAIN_PER_CLASS", 13)  # 3 classes: 39 labels per fold
    seeds, fit = [], app.fit_app_head
    monkeypatch.setattr(app, "fit_app_head", lambda p, lab, *a, **k: seeds.append(len(lab)) or fit(p, lab, *a, **k))
    model, metrics = fit_head("default", pool, labeled, y[labeled], 3)
    assert seeds == [150, 39, 39, 39]  # the model itself on every label, each fold on 39
    assert model.calibrated_at == 150 and 0.5 < metrics["cv_accuracy"] <= 1.0


def test_labeled_items_outside_the_graph_sample_join_it_up_to_a_fixed_cap(monkeypatch):
    z, y = _blobs(n_per_class=200, n_classes=3, dim=8, seed=3)
    pool = engine.PoolModel.build(z.numpy(), graph_max=100)
    monkeypatch.setattr(engine, "GRAPH_EXTRA_MAX", 50)
    outside = np.setdiff1d(np.arange(pool.size), pool.anchors)
    labeled = np.random.default_rng(0).choice(outside, 150, replace=False)
    nodes, spread = pool.propagate(labeled, y.numpy()[labeled], 3)
    extra = nodes[len(pool.anchors) :]
    assert len(extra) == 50 and np.isin(extra, labeled).all()
    # Seeds are only the labels in the graph, and they spread: every extra node has its own label.
    assert (spread[len(pool.anchors) :].argmax(1).numpy() == y.numpy()[extra]).all()
    # More labels later: the extra nodes chosen before stay chosen unless outranked by new ones.
    more = np.concatenate([labeled, np.setdiff1d(outside, labeled)[:30]])
    again = pool.propagate(more, y.numpy()[more], 3)[0][len(pool.anchors) :]
    assert len(again) == 50 and len(np.intersect1d(again, extra)) >= 50 - 30


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        ([], "nothing is labeled yet"),
        ([3], "the one label so far is of one class"),
        ([3, 3], "the 2 labels so far are all of one class"),
    ],
)
def test_training_on_one_class_says_plainly_what_is_missing(labels, words):
    from aldesk.ml.heads.base import NotEnoughLabels, require_two_classes

    with pytest.raises(NotEnoughLabels, match=words):
        require_two_classes(np.array(labels, dtype=np.int64))


def test_the_metrics_say_whether_the_probabilities_are_calibrated():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (60, 8)), rng.normal(4, 1, (60, 8))]).astype(np.float32)
    pool = engine.PoolModel.build(x)
    y = np.repeat([0, 1], 60)
    few = np.array([0, 1, 2, 60, 61, 62])
    _, metrics = fit_head("default", pool, few, y[few], 2)
    assert metrics["calibrated"] is False  # too few labels for out-of-fold fits
    many = np.arange(0, 120, 2)
    _, metrics = fit_head("default", pool, many, y[many], 2)
    assert metrics["calibrated"] is True and metrics["cv_accuracy"] is not None
