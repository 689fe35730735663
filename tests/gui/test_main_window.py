"""The real main window, offscreen, driven by key presses; the project file is checked after each."""

from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtCore import QSettings, Qt

from aldesk.core.labels import history
from aldesk.core.store import open_project
from aldesk.gui.main_window import MainWindow
from tests.conftest import image_project


@pytest.fixture
def project_path(tmp_path):
    return image_project(tmp_path / "gui.aldesk", tmp_path / "images", ["cat", "dog", "bird"], 30, size=(40, 30))


@pytest.fixture
def window(qtbot, tmp_path, project_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, backbone="pixels")
    qtbot.addWidget(win)
    win.show()
    assert win.open_project(project_path)
    yield win
    win.close()


def _status(path, item_id):
    with open_project(path, write=False) as project:
        return project.conn.execute("SELECT status, label_class_id FROM items WHERE id = ?", (item_id,)).fetchone()


def _press(qtbot, win, key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(win, key, modifier)


def test_a_press_updates_counts_and_strips_once_the_next_image_is_shown(qtbot, window):
    first = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: window.counts_label.text().startswith("1 / 30"), timeout=5_000)
    qtbot.waitUntil(lambda: window.labeling.recent_strip.count() == 1, timeout=5_000)
    recent = window.labeling.recent_strip.item(0)
    assert recent.data(Qt.ItemDataRole.UserRole) == first and recent.text() == "cat"
    assert window.labeling.next_strip.count() == 8


def test_a_new_queue_never_changes_what_the_next_strip_shows(qtbot, window):
    from aldesk.core.queue import QueuedItem

    strip = window.labeling.next_strip
    qtbot.waitUntil(lambda: strip.count() == 8, timeout=5_000)
    shown = [strip.item(row).data(Qt.ItemDataRole.UserRole) for row in range(strip.count())]
    current = window.session.current.item_id
    others = [i for i in range(1, 31) if i not in shown and i != current]
    window.session.set_queue([QueuedItem(i, rank, 7, "margin", 0.1) for rank, i in enumerate(reversed(others), start=1)])
    qtbot.wait(300)  # the strip's update timer
    assert [strip.item(row).data(Qt.ItemDataRole.UserRole) for row in range(strip.count())] == shown
    assert window.session.current.item_id == current
    for expected in shown[:3]:  # and labeling goes through them in the order they were shown
        _press(qtbot, window, Qt.Key.Key_1)
        qtbot.waitUntil(lambda expected=expected: window.session.current.item_id == expected, timeout=5_000)


def test_title_and_first_item(window, project_path):
    assert "aldesk" in window.windowTitle() and "gui" in window.windowTitle()
    current = window.session.current  # an unlabeled item, and the view names its file
    assert current is not None and _status(project_path, current.item_id) == ("unlabeled", None)
    with open_project(project_path, write=False) as project:
        stored = project.conn.execute("SELECT path FROM items WHERE id = ?", (current.item_id,)).fetchone()[0]
        assert window.labeling.title.text() == project.resolve(stored).name  # no "(typical, rank 2)" jargon
    assert "No model yet" in window.labeling.title.toolTip()


def test_an_audit_item_looks_like_any_other(window):
    from aldesk.core.queue import QueuedItem
    from aldesk.core.walks import AUDIT

    window.presenter._prediction = lambda item_id: (window.classes[0].id, 0.7)  # a model exists
    seen = []
    for item in (QueuedItem(3, 0, None, AUDIT, None), QueuedItem(4, 2, 7, "margin", 0.05)):
        title = window.presenter._title(item)
        seen.append((title.endswith(".png"), window.labeling.title.toolTip()))
        assert AUDIT not in title and "margin" not in title and "rank" not in title
    assert seen[0] == seen[1] and seen[0][0]  # the same words for both: the check stays blind


def test_keys_label_skip_unsure_undo_redo(qtbot, window, project_path):
    first = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_1)
    assert _status(project_path, first) == ("labeled", 1)
    second = window.session.current.item_id
    assert second != first
    _press(qtbot, window, Qt.Key.Key_Space)
    assert _status(project_path, second) == ("skipped", None)
    third = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_U)
    assert _status(project_path, third) == ("unsure", None)
    _press(qtbot, window, Qt.Key.Key_Backspace)
    assert window.session.current.item_id == third
    assert _status(project_path, third) == ("unlabeled", None)
    assert "was: unsure" in window.labeling.prediction.text()
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.session.current.item_id == second
    assert _status(project_path, second) == ("unlabeled", None)
    _press(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert _status(project_path, second) == ("skipped", None)
    _press(qtbot, window, Qt.Key.Key_3)  # replaces the undone 'unsure' on the third item
    assert _status(project_path, third) == ("labeled", 3)
    with open_project(project_path, write=False) as project:
        assert [e.kind for e in history(project, third)] == ["unsure", "undo", "label"]


def test_worker_builds_a_model_and_queue_without_changing_the_image_on_screen(qtbot, window, project_path):
    controller = window.controller
    with qtbot.waitSignal(controller.queue_updated, timeout=60_000):
        pass  # embeddings, then the first refresh (cold start, no model yet)
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3) * 4:
        _press(qtbot, window, key)
    on_screen = window.session.current.item_id
    title = window.labeling.title.text()
    with qtbot.waitSignal(controller.model_updated, timeout=60_000):
        controller.retrain_now()
    assert window.session.current.item_id == on_screen
    assert window.labeling.title.text() == title
    assert window.labeling.prediction.text().startswith("Model:")
    with open_project(project_path, write=False) as project:
        assert project.conn.execute("SELECT count(*) FROM models").fetchone()[0] >= 1


def _start_slow_training(qtbot, window):
    """Wait for the first queue, then start a refresh that takes 30 s unless cancelled."""
    controller = window.controller
    with qtbot.waitSignal(controller.queue_updated, timeout=60_000):
        pass
    controller.worker.slow_down_for_tests = 30.0
    controller.retrain_now()
    qtbot.wait(100)
    return controller


def test_key_presses_are_handled_while_a_slow_training_runs(qtbot, window, project_path):
    controller = _start_slow_training(qtbot, window)
    assert controller._busy
    labeled = []
    for _ in range(5):
        labeled.append(window.session.current.item_id)
        _press(qtbot, window, Qt.Key.Key_2)
    assert controller._busy  # still training
    assert all(_status(project_path, item) == ("labeled", 2) for item in labeled)


def test_closing_during_training_leaves_no_thread_and_no_process(qtbot, window):
    controller = _start_slow_training(qtbot, window)
    thread, child = controller.thread, controller.worker.child_pid
    assert thread.isRunning()
    assert child is not None and child != os.getpid()  # the jobs run in a child process
    window.close()
    assert not thread.isRunning()
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # ended and reaped


def test_a_killed_learning_process_is_shown_and_labeling_goes_on(qtbot, window, project_path):
    controller = _start_slow_training(qtbot, window)
    with qtbot.waitSignal(controller.error, timeout=30_000) as failure:
        os.kill(controller.worker.child_pid, signal.SIGKILL)
    assert "ended unexpectedly" in failure.args[0] and window.banner.isVisible()
    shown = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_2)
    assert _status(project_path, shown) == ("labeled", 2)
    controller.worker.slow_down_for_tests = 0.0
    with qtbot.waitSignal(controller.queue_updated, timeout=60_000):
        window.banner.retry_button.click()  # a new child process takes over


def test_results_arriving_after_close_are_dropped_quietly(qtbot, window, project_path):
    import numpy as np

    from aldesk.gui.learning.worker import EmbedChunk

    controller = window.controller
    window.close_project()
    # A chunk the worker emitted just before it stopped, delivered after the project closed.
    late = EmbedChunk("pixels", "pixels-x", 4, np.array([1]), np.zeros((1, 4), np.float32), [])
    with qtbot.assertNotEmitted(controller.state_changed), qtbot.assertNotEmitted(controller.error):
        controller._store_chunk(late)
        controller._embedding_done("pixels")
        controller._job_finished()
    assert controller._pending is None  # no refresh is asked for a closed project
    with open_project(project_path, write=False) as project:
        assert project.conn.execute("SELECT count(*) FROM embedding_sets WHERE identity = 'pixels-x'").fetchone()[0] == 0


def test_ctrl_l_toggles_the_learning_curve_panel_which_follows_new_models(qtbot, window):
    _press(qtbot, window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    dock = window.curve_dock
    assert dock is not None and dock.isVisible()
    assert "audit" in dock.curve.note.text()  # says what the estimate still needs
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3) * 4:
        _press(qtbot, window, key)
    dock.curve.note.setText("stale")
    with qtbot.waitSignal(window.controller.model_updated, timeout=60_000):
        window.controller.retrain_now()
    assert dock.curve.note.text() != "stale"  # redrawn from the new model
    _press(qtbot, window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert not dock.isVisible()


def test_the_curve_panel_goes_below_the_image_when_the_window_has_no_room_beside_it(qtbot, window):
    window.resize(window.labeling.minimumSizeHint().width() + 40, 700)
    width = window.width()
    window.show_curve()
    assert window.curve_dock.isVisible()
    assert window.dockWidgetArea(window.curve_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert window.width() <= width + 1  # the panel did not widen the window
    window.show_curve()
    window.resize(window.labeling.minimumSizeHint().width() + 900, 700)
    window.show_curve()
    assert window.dockWidgetArea(window.curve_dock) == Qt.DockWidgetArea.RightDockWidgetArea


def test_ctrl_1_shows_a_large_photo_at_full_resolution_in_the_background(qtbot, tmp_path, make_window):
    path = image_project(tmp_path / "big.aldesk", tmp_path / "big", ["cat", "dog"], 3, size=(3000, 2000))
    win = make_window(path)
    view = win.labeling.item_view
    qtbot.waitUntil(lambda: view.image is not None, timeout=10_000)
    assert view.image.width() < 3000  # decoded at about screen size for a fast key press
    _press(qtbot, win, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.full_resolution, timeout=10_000)
    assert (view.image.width(), view.image.height()) == (3000, 2000)
    assert view.transform().m11() * view.devicePixelRatioF() == pytest.approx(1.0)
    assert _status(path, win.session.current.item_id) == ("unlabeled", None)  # Ctrl+1 labels nothing
    _press(qtbot, win, Qt.Key.Key_1)  # the next photo comes fitted, at screen size again
    qtbot.waitUntil(lambda: view.image is not None and not view.full_resolution and view.zoom_factor == 1.0, timeout=10_000)
    assert view.image.width() < 3000
