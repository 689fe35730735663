"""The named queries the layers above core use instead of SQL of their own."""

from __future__ import annotations

from aldesk.core import items
from aldesk.core.classes import add_classes
from aldesk.core.labels import record
from tests.conftest import add_bare_items


def test_counts_paths_and_labels(project):
    cat, dog = add_classes(project, ["cat", "dog"])
    ids = add_bare_items(project, 1_200)  # more than one chunk of ids
    record(project, ids[0], "label", cat.id)
    record(project, ids[1], "label", cat.id)
    record(project, ids[2], "label", dog.id)
    record(project, ids[3], "unsure")
    assert items.count_items(project) == 1_200
    assert items.item_path(project, ids[5]) == project.resolve("f5.png")
    assert items.item_path(project, 10**9) is None
    stored = items.stored_paths(project, ids + [10**9])
    assert len(stored) == 1_200 and stored[ids[7]] == ("f7.png", "h7")
    assert items.labeled_counts(project) == {cat.id: 2, dog.id: 1}
    assert items.labeled_as(project, cat.id) == [ids[0], ids[1]] and items.labeled_as(project, dog.id) == [ids[2]]
    assert items.label_of(project, ids[2]) == ("labeled", dog.id)
    assert items.label_of(project, ids[3]) == ("unsure", None)
    assert items.label_of(project, ids[4]) == ("unlabeled", None) and items.label_of(project, 10**9) is None


def test_the_queries_of_the_engine_and_the_command_line(project):
    cat, dog = add_classes(project, ["cat", "dog"])
    ids = add_bare_items(project, 1_200)
    record(project, ids[9], "label", dog.id)
    record(project, ids[3], "label", cat.id)
    record(project, ids[4], "skip")
    record(project, ids[5], "unsure")
    assert items.all_ids(project) == sorted(ids)
    paths = items.all_paths(project)
    assert len(paths) == 1_200 and paths[ids[7]] == "f7.png"
    assert items.count_labeled(project) == 2
    rows = items.labeled_rows(project)
    assert [(r[0], r[1]) for r in rows] == [(ids[3], cat.id), (ids[9], dog.id)] and all(r[2] > 0 for r in rows)
    assert sorted(items.set_aside_ids(project)) == [ids[4], ids[5]]
    dense = items.paths_of(project, ids[10:20])
    sparse = items.paths_of(project, [ids[0], ids[600], ids[1_199], 10**9])  # far apart: looked up in groups
    assert dense == {i: paths[i] for i in ids[10:20]}
    assert sparse == {i: paths[i] for i in (ids[0], ids[600], ids[1_199])}
    assert items.paths_of(project, []) == {}
