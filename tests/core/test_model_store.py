"""Model versions and their predictions in chunk rows: written before the model's row, read back whole."""

from __future__ import annotations

import json
import sqlite3
import threading

import numpy as np
import pytest

from aldesk.core import model_store, schema
from aldesk.core.errors import AldeskError
from aldesk.core.classes import add_classes
from aldesk.core.labels import record
from aldesk.core.store import open_project, second_connection
from tests.conftest import add_bare_items

MODEL = dict(set_id=1, head="default", n_labels=3, class_ids=[1, 2, 3], params=b"p", metrics={"a": 1})


@pytest.fixture
def with_set(project):
    with project.transaction() as conn:
        conn.execute("INSERT INTO embedding_sets(id, backbone, identity, dim, created_at) VALUES (1, 'b', 'b-1', 2, 0)")
    return project


def _probs(n: int, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, 3)).astype(np.float32)
    return p / p.sum(1, keepdims=True)


def test_predictions_in_several_chunks_load_back_whole(with_set):
    ids, probs = np.arange(100, 110), _probs(10)
    version = model_store.reserve_version(with_set)
    model_store.write_predictions(with_set, version, ids, probs, 3, rows=4)
    assert with_set.conn.execute("SELECT count(*) FROM prediction_chunks").fetchone()[0] == 3
    assert model_store.load_predictions(with_set, version) is None  # no model row yet: not a model
    assert model_store.commit_model(with_set, version, **MODEL) == version
    got_ids, got = model_store.load_predictions(with_set, version)
    assert got_ids.tolist() == ids.tolist()
    assert np.allclose(got, probs, atol=1e-3) and got.dtype == np.float32
    assert model_store.latest_model(with_set).version == version


def test_chunks_of_a_write_that_never_got_its_model_row_are_removed(with_set):
    first = model_store.save_model(with_set, item_ids=np.arange(5), probs=_probs(5), **MODEL)
    orphan = model_store.reserve_version(with_set)
    model_store.write_predictions(with_set, orphan, np.arange(5), _probs(5), 3, rows=2)  # then the app was killed
    assert model_store.load_predictions(with_set, orphan) is None  # no model row: not a model
    # Reserving only reads (the GUI thread does it): the next version is past the orphan's.
    version = model_store.reserve_version(with_set)
    assert version == orphan + 1 and _chunk_versions(with_set) == {first, orphan}
    model_store.write_predictions(with_set, version, np.arange(3), _probs(3), 3)  # the writing thread
    assert _chunk_versions(with_set) == {first, version}
    model_store.commit_model(with_set, version, **MODEL)
    assert model_store.load_predictions(with_set, version)[0].tolist() == [0, 1, 2]


def _chunk_versions(project) -> set[int]:
    return {v for (v,) in project.conn.execute("SELECT model_version FROM prediction_chunks")}


def test_a_model_row_needs_its_chunks_first(with_set):
    with pytest.raises(AldeskError, match="not stored"):
        model_store.commit_model(with_set, model_store.reserve_version(with_set), **MODEL)
    assert model_store.latest_model(with_set) is None


def test_a_model_with_a_missing_chunk_has_no_predictions(with_set):
    version = model_store.save_model(with_set, item_ids=np.arange(10), probs=_probs(10), **MODEL)
    loaded = model_store.load_predictions(with_set, version)
    assert loaded is not None and loaded[0].tolist() == list(range(10)) and np.allclose(loaded[1], _probs(10), atol=1e-3)
    rows = model_store.PREDICTION_CHUNK_ROWS
    with_set.conn.execute("UPDATE prediction_chunks SET first_row = first_row + ?", (rows,))  # chunk 0 gone
    assert model_store.load_predictions(with_set, version) is None


def test_a_gap_between_chunks_means_no_predictions(with_set):
    version = model_store.reserve_version(with_set)
    model_store.write_predictions(with_set, version, np.arange(10), _probs(10), 3, rows=4)
    model_store.commit_model(with_set, version, **MODEL)
    with_set.conn.execute("DELETE FROM prediction_chunks WHERE first_row = 4")
    assert model_store.load_predictions(with_set, version) is None


def test_a_pruning_cut_short_leaves_a_model_without_predictions_not_a_partial_one(with_set, monkeypatch):
    old = model_store.reserve_version(with_set)
    model_store.write_predictions(with_set, old, np.arange(10), _probs(10), 3, rows=4)
    model_store.commit_model(with_set, old, **MODEL)
    newer = [
        model_store.save_model(with_set, item_ids=np.arange(2), probs=_probs(2), **MODEL)
        for _ in range(model_store.KEEP_PREDICTIONS - 1)
    ]
    transaction, calls = with_set.transaction, []

    def killed_after_one():  # the app is killed after the first chunk's transaction
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return transaction()

    monkeypatch.setattr(with_set, "transaction", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        model_store.prune_predictions(with_set)
    monkeypatch.undo()
    assert (
        with_set.conn.execute("SELECT count(*) FROM prediction_chunks WHERE model_version = ?", (old,)).fetchone()[0] == 2
    )  # two of its three chunks are left
    assert model_store.load_predictions(with_set, old) is None
    assert all(model_store.load_predictions(with_set, v) is not None for v in newer)


def test_only_the_newest_models_keep_their_predictions(with_set):
    versions = [model_store.save_model(with_set, item_ids=np.arange(3), probs=_probs(3, k), **MODEL) for k in range(5)]
    kept = [v for v in versions if model_store.load_predictions(with_set, v) is not None]
    assert kept == versions[-model_store.KEEP_PREDICTIONS :]
    assert len(model_store.model_history(with_set)) == 5  # the learning curve keeps every model


def test_an_empty_pool_stores_an_empty_prediction(with_set):
    version = model_store.save_model(with_set, item_ids=np.zeros(0), probs=np.zeros((0, 3)), **MODEL)
    ids, probs = model_store.load_predictions(with_set, version)
    assert ids.shape == (0,) and probs.shape == (0, 3)


def test_a_step_5_file_keeps_its_models_predictions_through_the_upgrade(tmp_path):
    path = tmp_path / "old.aldesk"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn, target=5)
    probs = _probs(4).astype(np.float16)
    conn.execute("INSERT INTO embedding_sets(id, backbone, identity, dim, created_at) VALUES (1, 'b', 'b-1', 2, 0)")
    conn.execute(
        "INSERT INTO models(version, created_at, set_id, head, n_labels, class_ids, params, metrics)"
        " VALUES (7, 0, 1, 'default', 3, ?, x'00', '{}')",
        (json.dumps([1, 2, 3]),),
    )
    conn.execute(
        "INSERT INTO predictions(model_version, item_ids, probs) VALUES (7, ?, ?)",
        (np.arange(4, dtype=np.int64).tobytes(), probs.tobytes()),
    )
    conn.close()
    with open_project(path, write=False) as old:  # read-only: the old table is still read
        assert old.schema_version == 5 and model_store.load_predictions(old, 7)[0].tolist() == [0, 1, 2, 3]
    with open_project(path) as project:
        assert project.schema_version == schema.SCHEMA_VERSION >= 6
        ids, got = model_store.load_predictions(project, 7)
        assert ids.tolist() == [0, 1, 2, 3] and np.array_equal(got, probs.astype(np.float32))
        assert not project.has_table("predictions")


def test_labels_commit_while_a_second_connection_writes_predictions(with_set):
    items = add_bare_items(with_set, 40)
    (label_class,) = add_classes(with_set, ["a"])
    writer = second_connection(with_set)
    version = model_store.reserve_version(with_set)
    errors = []

    def write() -> None:
        try:
            model_store.write_predictions(writer, version, np.arange(20_000), _probs(20_000), 3, rows=500)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    for item in items:  # each a committed transaction on the project's own connection
        record(with_set, item, "label", label_class.id)
    thread.join()
    writer.close()
    assert errors == []
    assert with_set.conn.execute("SELECT count(*) FROM items WHERE status = 'labeled'").fetchone()[0] == 40
    model_store.commit_model(with_set, version, **MODEL)
    assert len(model_store.load_predictions(with_set, version)[0]) == 20_000


def test_a_write_that_fills_the_disk_says_so_keeps_labels_and_its_chunks_go_next_time(with_set):
    items = add_bare_items(with_set, 3)
    (label_class,) = add_classes(with_set, ["a"])
    writer = second_connection(with_set)
    pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
    writer.conn.execute(f"PRAGMA max_page_count = {pages + 40}")  # a real SQLITE_FULL a few chunks in
    version = model_store.reserve_version(with_set)
    with pytest.raises(AldeskError, match="is full"):
        model_store.write_predictions(writer, version, np.arange(20_000), _probs(20_000), 3, rows=2_000)
    writer.close()
    assert _chunk_versions(with_set) == {version}  # the chunks written before the disk filled
    record(with_set, items[0], "label", label_class.id)  # the project's own connection still writes
    retry = model_store.save_model(with_set, item_ids=np.arange(7), probs=_probs(7), **MODEL)
    assert retry == version + 1 and _chunk_versions(with_set) == {retry}
    assert with_set.conn.execute("SELECT count(*) FROM items WHERE status = 'labeled'").fetchone()[0] == 1
