import pytest

from aldesk.core import labels
from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError


@pytest.fixture
def item(project):
    add_classes(project, ["cat", "dog"])
    with project.transaction() as conn:
        conn.execute("INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES ('a.png', 'h', 1, 1, 1, 0)")
    return 1


def _state(project, item_id):
    return project.conn.execute("SELECT status, label_class_id FROM items WHERE id = ?", (item_id,)).fetchone()


def test_label_skip_unsure_update_the_item_and_keep_history(project, item):
    ctx = labels.QueryContext(model_version=3, strategy="margin", score=0.12, rank=4)
    first = labels.record(project, item, "label", 1, shown_ms=850, context=ctx)
    assert _state(project, item) == ("labeled", 1)
    labels.record(project, item, "skip")
    assert _state(project, item) == ("skipped", None)
    labels.record(project, item, "unsure")
    assert _state(project, item) == ("unsure", None)
    events = labels.history(project, item)
    assert [e.kind for e in events] == ["label", "skip", "unsure"]
    assert (
        events[0].id,
        events[0].shown_ms,
        events[0].model_version,
        events[0].strategy,
        events[0].score,
        events[0].rank,
        events[0].source,
    ) == (first, 850, 3, "margin", 0.12, 4, "human")


def test_undo_restores_previous_state_and_appends(project, item):
    a = labels.record(project, item, "label", 1)
    b = labels.record(project, item, "label", 2)
    labels.undo(project, b)
    assert _state(project, item) == ("labeled", 1)
    labels.undo(project, a)
    assert _state(project, item) == ("unlabeled", None)
    assert [e.kind for e in labels.history(project, item)] == ["label", "label", "undo", "undo"]
    with pytest.raises(AldeskError, match="already undone"):
        labels.undo(project, a)


def test_undoing_an_older_event_keeps_the_latest_label(project, item):
    a = labels.record(project, item, "label", 1)
    labels.record(project, item, "label", 2)
    labels.undo(project, a)
    assert _state(project, item) == ("labeled", 2)


def test_bad_events_are_refused(project, item):
    with pytest.raises(AldeskError, match="Unknown label kind"):
        labels.record(project, item, "delete")
    with pytest.raises(AldeskError, match="needs a class"):
        labels.record(project, item, "label")
    with pytest.raises(AldeskError, match="No item 99"):
        labels.record(project, 99, "skip")
    assert labels.history(project, item) == []
