import numpy as np
import pytest
import torch

from aldesk.core.errors import AldeskError
from aldesk.ml import strategies as st


def _state(n=400, k=3, probs=True, seed=0, label_counts=None):
    rng = np.random.default_rng(seed)
    z = torch.from_numpy(rng.normal(size=(n, 4))).float()
    p = rng.dirichlet(np.ones(k), size=n) if probs else None
    counts = np.array(label_counts if label_counts is not None else [5] * k)
    return st.PoolState(z=z, eligible=np.ones(n, bool), probs=p, label_counts=counts, rng=rng)


def test_margin_is_best_minus_second_best():
    p = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [0.9, 0.05, 0.05]])
    assert np.allclose(st.margins(p), [0.2, 0.0, 0.85])


@pytest.mark.parametrize("name", ["margin", "least-confidence", "entropy"])
def test_uncertainty_strategies_pick_the_most_uncertain_eligible(name):
    state = _state()
    state.eligible[:50] = False
    sel = st.get_strategy(name).select(state, 10)
    assert len(sel.indices) == 10 and len(set(sel.indices)) == 10
    assert state.eligible[sel.indices].all()
    m = st.margins(state.probs)
    if name == "margin":
        others = np.setdiff1d(np.flatnonzero(state.eligible), sel.indices)
        assert m[sel.indices].max() <= m[others].min()
        assert np.all(np.diff(sel.scores) >= 0)  # most uncertain first


def test_margin_diverse_batch_avoids_near_duplicates():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(40, 4))
    z = np.repeat(base, 10, axis=0) + rng.normal(scale=1e-3, size=(400, 4))  # 40 groups of 10 twins
    probs = np.tile([[0.5, 0.5, 0.0]], (400, 1)) + rng.normal(scale=1e-3, size=(400, 3))
    probs = np.clip(probs, 0, None)
    probs /= probs.sum(1, keepdims=True)
    state = st.PoolState(torch.from_numpy(z).float(), np.ones(400, bool), probs, np.array([5, 5, 5]), rng)
    plain = st.get_strategy("margin").select(state, 10).indices
    diverse = st.get_strategy("margin-diverse").select(state, 10).indices
    groups = lambda idx: len(set(np.asarray(idx) // 10))
    assert groups(diverse) == 10
    assert groups(diverse) >= groups(plain)


def test_typical_cold_start_covers_clusters():
    rng = np.random.default_rng(2)
    centres = rng.normal(scale=20, size=(5, 4))
    z = np.concatenate([c + rng.normal(size=(80, 4)) for c in centres])
    state = st.PoolState(torch.from_numpy(z).float(), np.ones(400, bool), None, np.zeros(5, int), rng)
    sel = st.get_strategy("typical").select(state, 5)
    assert sorted(set(sel.indices // 80)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("pool_per_blob", [80, 2_000])  # whole pool, and a sample (CLUSTER_SAMPLE patched)
def test_typical_with_many_labels_asks_where_labels_are_scarce(monkeypatch, pool_per_blob):
    # Labels + n beyond the cluster bound (as with 118k imported labels): k stays bounded and the
    # picks come from the blobs the labels cover least.
    monkeypatch.setattr(st, "COLD_START_MAX_CLUSTERS", 20)
    monkeypatch.setattr(st, "CLUSTER_SAMPLE", 1_000)
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=20, size=(5, 4))
    z = np.concatenate([c + rng.normal(size=(pool_per_blob, 4)) for c in centres])
    eligible = np.ones(len(z), bool)
    eligible[: 3 * pool_per_blob] = rng.random(3 * pool_per_blob) > 0.5  # blobs 0-2 half labeled
    state = st.PoolState(torch.from_numpy(z).float(), eligible, None, np.zeros(5, int), rng)
    calls = []
    real_kmeans = st.kmeans
    monkeypatch.setattr(st, "kmeans", lambda z, k, rng, **kw: calls.append(k) or real_kmeans(z, k, rng, **kw))
    sel = st.get_strategy("typical").select(state, 6)
    assert calls == [20]
    assert len(set(sel.indices)) == 6 and eligible[sel.indices].all()
    assert sorted(set(sel.indices // pool_per_blob)) == [3, 4]


def test_default_uses_cold_start_until_every_class_has_three_labels():
    cold = st.get_strategy("default").select(_state(label_counts=[3, 3, 2]), 5)
    warm = st.get_strategy("default").select(_state(label_counts=[3, 3, 3]), 5)
    assert cold.strategy == "typical" and warm.strategy == "margin-diverse"
    assert st.get_strategy("default").select(_state(probs=False), 5).strategy == "typical"


def test_model_strategies_without_a_model_say_so():
    with pytest.raises(AldeskError, match="needs a trained model"):
        st.get_strategy("margin").select(_state(probs=False), 5)
    with pytest.raises(AldeskError, match="choose one of"):
        st.get_strategy("nope")


def test_random_never_repeats_and_respects_eligibility():
    state = _state(n=30)
    state.eligible[10:] = False
    sel = st.get_strategy("random").select(state, 20)
    assert sorted(sel.indices) == list(range(10))
