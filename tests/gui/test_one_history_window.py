"""The window's one history: Ctrl+Z in the review grid takes back a labeling key press, and
Backspace while labeling takes back a relabeling made in the grid, newest first."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.gui.test_main_window import _press, _status, project_path, window  # noqa: F401 - fixtures

CTRL = Qt.KeyboardModifier.ControlModifier


def test_the_grid_takes_back_a_labeling_key_and_labeling_shows_the_item_again(qtbot, window, project_path):  # noqa: F811
    first = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_1)
    window.browse_labels()
    grid = window.review_view
    assert grid.item_ids() == [first]
    qtbot.keyClick(grid.grid, Qt.Key.Key_Z, CTRL)
    assert _status(project_path, first) == ("unlabeled", None)
    assert grid.model.caption(grid.model.tiles[0]) == "now: unlabeled"
    assert grid.class_combo.itemText(0).endswith("(0)")
    _press(qtbot, window, Qt.Key.Key_Escape)
    assert window.stack.currentWidget() is window.labeling
    assert window.session.current.item_id == first and "was: cat" in window.labeling.prediction.text()
    qtbot.waitUntil(lambda: window.counts_label.text().startswith("0 / 30"), timeout=5_000)


def test_labeling_takes_back_the_grid_relabeling_first(qtbot, window, project_path):  # noqa: F811
    first = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_1)
    second = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_1)
    window.browse_labels()
    grid = window.review_view
    # The grid lists items by id; which of the two came first depends on the queue: pick it.
    grid.grid.setCurrentIndex(grid.model.index(grid.item_ids().index(first)))
    qtbot.keyClick(grid.grid, Qt.Key.Key_2)  # the first labeled item: cat -> dog
    assert _status(project_path, first) == ("labeled", 2)
    _press(qtbot, window, Qt.Key.Key_Escape)
    on_screen = window.session.current.item_id
    _press(qtbot, window, Qt.Key.Key_Backspace)  # the grid's change is the latest: it goes first
    assert _status(project_path, first) == ("labeled", 1) and _status(project_path, second) == ("labeled", 1)
    assert window.session.current.item_id == on_screen  # a grid change brings nothing on screen
    _press(qtbot, window, Qt.Key.Key_Backspace)  # then the last labeling key
    assert _status(project_path, second) == ("unlabeled", None) and window.session.current.item_id == second
    _press(qtbot, window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    _press(qtbot, window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert _status(project_path, second) == ("labeled", 1) and _status(project_path, first) == ("labeled", 2)
