"""The pool features cache: round trip, damaged entries, and only the newest pools kept."""

import os

import numpy as np
import torch

from aldesk.ml.loop import pool_cache
from aldesk.ml.features import Whitening


def _pool(seed):
    rng = np.random.default_rng(seed)
    whitening = Whitening(rng.normal(size=6).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32), 1.5)
    return whitening, torch.from_numpy(rng.normal(size=(20, 3)).astype(np.float32)), np.arange(0, 20, 2)


def test_round_trip(tmp_path):
    whitening, z, anchors = _pool(0)
    assert pool_cache.load("k1", tmp_path) is None
    assert pool_cache.save("k1", whitening, z, anchors, tmp_path)
    got_whitening, got_z, got_anchors = pool_cache.load("k1", tmp_path)
    assert torch.equal(got_z, z) and np.array_equal(got_anchors, anchors)
    assert np.array_equal(got_whitening.components, whitening.components) and got_whitening.scale == 1.5


def test_damaged_entry_is_a_miss(tmp_path):
    pool_cache.save("k1", *_pool(0), folder=tmp_path)
    (tmp_path / "k1" / "z.npy").write_bytes(b"garbage")
    assert pool_cache.load("k1", tmp_path) is None


def test_only_the_newest_pools_stay(tmp_path):
    for age, key in enumerate(["a", "b", "c"]):
        pool_cache.save(key, *_pool(age), folder=tmp_path)
        os.utime(tmp_path / key, (1000 + age, 1000 + age))
    pool_cache.save("d", *_pool(9), folder=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["c", "d"][-pool_cache.KEEP :])


def test_key_changes_with_what_the_pool_depends_on(tmp_path):
    ids = np.arange(5)
    base = pool_cache.pool_cache_key(tmp_path / "p.aldesk", "1", "b-1", 7, ids, (0,))
    assert base == pool_cache.pool_cache_key(tmp_path / "p.aldesk", "1", "b-1", 7, ids, (0,))
    others = [
        pool_cache.pool_cache_key(tmp_path / "q.aldesk", "1", "b-1", 7, ids, (0,)),
        pool_cache.pool_cache_key(tmp_path / "p.aldesk", "2", "b-1", 7, ids, (0,)),
        pool_cache.pool_cache_key(tmp_path / "p.aldesk", "1", "b-2", 7, ids, (0,)),
        pool_cache.pool_cache_key(tmp_path / "p.aldesk", "1", "b-1", 8, ids, (0,)),
        pool_cache.pool_cache_key(tmp_path / "p.aldesk", "1", "b-1", 7, ids[:4], (0,)),
        pool_cache.pool_cache_key(tmp_path / "p.aldesk", "1", "b-1", 7, ids, (1,)),
    ]
    assert base not in others and len(set(others)) == len(others)
