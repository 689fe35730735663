"""A full disk while labeling in the window: each key press whose write fails is refused on
screen (item and session unchanged, the banner names the disk), no exception reaches Qt, and
the next press after space is back labels normally. Background writes show the same banner."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from aldesk.core import labels, vectors
from aldesk.core.disk import disk_full_error
from aldesk.core.store import open_project
from aldesk.gui import write_guard
from aldesk.ml.loop.jobs import EmbedChunk
from tests.gui.test_main_window import _press, _status, project_path  # noqa: F401 - fixture

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(make_window, project_path, monkeypatch):
    monkeypatch.setenv("ALDESK_WORKER", "thread")
    return make_window(project_path)


def _memory(session) -> tuple:
    walk = session.walk
    return (session.current, list(walk._queue), list(session.history.done), list(session.history.undone))


def _events(path) -> int:
    with open_project(path, write=False) as project:
        return project.conn.execute("SELECT count(*) FROM label_events").fetchone()[0]


def _full(path):
    def fail(*_args, **_kwargs):
        raise disk_full_error(path, what="the last label", needed=10**15)

    return fail


def _assert_refused(window, path, before, events):
    assert window.banner.isVisible()
    text = window.banner.text
    assert "is full" in text and "Free at least" in text and str(path) in text
    assert "not saved" in text
    assert _memory(window.session) == before and _events(path) == events


@pytest.mark.parametrize("key", [Qt.Key.Key_1, Qt.Key.Key_Space, Qt.Key.Key_U])
def test_a_key_on_a_full_disk_is_refused_on_screen_then_goes_through(qtbot, window, project_path, monkeypatch, key):
    first = window.session.current.item_id
    title = window.labeling.title.text()
    before, events = _memory(window.session), _events(project_path)
    monkeypatch.setattr(labels, "record", _full(project_path))
    with qtbot.capture_exceptions() as exceptions:
        _press(qtbot, window, key)
        _press(qtbot, window, key)
    assert not exceptions
    _assert_refused(window, project_path, before, events)
    assert "(2 times)" in window.banner.text  # a repeat counts up: one banner, not two
    assert window.labeling.title.text() == title
    assert _status(project_path, first) == ("unlabeled", None)
    monkeypatch.undo()
    _press(qtbot, window, key)
    assert _status(project_path, first)[0] in ("labeled", "skipped", "unsure")
    assert window.session.current.item_id != first
    assert not window.banner.isVisible()  # the press went through: the refusal is over


def test_an_undo_and_a_redo_on_a_full_disk_are_refused(qtbot, window, project_path, monkeypatch):
    first = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_1)
    before, events = _memory(window.session), _events(project_path)
    monkeypatch.setattr(labels, "undo", _full(project_path))
    with qtbot.capture_exceptions() as exceptions:
        _press(qtbot, window, Qt.Key.Key_Backspace)
    assert not exceptions
    _assert_refused(window, project_path, before, events)
    assert _status(project_path, first) == ("labeled", 1)
    monkeypatch.undo()
    _press(qtbot, window, Qt.Key.Key_Backspace)
    assert window.session.current.item_id == first and _status(project_path, first) == ("unlabeled", None)

    before, events = _memory(window.session), _events(project_path)
    monkeypatch.setattr(labels, "record", _full(project_path))
    with qtbot.capture_exceptions() as exceptions:
        _press(qtbot, window, Qt.Key.Key_Z, CTRL | SHIFT)
    assert not exceptions
    _assert_refused(window, project_path, before, events)
    monkeypatch.undo()
    _press(qtbot, window, Qt.Key.Key_Z, CTRL | SHIFT)
    assert _status(project_path, first) == ("labeled", 1)


def test_the_banner_goes_once_the_space_is_back(qtbot, window, project_path, monkeypatch):
    monkeypatch.setattr(labels, "record", _full(project_path))
    _press(qtbot, window, Qt.Key.Key_1)
    assert window.banner.isVisible() and window.guard.watching
    window.guard.check_space()
    assert window.banner.isVisible()  # still full (10**15 bytes asked for)
    monkeypatch.setattr(write_guard, "free_bytes", lambda _folder: 10**19)
    window.guard.check_space()
    assert not window.banner.isVisible() and not window.guard.watching


def test_a_review_key_on_a_full_disk_is_refused(qtbot, window, project_path, monkeypatch):
    _press(qtbot, window, Qt.Key.Key_U)
    window.review_unsure()
    unsure = window.session.current.item_id
    before, events = _memory(window.session), _events(project_path)
    monkeypatch.setattr(labels, "record", _full(project_path))
    with qtbot.capture_exceptions() as exceptions:
        _press(qtbot, window, Qt.Key.Key_2)
    assert not exceptions
    _assert_refused(window, project_path, before, events)
    assert _status(project_path, unsure) == ("unsure", None)
    monkeypatch.undo()
    _press(qtbot, window, Qt.Key.Key_2)
    assert _status(project_path, unsure) == ("labeled", 2)


def test_the_review_grid_on_a_full_disk_refuses_and_keeps_its_tiles(qtbot, window, project_path, monkeypatch):
    _press(qtbot, window, Qt.Key.Key_1)
    labeled = window.session.recent(1)[0].item_id
    window.browse_labels()
    grid = window.review_view
    assert grid.item_ids() == [labeled]
    events, steps = _events(project_path), len(window.session.history.done)
    monkeypatch.setattr(labels, "record", _full(project_path))
    with qtbot.capture_exceptions() as exceptions:
        qtbot.keyClick(grid.grid, Qt.Key.Key_2)
    assert not exceptions
    assert "is full" in window.banner.text and _events(project_path) == events
    assert grid.model.tiles[0].now_class_id is None and len(window.session.history.done) == steps  # nothing to undo
    monkeypatch.undo()
    qtbot.keyClick(grid.grid, Qt.Key.Key_2)
    assert _status(project_path, labeled) == ("labeled", 2) and not window.banner.isVisible()

    monkeypatch.setattr(labels, "undo", _full(project_path))
    with qtbot.capture_exceptions() as exceptions:
        qtbot.keyClick(grid.grid, Qt.Key.Key_Z, CTRL)
    assert not exceptions
    assert "is full" in window.banner.text and grid.can_undo and grid.model.tiles[0].now_class_id == 2
    monkeypatch.undo()
    qtbot.keyClick(grid.grid, Qt.Key.Key_Z, CTRL)
    assert _status(project_path, labeled) == ("labeled", 1)


def test_embedding_chunks_on_a_full_disk_show_one_banner_and_embed_again_when_space_is_back(
    qtbot, window, project_path, monkeypatch
):
    controller = window.controller
    qtbot.waitUntil(lambda: not controller._busy, timeout=60_000)
    monkeypatch.setattr(vectors, "add_chunk", _full(project_path))
    import numpy as np

    chunk = EmbedChunk("pixels", "pixels-test", 4, np.array([1, 2]), np.zeros((2, 4), np.float32), [])
    with qtbot.capture_exceptions() as exceptions:
        for _ in range(3):
            controller._store_chunk(chunk)
    assert not exceptions
    assert "is full" in window.banner.text and "times" not in window.banner.text  # once, not three
    assert not window.banner.retry_button.isHidden()
    asked = []
    monkeypatch.setattr(controller, "_request", asked.append)
    monkeypatch.setattr(write_guard, "free_bytes", lambda _folder: 10**19)
    window.guard.check_space()
    assert not window.banner.isVisible() and asked == ["embed"]  # the lost chunk is embedded again


def test_a_model_whose_predictions_hit_a_full_disk_shows_the_banner_and_retrains_when_space_is_back(
    qtbot, window, project_path, monkeypatch
):
    from aldesk.core import model_store

    controller = window.controller
    with qtbot.waitSignal(controller.queue_updated, timeout=60_000):
        pass  # embedded, and the cold start's queue stored
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3) * 2:
        _press(qtbot, window, key)
    monkeypatch.setattr(model_store, "write_predictions", _full(project_path))
    with qtbot.capture_exceptions() as exceptions:
        controller.retrain_now()
        qtbot.waitUntil(lambda: "is full" in window.banner.text, timeout=60_000)
    assert not exceptions and not window.banner.retry_button.isHidden()
    with open_project(project_path, write=False) as project:
        assert project.conn.execute("SELECT count(*) FROM models").fetchone()[0] == 0
    assert _status(project_path, window.session.recent(1)[0].item_id) == ("labeled", 3)  # labels kept
    qtbot.waitUntil(lambda: not controller._busy, timeout=60_000)
    monkeypatch.undo()
    monkeypatch.setattr(write_guard, "free_bytes", lambda _folder: 10**19)
    with qtbot.waitSignal(controller.model_updated, timeout=60_000):
        window.guard.check_space()  # space is back: the model is trained and stored again
    assert not window.banner.isVisible()


def test_a_background_write_that_finds_the_disk_read_only_turns_the_window_read_only(qtbot, window, project_path, monkeypatch):
    import numpy as np

    from aldesk.core.errors import ReadOnlyProjectError

    controller = window.controller

    def remounted(*_args, **_kwargs):
        raise ReadOnlyProjectError(
            f"{project_path} cannot be written (attempt to write a readonly database)",
            reason="attempt to write a readonly database",
        )

    monkeypatch.setattr(vectors, "add_chunk", remounted)
    chunk = EmbedChunk("pixels", "pixels-test", 4, np.array([1]), np.zeros((1, 4), np.float32), [])
    with qtbot.capture_exceptions() as exceptions:
        controller._store_chunk(chunk)
        qtbot.wait(50)
    assert not exceptions
    assert window.controller is None and "(read-only)" in window.windowTitle()
    assert "readonly database" in window.banner.text and "Now read-only" in window.banner.text
    _press(qtbot, window, Qt.Key.Key_1)
    assert "read-only because writing it failed" in window.statusBar().currentMessage()


def test_a_nearly_full_disk_pauses_background_writes_before_it_stops_labels(qtbot, window, project_path, monkeypatch):
    """Embeddings and models can be computed again, labels cannot: below the reserve the
    background work is not stored, while key presses still save."""
    from aldesk.core import disk

    controller = window.controller
    qtbot.waitUntil(lambda: not controller._busy, timeout=60_000)
    monkeypatch.setattr(disk, "free_bytes", lambda _folder: disk.LABEL_RESERVE_BYTES // 2)
    import numpy as np

    stored = []
    monkeypatch.setattr(vectors, "add_chunk", lambda *args, **kwargs: stored.append(args))
    chunk = EmbedChunk("pixels", "pixels-test", 4, np.array([1, 2]), np.zeros((2, 4), np.float32), [])
    with qtbot.capture_exceptions() as exceptions:
        controller._store_chunk(chunk)
    assert not exceptions and stored == []
    assert "nearly full" in window.banner.text and "paused to keep room for your labels" in window.banner.text
    item = window.session.current.item_id
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    _press(qtbot, window, Qt.Key.Key_1)  # the label itself still saves
    with open_project(project_path, write=False) as project:
        assert project.conn.execute("SELECT status FROM items WHERE id = ?", (item,)).fetchone()[0] == "labeled"
