"""The worker's pool built chunk by chunk from the file equals the one built from all vectors."""

import numpy as np
import pytest
import torch

from aldesk.core import tuned_encoders, vectors
from aldesk.core.classes import add_classes
from aldesk.core.labels import record
from aldesk.ml import features
from aldesk.ml.loop import pool_cache
from aldesk.ml.loop import pool as pool_mod
from aldesk.ml.loop import snapshot as snapshot_mod
from aldesk.ml.loop.pool import PoolModel


@pytest.fixture
def pool_project(project):
    add_classes(project, ["a", "b"])
    n, dim = 700, 40
    with project.transaction() as conn:
        conn.executemany(
            "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)",
            [(f"f{i}.png", f"h{i}") for i in range(n)],
        )
    ids = np.array([row[0] for row in project.conn.execute("SELECT id FROM items ORDER BY id")])
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, dim)).astype(np.float16)
    eset = vectors.get_or_create_set(project, "synthetic", "synthetic-1", dim)
    order = rng.permutation(n)  # chunks not in id order
    for start in range(0, n, 64):
        part = order[start : start + 64]
        vectors.add_chunk(project, eset.id, ids[part], x[part])
    record(project, int(ids[0]), "label", 1)
    record(project, int(ids[1]), "label", 2)
    return project


def test_streamed_pool_equals_the_in_memory_one(pool_project, monkeypatch, tmp_path):
    monkeypatch.setattr(pool_cache, "default_folder", lambda: tmp_path / "pools")
    monkeypatch.setattr(features, "FIT_SAMPLE", 300)  # so that the whitening samples rows
    monkeypatch.setattr(pool_mod, "STREAM_POOL_FROM", 0)
    monkeypatch.setattr(pool_mod, "PROJECT_ROWS", 100)  # several projected batches and a remainder
    full = snapshot_mod.take_snapshot(pool_project)
    light = snapshot_mod.take_snapshot(pool_project, load_vectors=False)
    assert light.vectors is None and np.array_equal(light.item_ids, full.item_ids)
    assert snapshot_mod.pool_key(light) == snapshot_mod.pool_key(full)
    assert np.array_equal(light.labeled, full.labeled) and np.array_equal(light.eligible, full.eligible)

    expected = PoolModel.build(full.vectors)
    streamed = pool_mod.build_pool(pool_project, light)

    assert streamed.raw is None
    assert np.array_equal(streamed.anchors, expected.anchors)
    assert np.allclose(streamed.whitening.components, expected.whitening.components, atol=1e-6)
    assert torch.allclose(streamed.z, expected.z, atol=1e-4)

    # The second build reads the features kept on disk: the same numbers exactly.
    again = pool_mod.build_pool(pool_project, light)
    assert torch.equal(again.z, streamed.z) and np.array_equal(again.anchors, streamed.anchors)
    assert len(list((tmp_path / "pools").iterdir())) == 1


def test_new_embeddings_make_a_new_cached_pool(pool_project, monkeypatch, tmp_path):
    monkeypatch.setattr(pool_cache, "default_folder", lambda: tmp_path / "pools")
    monkeypatch.setattr(features, "FIT_SAMPLE", 300)
    monkeypatch.setattr(pool_mod, "STREAM_POOL_FROM", 0)
    first = pool_mod.build_pool(pool_project, snapshot_mod.take_snapshot(pool_project, load_vectors=False))
    eset = tuned_encoders.active_set(pool_project)
    item = int(snapshot_mod.take_snapshot(pool_project, load_vectors=False).item_ids[0])
    vectors.add_chunk(pool_project, eset.id, np.array([item]), np.full((1, eset.dim), 3.0))  # re-embedded
    second = pool_mod.build_pool(pool_project, snapshot_mod.take_snapshot(pool_project, load_vectors=False))
    assert not torch.equal(first.z, second.z)
    assert len(list((tmp_path / "pools").iterdir())) == 2


def test_snapshot_labels_and_eligibility(pool_project):
    snapshot = snapshot_mod.take_snapshot(pool_project, load_vectors=False)
    assert snapshot.y.tolist() == [0, 1]
    assert snapshot.item_ids[snapshot.labeled].tolist() == [1, 2]
    assert snapshot.eligible.sum() == len(snapshot.item_ids) - 2
    assert not snapshot.eligible[snapshot.labeled].any()


def test_cached_nearest_anchors_give_the_same_propagation():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 16)).astype(np.float16)
    kept = PoolModel.build(x, graph_max=60)
    outside = np.setdiff1d(np.arange(400), kept.anchors)
    first = np.concatenate([kept.anchors[:5], outside[:30]])
    second = np.concatenate([first, outside[30:80]])  # more labels: some cached, some new
    for labeled in (first, second, first):
        y = rng.integers(0, 3, len(labeled))
        fresh = PoolModel.build(x, graph_max=60)
        nodes, spread = kept.propagate(labeled, y, 3)
        fresh_nodes, fresh_spread = fresh.propagate(labeled, y, 3)
        assert np.array_equal(nodes, fresh_nodes)
        assert torch.allclose(spread, fresh_spread, atol=1e-6)
