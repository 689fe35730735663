"""One undo/redo history for labeling, reviews and the review grid: Ctrl+Z anywhere takes back
the latest change wherever it was made, in the reverse order of the label events; a write that
fails part-way keeps what was written (and undoable), and the file and memory agree."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from aldesk.core import labels
from aldesk.core.classes import add_classes
from aldesk.core.disk import disk_full_error
from aldesk.core.errors import DiskFullError
from aldesk.core.items import label_of
from aldesk.core.labels import QueryContext, history, record
from aldesk.core.queue import QueuedItem, replace_queue
from aldesk.core.session import LabelingSession
from aldesk.core.walks import SUSPECTS, UNSURE, unsure_items
from tests.conftest import add_bare_items

GRID = QueryContext(strategy="review")


@pytest.fixture
def setup(project):
    """Items 1-3 labeled cat, 4 unsure, 5-12 unlabeled and queued in order; no audit items."""
    cat, dog = add_classes(project, ["cat", "dog"])
    add_bare_items(project, 12)
    for item in (1, 2, 3):
        record(project, item, "label", cat.id)
    record(project, 4, "unsure")
    replace_queue(project, [QueuedItem(i, r, 2, "margin", 0.5) for r, i in enumerate(range(5, 13), start=1)])
    session = LabelingSession(project, audit_every=0)
    seen = []
    session.subscribe(seen.append)
    return session, cat.id, dog.id, seen


def _in_effect(project, session) -> bool:
    """Every decision the history holds as done is what the file says (labels never lost)."""
    latest = {}
    for step in session.history.done:
        for decision in step.decisions:
            latest[decision.item_id] = decision.after
    return all(label_of(project, item) == after for item, after in latest.items())


def test_undo_goes_back_across_labeling_a_review_and_the_grid_then_redo_forward(setup, project):
    session, cat, dog, _ = setup
    assert session.current.item_id == 5
    session.label(dog)  # labeling: item 5
    assert session.start_review(UNSURE, unsure_items(project))
    assert session.current.item_id == 4
    session.label(cat)  # the review: item 4, unsure -> cat
    assert session.current is None  # that review is over
    session.end_review()
    assert session.current.item_id == 6
    session.relabel([(1, GRID), (2, GRID)], dog)  # the grid: items 1 and 2, cat -> dog
    assert [d.item_id for d in session.recent(4)] == [2, 1, 4, 5]
    assert _in_effect(project, session)

    grid = session.undo()  # the latest change first, though it was made in the grid
    assert grid.item_ids == {1, 2} and label_of(project, 1) == ("labeled", cat) == label_of(project, 2)
    assert session.current.item_id == 6  # a grid change brings nothing on screen
    review = session.undo()
    assert review.item_ids == {4} and label_of(project, 4) == ("unsure", None)
    assert session.current.item_id == 6  # its review is over: the item stays where it is
    first = session.undo()
    assert first.item_ids == {5} and label_of(project, 5) == ("unlabeled", None)
    assert session.current.item_id == 5  # back on screen in the labeling walk, to decide again
    assert session.undo() is None and not session.can_undo

    session.redo()
    assert label_of(project, 5) == ("labeled", dog) and session.current.item_id == 6
    session.redo()
    session.redo()
    assert label_of(project, 4) == ("labeled", cat) and label_of(project, 1) == ("labeled", dog)
    assert not session.can_redo and _in_effect(project, session)
    kinds = [e.kind for e in history(project, 1)]
    assert kinds == ["label", "label", "undo", "label"]


def test_a_labeling_change_undone_during_a_review_is_back_on_screen_when_labeling_resumes(setup, project):
    session, cat, _dog, seen = setup
    session.label(cat)  # item 5
    session.start_review(UNSURE, unsure_items(project))
    seen.clear()
    session.undo()
    assert session.current.item_id == 4  # the review stays on screen
    assert not seen[-1].item and seen[-1].undone and seen[-1].step.item_ids == {5}
    session.end_review()
    assert session.current.item_id == 5 and label_of(project, 5) == ("unlabeled", None)
    assert session.previous_decision(5).class_id == cat  # shown as "was: cat"


def test_a_review_change_undone_in_its_review_comes_back_there(setup, project):
    session, _cat, dog, _ = setup
    record(project, 6, "unsure")
    session.start_review(UNSURE, unsure_items(project))
    first = session.current.item_id
    session.label(dog)
    session.undo()
    assert session.current.item_id == first and session.review is not None
    assert history(project, first)[-1].kind == "undo"


def test_a_new_decision_on_the_item_that_came_back_keeps_the_other_undone_step(setup, project):
    session, cat, dog, _ = setup
    session.label(cat)  # 5
    session.label(cat)  # 6
    session.undo()
    session.undo()
    assert session.current.item_id == 5
    session.label(dog)  # decided again: its own undone step goes, item 6's stays
    assert session.can_redo and session.current.item_id == 6
    session.redo()
    assert label_of(project, 6) == ("labeled", cat) and session.current.item_id == 7
    session.undo()
    session.relabel([(1, GRID)], dog)  # a change elsewhere: a new line of work, nothing to redo
    assert not session.can_redo


def test_a_grid_relabeling_that_fails_part_way_keeps_what_was_written(setup, project, monkeypatch):
    session, cat, dog, seen = setup
    real = labels.record
    calls = []

    def full_on_second(project_, item_id, *args, **kwargs):
        calls.append(item_id)
        if len(calls) == 2:
            raise disk_full_error(project.path, what="the last label")
        return real(project_, item_id, *args, **kwargs)

    monkeypatch.setattr(labels, "record", full_on_second)
    seen.clear()
    with pytest.raises(DiskFullError):
        session.relabel([(1, GRID), (2, GRID), (3, GRID)], dog)
    assert label_of(project, 1) == ("labeled", dog) and label_of(project, 2) == ("labeled", cat)
    assert [c.step.item_ids for c in seen] == [{1}]  # announced before the error was raised
    assert session.history.done[-1].item_ids == {1} and _in_effect(project, session)
    monkeypatch.undo()
    session.undo()
    assert label_of(project, 1) == ("labeled", cat) and not session.can_undo


def _fail_after(monkeypatch, project, name, good):
    """labels.<name> works ``good`` times, then fails as on a full disk."""
    real, calls = getattr(labels, name), []

    def once_then_full(*args, **kwargs):
        calls.append(1)
        if len(calls) > good:
            raise disk_full_error(project.path, what="the last change")
        return real(*args, **kwargs)

    monkeypatch.setattr(labels, name, once_then_full)


def test_an_undo_of_several_items_that_fails_part_way_leaves_the_rest_undoable(setup, project, monkeypatch):
    session, cat, dog, _ = setup
    session.relabel([(1, GRID), (2, GRID)], dog)
    _fail_after(monkeypatch, project, "undo", 1)
    with pytest.raises(DiskFullError):
        session.undo()
    assert label_of(project, 2) == ("labeled", cat) and label_of(project, 1) == ("labeled", dog)
    assert session.history.done[-1].item_ids == {1} and session.history.undone[-1].item_ids == {2}
    assert _in_effect(project, session)
    monkeypatch.undo()
    session.undo()
    assert label_of(project, 1) == ("labeled", cat)
    _fail_after(monkeypatch, project, "record", 0)
    with pytest.raises(DiskFullError):
        session.redo()
    assert label_of(project, 1) == ("labeled", cat) and session.history.undone[-1].item_ids == {1}
    monkeypatch.undo()
    session.redo()
    session.redo()
    assert label_of(project, 1) == ("labeled", dog) == label_of(project, 2) and _in_effect(project, session)


def test_a_review_key_whose_write_fails_changes_nothing(setup, project, monkeypatch):
    session, _cat, dog, _ = setup
    save = [(i, 1, 0.9) for i in (1, 2)]
    session.start_review(SUSPECTS, [QueuedItem(i, r, 3, "suspects", s) for i, r, s in save])
    before = (session.current, session.review.upcoming(5), list(session.history.done))

    @contextmanager
    def full():
        raise disk_full_error(project.path, what="the last label")
        yield  # pragma: no cover

    monkeypatch.setattr(project, "transaction", full)
    with pytest.raises(DiskFullError):
        session.label(dog)
    assert (session.current, session.review.upcoming(5), list(session.history.done)) == before
    monkeypatch.undo()
    session.label(dog)
    assert label_of(project, 1) == ("labeled", dog) and history(project, 1)[-1].strategy == SUSPECTS


def test_subscribers_hear_what_each_operation_changed(setup, project):
    session, cat, dog, seen = setup
    seen.clear()
    session.label(cat)
    session.set_queue([QueuedItem(9, 1, 3, "margin", 0.1)])
    session.start_review(UNSURE, unsure_items(project))
    session.skip()  # in a review: moves on, writes nothing
    session.end_review()
    session.relabel([(1, GRID)], dog)
    session.undo()
    flags = [(c.labels, c.undone, c.item, c.upcoming, c.mode) for c in seen]
    assert flags == [
        (True, False, True, True, False),  # a key press: written, the next item shows
        (False, False, False, True, False),  # a new queue: what comes next, never the item on screen
        (False, False, True, True, True),  # a review starts
        (False, False, True, True, False),  # Space in the review
        (False, False, True, True, True),  # back to labeling
        (True, False, False, False, False),  # the grid: labels only
        (True, True, False, False, False),  # its undo
    ]
    session.unsubscribe(seen.append)
    session.label(cat)
    assert len(seen) == 7
