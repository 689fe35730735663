"""Embedding storage: chunk-wise loading into one array, duplicates and deleted items."""

import numpy as np

from aldesk.core import vectors
from tests.conftest import add_bare_items


def test_load_keeps_the_latest_vector_and_drops_deleted_items(project):
    ids = add_bare_items(project, 6)
    eset = vectors.get_or_create_set(project, "b", "b-1", 3)
    first = np.arange(18, dtype=np.float16).reshape(6, 3)
    # Stored out of id order, in two chunks; item ids[2] embedded again later with new values.
    vectors.add_chunk(project, eset.id, np.array(ids[3:][::-1]), first[3:][::-1])
    vectors.add_chunk(project, eset.id, np.array(ids[:3]), first[:3])
    vectors.add_chunk(project, eset.id, np.array([ids[2]]), np.full((1, 3), -1, dtype=np.float16))
    with project.transaction() as conn:
        conn.execute("DELETE FROM items WHERE id = ?", (ids[4],))

    got_ids, got = vectors.load_embeddings(project, eset)

    expected_ids = [i for i in ids if i != ids[4]]
    assert got_ids.tolist() == expected_ids
    expected = {i: first[k] for k, i in enumerate(ids)}
    expected[ids[2]] = np.full(3, -1, dtype=np.float16)
    assert np.array_equal(got, np.stack([expected[i] for i in expected_ids]))
    assert got.dtype == np.float16 and got.flags.writeable


def test_iter_vectors_ignores_chunks_added_after_the_layout(project):
    ids = add_bare_items(project, 4)
    eset = vectors.get_or_create_set(project, "b", "b-1", 2)
    vectors.add_chunk(project, eset.id, np.array(ids[:2]), np.ones((2, 2)))
    layout = vectors.embedding_layout(project, eset)
    vectors.add_chunk(project, eset.id, np.array(ids[2:]), np.zeros((2, 2)))
    rows = [r for r, _ in vectors.iter_vectors(project, eset, layout)]
    assert layout.ids.tolist() == ids[:2] and np.concatenate(rows).tolist() == [0, 1]


def test_empty_set_loads_as_empty_arrays(project):
    eset = vectors.get_or_create_set(project, "b", "b-1", 4)
    ids, vecs = vectors.load_embeddings(project, eset)
    assert ids.shape == (0,) and vecs.shape == (0, 4)


def test_unembedded_lists_the_items_without_a_vector(project, monkeypatch):
    ids = add_bare_items(project, 5)
    assert [i for i, _ in vectors.unembedded(project, None)] == ids
    eset = vectors.get_or_create_set(project, "b", "b-1", 2)
    vectors.add_chunk(project, eset.id, np.array([ids[1], ids[3]]), np.ones((2, 2)))
    expected = [(i, f"f{k}.png") for k, i in enumerate(ids) if k not in (1, 3)]
    assert vectors.unembedded(project, eset.id) == expected
    monkeypatch.setattr(vectors, "_PATHS_BY_ID", 1)  # the one-scan path gives the same answer
    assert vectors.unembedded(project, eset.id) == expected


def test_all_item_ids_with_and_without_gaps(project):
    assert vectors.all_item_ids(project).tolist() == []
    ids = add_bare_items(project, 6)
    assert vectors.all_item_ids(project).tolist() == ids  # one unbroken range
    with project.transaction() as conn:
        conn.execute("DELETE FROM items WHERE id IN (?, ?)", (ids[0], ids[3]))
    assert vectors.all_item_ids(project).tolist() == [ids[1], ids[2], ids[4], ids[5]]
