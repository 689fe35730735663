"""What the session announces as upcoming is what it shows next, so the window can decode ahead."""

from __future__ import annotations

from aldesk.core.classes import add_classes
from aldesk.core.queue import QueuedItem, replace_queue
from aldesk.core.session import AUDIT, LabelingSession


def _items(project, n):
    classes = add_classes(project, ["cat", "dog"])
    with project.transaction() as conn:
        conn.executemany(
            "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)",
            [(f"{i}.png", f"h{i}") for i in range(1, n + 1)],
        )
    return classes[0].id


def test_upcoming_predicts_every_next_item_audit_items_included(project):
    class_id = _items(project, 60)
    replace_queue(project, [QueuedItem(i, r, 1, "margin", 0.1) for r, i in enumerate(range(20, 50), start=1)])
    session = LabelingSession(project, audit_every=3)
    audits = 0
    for _ in range(50):
        predicted = [q.item_id for q in session.upcoming(4)]
        session.label(class_id)
        assert session.current.item_id == predicted[0]
        audits += session.current.strategy == AUDIT
    assert audits >= 15  # one in three was an audit item, and each was announced ahead


def test_a_new_queue_leaves_the_next_items_in_place(project):
    _items(project, 30)
    replace_queue(project, [QueuedItem(i, r, 1, "margin", 0.1) for r, i in enumerate([3, 4, 5, 6, 7], start=1)])
    session = LabelingSession(project, audit_every=0, keep_next=2)
    assert session.current.item_id == 3
    session.set_queue([QueuedItem(i, r, 2, "margin", 0.2) for r, i in enumerate([20, 21, 5, 22], start=1)])
    assert session.current.item_id == 3  # the image on screen never changes
    assert [q.item_id for q in session.upcoming(5)] == [4, 5, 20, 21, 22]


def test_without_keep_next_a_new_queue_replaces_everything_after_the_current_item(project):
    _items(project, 30)
    replace_queue(project, [QueuedItem(i, r, 1, "margin", 0.1) for r, i in enumerate([3, 4, 5], start=1)])
    session = LabelingSession(project, audit_every=0)
    session.set_queue([QueuedItem(i, r, 2, "margin", 0.2) for r, i in enumerate([20, 21], start=1)])
    assert [q.item_id for q in session.upcoming(2)] == [20, 21]
