import pytest

from aldesk.core.classes import add_classes
from aldesk.core.labels import history
from aldesk.core.queue import QueuedItem, replace_queue
from aldesk.core.session import LabelingSession


@pytest.fixture
def session(project):
    add_classes(project, ["cat", "dog"])
    with project.transaction() as conn:
        for i in range(1, 7):
            conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)", (f"{i}.png", f"h{i}")
            )
    replace_queue(project, [QueuedItem(i, r, 7, "margin", 0.1 * r) for r, i in enumerate([3, 1, 5], start=1)])
    return LabelingSession(project)


def _state(project, item):
    return project.conn.execute("SELECT status, label_class_id FROM items WHERE id = ?", (item,)).fetchone()


def test_follows_the_stored_queue_then_a_random_sample_never_a_blank(session, project):
    assert session.current.item_id == 3
    assert [q.item_id for q in session.upcoming(2)] == [1, 5]
    for _ in range(3):
        session.label(1)
    # queue used up: the random sample of unlabeled items, then any unlabeled item
    assert session.current.item_id in {2, 4, 6} and session.current.strategy == "random"
    for _ in range(3):
        session.label(2)
    assert session.current is None
    assert project.conn.execute("SELECT count(*) FROM items WHERE status = 'unlabeled'").fetchone()[0] == 0


def test_without_any_queue_the_first_items_are_a_random_sample(project):
    add_classes(project, ["a", "b"])
    with project.transaction() as conn:
        for i in range(1, 101):
            conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)", (f"{i}.png", f"h{i}")
            )
    session = LabelingSession(project)
    shown = [q.item_id for q in [session.current] + session.upcoming(9)]
    assert len(set(shown)) == 10 and shown != list(range(1, 11))


def test_a_decision_is_committed_with_why_the_item_was_asked(session, project):
    decision = session.label(2)
    assert _state(project, 3) == ("labeled", 2)
    event = history(project, 3)[-1]
    assert (event.model_version, event.strategy, event.rank, event.source) == (7, "margin", 1, "human")
    # Milliseconds from the item being shown (the fixture, just now) to the key press: not a clock reading.
    assert event.shown_ms is not None and 0 <= event.shown_ms < 5_000
    assert decision.event_id == event.id


def test_skip_unsure_undo_redo(session, project):
    session.label(1)  # item 3
    session.skip()  # item 1
    session.unsure()  # item 5
    assert (_state(project, 1), _state(project, 5)) == (("skipped", None), ("unsure", None))
    undone = session.undo()
    assert undone.decisions[0].item_id == 5 and session.current.item_id == 5
    assert _state(project, 5) == ("unlabeled", None)
    assert session.previous_decision(5).kind == "unsure"
    session.undo()
    assert session.current.item_id == 1 and _state(project, 1) == ("unlabeled", None)
    session.redo()
    assert _state(project, 1) == ("skipped", None) and session.current.item_id == 5
    session.label(2)  # replaces the undone 'unsure' on item 5
    assert _state(project, 5) == ("labeled", 2)
    assert not session.can_redo
    kinds = [e.kind for e in history(project, 5)]
    assert kinds == ["unsure", "undo", "label"]


def test_new_queue_does_not_change_the_item_on_screen(session, project):
    assert session.current.item_id == 3
    session.set_queue([QueuedItem(6, 1, 8, "margin", 0.0), QueuedItem(3, 2, 8, "margin", 0.0)])
    assert session.current.item_id == 3
    assert [q.item_id for q in session.upcoming(3)][0] == 6
    session.label(1)
    assert session.current.item_id == 6


def test_undo_past_the_beginning_does_nothing(session):
    assert session.undo() is None and session.redo() is None


def _items(project, n):
    add_classes(project, ["a", "b"])
    with project.transaction() as conn:
        for i in range(1, n + 1):
            conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)", (f"{i}.png", f"h{i}")
            )


def test_one_item_in_audit_every_is_a_uniform_audit_item_recorded_as_such(project):
    from aldesk.core.labels import audit_items

    _items(project, 300)
    # a queue of the first 100 items in order: a model that always prefers low ids
    replace_queue(project, [QueuedItem(i, i, 3, "margin", 0.0) for i in range(1, 101)])
    session = LabelingSession(project, audit_every=5)
    strategies = []
    for _ in range(50):
        strategies.append(session.current.strategy)
        session.label(1)
    audits = [i for i, s in enumerate(strategies) if s == "audit"]
    # none during the cold start (3 labels per class: 6 here), then one in every five
    assert min(audits) >= 6 and all(b - a == 5 for a, b in zip(audits, audits[1:]))
    assert len(audits) == 8
    audited = audit_items(project)
    assert len(audited) == 8
    assert max(audited) > 100  # drawn from the whole pool, not from the model's queue
    events = [e for item in audited for e in history(project, item)]
    assert all(e.strategy == "audit" for e in events)


def test_an_undone_audit_label_is_no_audit_label_until_labeled_again(project):
    from aldesk.core.labels import audit_items

    _items(project, 50)
    session = LabelingSession(project, audit_every=2)
    for _ in range(7):  # past the cold start (6 labels), then one plain item
        session.label(1)
    decision = session.label(1)  # then the audit item
    assert decision.context.strategy == "audit" and audit_items(project) == [decision.item_id]
    session.undo()
    assert audit_items(project) == []
    session.label(2)  # the same item, labeled again after undo: still asked as an audit item
    assert audit_items(project) == [decision.item_id]


def test_audit_off(project):
    _items(project, 30)
    session = LabelingSession(project, audit_every=0)
    seen = set()
    for _ in range(25):
        seen.add(session.current.strategy)
        session.label(1)
    assert "audit" not in seen


def test_no_audit_items_during_the_cold_start(project):
    add_classes(project, [f"c{i}" for i in range(10)])
    with project.transaction() as conn:
        for i in range(1, 80):
            conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)", (f"{i}.png", f"h{i}")
            )
    session = LabelingSession(project, audit_every=10)
    strategies = []
    for _ in range(45):
        strategies.append(session.current.strategy)
        session.label(1)
    assert "audit" not in strategies[:30]  # 3 labels per class for 10 classes
    assert strategies[30:].count("audit") == 1
    # a session opened later counts the labels already given
    assert LabelingSession(project, audit_every=10).labeling._auditing()
