"""Stored suspects rankings: round trip, only still-open items, pruning, old projects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aldesk.core import labels, suspects_store
from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError
from aldesk.core.store import open_project
from aldesk.core.suspects_store import Suspect, latest_run, load_suspects, save_suspects

FIXTURE = Path(__file__).parent / "fixtures" / "schema-v1.aldesk"


@pytest.fixture
def labeled(project):
    """Four items: 1-3 labeled cat (class 1), 4 labeled dog (class 2)."""
    add_classes(project, ["cat", "dog"])
    with project.transaction() as conn:
        for i in range(1, 5):
            conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)", (f"{i}.png", f"h{i}")
            )
    labels.record_many(project, [(1, 1), (2, 1), (3, 1), (4, 2)], source="human")
    return project


def ranking() -> list[Suspect]:
    return [Suspect(3, 1, 1, 2, 0.9, 0.05), Suspect(4, 2, 2, 1, 0.4, 0.3), Suspect(1, 3, 1, 2, -0.5, 0.7)]


def test_round_trip_keeps_order_and_fields(labeled):
    run_id = save_suspects(labeled, ranking(), model_version=None, n_labels=4, method="margin, 5 folds")
    run = latest_run(labeled)
    assert (run.id, run.model_version, run.n_labels, run.method) == (run_id, None, 4, "margin, 5 folds")
    assert load_suspects(labeled) == ranking()
    assert load_suspects(labeled, limit=2) == ranking()[:2]


def test_items_labeled_again_since_the_ranking_drop_out(labeled):
    save_suspects(labeled, ranking(), model_version=None, n_labels=4, method="margin")
    event = labels.record(labeled, 3, "label", 2)  # the person corrects the top suspect
    assert [s.item_id for s in load_suspects(labeled)] == [4, 1]
    assert [s.item_id for s in load_suspects(labeled, still_open=False)] == [3, 4, 1]
    labels.undo(labeled, event)  # undone: the suspect is back
    assert [s.item_id for s in load_suspects(labeled)] == [3, 4, 1]
    labels.record(labeled, 4, "unsure")
    assert [s.item_id for s in load_suspects(labeled)] == [3, 1]
    labels.record(labeled, 1, "label", 1)  # the same label again: a person confirmed it
    assert [s.item_id for s in load_suspects(labeled)] == [3]


def test_only_the_last_runs_are_kept_and_the_newest_is_read(labeled):
    for n in range(suspects_store.KEEP_RUNS + 2):
        save_suspects(labeled, ranking()[: n % 3 + 1], model_version=None, n_labels=n, method="margin")
    runs = labeled.conn.execute("SELECT count(*) FROM suspect_runs").fetchone()[0]
    rows = labeled.conn.execute("SELECT count(DISTINCT run_id) FROM suspects").fetchone()[0]
    assert runs == rows == suspects_store.KEEP_RUNS
    assert latest_run(labeled).n_labels == suspects_store.KEEP_RUNS + 1
    assert len(load_suspects(labeled)) == (suspects_store.KEEP_RUNS + 1) % 3 + 1


def test_a_run_is_tied_to_a_model_version(labeled):
    labeled.conn.execute("INSERT INTO embedding_sets(id, backbone, identity, dim, created_at) VALUES (1, 'b', 'i', 2, 0)")
    labeled.conn.execute(
        "INSERT INTO models(version, created_at, set_id, head, n_labels, class_ids, params, metrics)"
        " VALUES (7, 0, 1, 'plain', 4, '[1, 2]', x'', '{}')"
    )
    save_suspects(labeled, ranking(), model_version=7, n_labels=4, method="margin")
    assert latest_run(labeled).model_version == 7


def test_bad_rankings_and_limits_are_refused(labeled):
    with pytest.raises(AldeskError, match="distinct ranks"):
        save_suspects(labeled, ranking()[::-1], model_version=None, n_labels=4, method="margin")
    with pytest.raises(AldeskError, match="limit"):
        load_suspects(labeled, limit=-1)


def test_a_project_without_rankings_or_older_than_them_has_none(labeled, tmp_path):
    assert latest_run(labeled) is None and load_suspects(labeled) == []
    old = tmp_path / "old.aldesk"
    shutil.copy(FIXTURE, old)
    with open_project(old, write=False) as project:
        assert latest_run(project) is None and load_suspects(project) == []
