"""A decision whose write fails (full disk, read-only file) leaves the session as it was: the
item stays on screen, nothing is recorded in memory, the undo history is untouched."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from aldesk.core.classes import add_classes
from aldesk.core.disk import disk_full_error
from aldesk.core.errors import DiskFullError
from aldesk.core.labels import history
from aldesk.core.queue import QueuedItem, replace_queue
from aldesk.core.session import LabelingSession


@pytest.fixture
def session(project):
    add_classes(project, ["cat", "dog"])
    with project.transaction() as conn:
        for i in range(1, 9):
            conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)", (f"{i}.png", f"h{i}")
            )
    replace_queue(project, [QueuedItem(i, r, 7, "margin", 0.1 * r) for r, i in enumerate([3, 1, 5, 7], start=1)])
    return LabelingSession(project, audit_every=0)


def _memory(session: LabelingSession) -> tuple:
    walk = session.labeling
    return (
        session.current,
        list(walk._queue),
        list(walk._fallback),
        list(session.history.done),
        list(session.history.undone),
        walk._since_audit,
        list(walk._audit_pool),
        walk.labels_given,
    )


def _events(project) -> int:
    return project.conn.execute("SELECT count(*) FROM label_events").fetchone()[0]


@pytest.fixture
def disk_full(project, monkeypatch):
    """Every write transaction fails as on a full disk until ``.undo()`` is called."""

    @contextmanager
    def full():
        raise disk_full_error(project.path, what="the last label")
        yield  # pragma: no cover

    def start():
        monkeypatch.setattr(project, "transaction", full)

    return start


@pytest.mark.parametrize("press", [lambda s: s.label(1), lambda s: s.skip(), lambda s: s.unsure()])
def test_a_decision_that_cannot_be_written_changes_nothing(session, project, disk_full, monkeypatch, press):
    session.label(2)
    before, events = _memory(session), _events(project)
    disk_full()
    with pytest.raises(DiskFullError):
        press(session)
    assert _memory(session) == before and _events(project) == events
    monkeypatch.undo()
    on_screen = session.current.item_id
    press(session)  # space is back: the same item is decided now
    assert history(project, on_screen)[-1].kind in ("label", "skip", "unsure")


def test_an_undo_that_cannot_be_written_keeps_the_stack(session, project, disk_full, monkeypatch):
    session.label(1)
    session.label(2)
    before, events = _memory(session), _events(project)
    disk_full()
    with pytest.raises(DiskFullError):
        session.undo()
    assert _memory(session) == before and _events(project) == events
    monkeypatch.undo()
    undone = session.undo()  # the same decision is undone once space is back
    assert undone == before[3][-1] and session.current.item_id == undone.decisions[0].item_id


def test_a_redo_that_cannot_be_written_keeps_the_item_and_the_redo_stack(session, project, disk_full, monkeypatch):
    session.label(1)  # item 3
    session.undo()  # item 3 back on screen, its label on the redo stack
    session.advance()  # another item on screen (as after a review's Space); item 3 is open
    assert session.current.item_id != 3
    assert session.can_redo
    before, events = _memory(session), _events(project)
    disk_full()
    with pytest.raises(DiskFullError):
        session.redo()
    assert _memory(session) == before and _events(project) == events
    monkeypatch.undo()
    redone = session.redo()  # written once space is back
    decision = redone.decisions[0]
    assert (decision.item_id, decision.kind, decision.class_id) == (3, "label", 1)
    assert (history(project, 3)[-1].kind, history(project, 3)[-1].class_id) == ("label", 1)
    assert session.current == before[0] and not session.can_redo  # the item that was on screen is back


def test_a_redo_of_the_item_on_screen_that_fails_keeps_it_redoable(session, project, disk_full, monkeypatch):
    session.label(1)
    session.undo()  # item 3 on screen again, its label on the redo stack
    before, events = _memory(session), _events(project)
    disk_full()
    with pytest.raises(DiskFullError):
        session.redo()
    assert _memory(session) == before and _events(project) == events
    monkeypatch.undo()
    assert session.redo().decisions[0].item_id == 3
