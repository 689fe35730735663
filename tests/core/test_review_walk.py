from aldesk.core.classes import add_classes
from aldesk.core.labels import history, record
from aldesk.core.queue import QueuedItem
from aldesk.core.session import LabelingSession
from aldesk.core.walks import SUSPECTS, UNSURE, ReviewWalk, unsure_items


def _project_with_items(project, n=8):
    add_classes(project, ["cat", "dog"])
    with project.transaction() as conn:
        for i in range(1, n + 1):
            conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)", (f"{i}.png", f"h{i}")
            )
    return project


def _review(project, items, kind):
    """A session with a review on screen, as the window's Review menu makes it."""
    session = LabelingSession(project, audit_every=0)
    assert session.start_review(kind, items)
    return session


def _status(project, item):
    return project.conn.execute("SELECT status, label_class_id FROM items WHERE id = ?", (item,)).fetchone()


def test_unsure_review_walks_only_unsure_items_and_resolves_them(project):
    _project_with_items(project)
    for item in (2, 5, 7):
        record(project, item, "unsure")
    record(project, 3, "label", 1)
    review = _review(project, unsure_items(project), UNSURE)
    assert review.current.item_id == 2 and review.review.remaining == 3
    assert [q.item_id for q in review.upcoming(5)] == [5, 7]
    review.label(2)
    assert _status(project, 2) == ("labeled", 2)
    assert history(project, 2)[-1].strategy == UNSURE
    review.skip()  # item 5 stays unsure, nothing written
    assert _status(project, 5) == ("unsure", None) and len(history(project, 5)) == 1
    review.label(1)  # item 7
    assert review.current is None and review.review.remaining == 0
    review.undo()
    assert review.current.item_id == 7 and _status(project, 7) == ("unsure", None)


def test_suspect_review_relabels_keeps_and_undoes(project):
    _project_with_items(project)
    for item in (1, 2, 3):
        record(project, item, "label", 1)
    suspects = [QueuedItem(2, 1, 4, "suspects", 0.9), QueuedItem(3, 2, 4, "suspects", 0.7)]
    review = _review(project, suspects, SUSPECTS)
    assert review.current.item_id == 2
    review.label(2)  # corrected
    assert _status(project, 2) == ("labeled", 2)
    event = history(project, 2)[-1]
    assert (event.strategy, event.score, event.model_version) == (SUSPECTS, 0.9, 4)
    review.skip()  # item 3: the label was right, keep it
    assert _status(project, 3) == ("labeled", 1) and review.current is None
    review.undo()  # back to item 2, its old label restored
    assert review.current.item_id == 2 and _status(project, 2) == ("labeled", 1)
    review.redo()
    assert _status(project, 2) == ("labeled", 2)


def test_the_learning_loop_does_not_replace_a_review(project):
    _project_with_items(project)
    record(project, 4, "unsure")
    review = _review(project, unsure_items(project), UNSURE)
    review.set_queue([QueuedItem(1, 1, None, "margin", 0.1)])
    review.set_fallback([QueuedItem(2, 1, None, "margin", 0.1)])
    assert review.current.item_id == 4 and review.upcoming(3) == []


def test_an_unknown_review_is_refused(project):
    import pytest

    with pytest.raises(ValueError, match="unknown review"):
        ReviewWalk(project, [], kind="everything")
