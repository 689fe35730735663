"""Review grid: class filter, suspects ranking, hotkey relabeling and undo, thumbnails."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from aldesk.core import labels
from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError
from aldesk.core.importer import import_paths
from aldesk.core.suspects_store import Suspect, save_suspects
from aldesk.gui.review.review_view import ReviewView
from tests.conftest import distinct_colour, write_image


@pytest.fixture
def review_project(project, tmp_path):
    """12 images: 1-5 labeled cat, 6-9 labeled dog, 10 skipped, 11-12 unlabeled."""
    cat, dog = add_classes(project, ["cat", "dog"], ["1", "2"])
    paths = [write_image(tmp_path / "imgs" / f"{i:02}.png", distinct_colour(i * 31), size=(20, 14)) for i in range(12)]
    import_paths(project, paths)
    ids = [row[0] for row in project.conn.execute("SELECT id FROM items ORDER BY path")]
    labels.record_many(project, [(i, cat.id) for i in ids[:5]] + [(i, dog.id) for i in ids[5:9]], source="human")
    labels.record(project, ids[9], "skip")
    project.test_ids = ids
    project.cat, project.dog = cat.id, dog.id
    return project


@pytest.fixture
def view(qtbot, review_project):
    widget = ReviewView(review_project)
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    qtbot.waitExposed(widget)
    widget.grid.setFocus()
    yield widget
    widget.shutdown()


def label_of(project, item_id):
    return project.conn.execute("SELECT status, label_class_id FROM items WHERE id = ?", (item_id,)).fetchone()


def test_class_filter_shows_exactly_the_items_of_that_class(view, review_project):
    ids = review_project.test_ids
    view.set_class(review_project.cat)
    assert view.item_ids() == ids[:5]
    view.set_class(review_project.dog)
    assert view.item_ids() == ids[5:9]
    assert view.class_combo.currentText() == "2  dog (4)"
    assert view.class_combo.itemText(0) == "1  cat (5)"
    view.class_combo.setCurrentIndex(0)  # choosing in the combo, as a person does
    view.class_combo.activated.emit(0)
    assert view.item_ids() == ids[:5] and view.class_id == review_project.cat


def test_a_hotkey_relabels_the_selected_item_and_ctrl_z_undoes_it(qtbot, view, review_project):
    ids, cat, dog = review_project.test_ids, review_project.cat, review_project.dog
    view.set_class(cat)
    changed = []
    view.labels_changed.connect(lambda: changed.append(1))
    qtbot.keyClick(view.grid, Qt.Key.Key_Right)  # arrows move the selection
    assert view.grid.currentIndex().row() == 1
    qtbot.keyClick(view.grid, Qt.Key.Key_2)
    assert label_of(review_project, ids[1]) == ("labeled", dog)
    event = labels.history(review_project, ids[1])[-1]
    assert (event.kind, event.class_id, event.source, event.strategy) == ("label", dog, "human", "review")
    assert view.model.caption(view.model.tiles[1]) == "now: dog"
    assert view.grid.currentIndex().row() == 2  # on to the next tile
    assert view.class_combo.itemText(0) == "1  cat (4)" and changed == [1]

    qtbot.keyClick(view.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert label_of(review_project, ids[1]) == ("labeled", cat)
    assert [e.kind for e in labels.history(review_project, ids[1])][-2:] == ["label", "undo"]
    assert view.model.caption(view.model.tiles[1]) == "cat"
    assert view.grid.currentIndex().row() == 1 and changed == [1, 1]
    assert not view.can_undo

    view.reload()  # a relabeled item leaves its old class once the grid is reloaded
    qtbot.keyClick(view.grid, Qt.Key.Key_2)
    view.reload()
    assert view.item_ids() == ids[1:5]


def test_several_selected_items_are_relabeled_and_undone_together(qtbot, view, review_project):
    ids, cat, dog = review_project.test_ids, review_project.cat, review_project.dog
    view.set_class(dog)
    selection = view.grid.selectionModel()
    for row in (0, 2, 3):
        selection.select(view.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    qtbot.keyClick(view.grid, Qt.Key.Key_1)
    assert [label_of(review_project, ids[5 + r])[1] for r in range(4)] == [cat, dog, cat, cat]
    assert view.undo()
    assert [label_of(review_project, ids[5 + r])[1] for r in range(4)] == [dog] * 4
    assert sorted(i.row() for i in selection.selectedIndexes()) == [0, 2, 3]


def test_suspects_mode_walks_the_ranking_and_records_where_the_label_came_from(qtbot, view, review_project):
    ids, cat, dog = review_project.test_ids, review_project.cat, review_project.dog
    save_suspects(
        review_project,
        [Suspect(ids[2], 1, cat, dog, 0.8, 0.1), Suspect(ids[6], 2, dog, cat, 0.3, 0.3)],
        model_version=None,
        n_labels=9,
        method="margin, 5 folds",
    )
    view.mode = "suspects"
    assert view.mode == "suspects" and view.item_ids() == [ids[2], ids[6]]
    assert view.model.caption(view.model.tiles[0]) == "cat → dog?\n#1  cat only 10%"
    assert not view.class_combo.isEnabled()
    qtbot.keyClick(view.grid, Qt.Key.Key_2)  # the suggestion was right
    event = labels.history(review_project, ids[2])[-1]
    assert (event.class_id, event.strategy, event.rank, event.score) == (dog, "suspects", 1, 0.8)
    qtbot.keyClick(view.grid, Qt.Key.Key_2)  # the label was right: confirmed
    view.reload()
    assert view.item_ids() == []
    view.set_mode("class")
    assert view.mode == "class"
    with pytest.raises(AldeskError, match="review mode"):
        view.mode = "everything"


def test_suspects_mode_without_a_ranking_says_how_to_get_one(view):
    view.mode = "suspects"
    assert view.item_ids() == [] and "aldesk suspects" in view.status.text()


def test_thumbnails_are_decoded_in_the_background(qtbot, view, review_project):
    view.set_class(review_project.cat)
    for item_id in review_project.test_ids[:5]:
        qtbot.waitUntil(lambda item_id=item_id: view.loader.get(item_id) is not None, timeout=5000)
    assert view.loader.get(review_project.test_ids[0]).width() == view.loader.side  # enlarged to the tile


def test_hotkeys_act_on_the_grid_even_when_the_window_has_the_same_shortcuts(qtbot, review_project):
    window = QMainWindow()
    qtbot.addWidget(window)
    fired = []
    for key in ("1", "2", "Ctrl+Z"):
        action = QAction(key, window)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _=False, key=key: fired.append(key))
        window.addAction(action)
    view = ReviewView(review_project)
    window.setCentralWidget(view)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    view.grid.setFocus()
    view.set_class(review_project.cat)
    qtbot.keyClick(view.grid, Qt.Key.Key_2)
    assert label_of(review_project, review_project.test_ids[0])[1] == review_project.dog
    qtbot.keyClick(view.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert label_of(review_project, review_project.test_ids[0])[1] == review_project.cat
    view.class_combo.setFocus()  # after choosing a class the keys still go to the tiles
    qtbot.keyClick(view.class_combo, Qt.Key.Key_2)
    assert label_of(review_project, review_project.test_ids[0])[1] == review_project.dog
    assert fired == []
    view.shutdown()


def test_enter_opens_the_current_tile_large_and_esc_gives_the_keys_back_to_the_grid(qtbot, view, review_project):
    ids = review_project.test_ids
    view.set_class(review_project.cat)
    view.grid.setCurrentIndex(view.model.index(2))
    qtbot.keyClick(view.grid, Qt.Key.Key_Return)
    dialog = view.preview
    assert dialog is not None and dialog.isVisible()
    shown = dialog.view.image
    assert shown is not None and (shown.width(), shown.height()) == (20, 14)  # the file's own size, not a thumbnail
    assert f"item {ids[2]}: cat" in dialog.caption.text() and "02.png" in dialog.caption.text()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2_000)
    qtbot.keyClick(view.grid, Qt.Key.Key_2)  # the selection stayed: the class key relabels that tile
    assert label_of(review_project, ids[2]) == ("labeled", review_project.dog)


def test_an_image_that_cannot_be_read_says_so_in_the_large_view(qtbot, view, review_project, tmp_path):
    ids = review_project.test_ids
    view.set_class(review_project.cat)
    (tmp_path / "imgs" / "01.png").write_bytes(b"not a png")
    view.show_large(ids[1])
    assert view.preview.view.image is None and "Cannot show this image" in view.preview.view.message


def test_ctrl_shift_z_redoes_an_undone_relabeling_and_a_new_one_clears_redo(qtbot, view, review_project):
    ids, cat, dog = review_project.test_ids, review_project.cat, review_project.dog
    view.set_class(cat)
    view.grid.setCurrentIndex(view.model.index(1))
    qtbot.keyClick(view.grid, Qt.Key.Key_2)
    qtbot.keyClick(view.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert label_of(review_project, ids[1]) == ("labeled", cat)
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(view.grid, Qt.Key.Key_Z, redo)
    assert label_of(review_project, ids[1]) == ("labeled", dog)
    event = labels.history(review_project, ids[1])[-1]
    assert (event.kind, event.class_id, event.strategy) == ("label", dog, "review")  # given again, same context
    assert view.model.caption(view.model.tiles[1]) == "now: dog" and view.class_combo.itemText(0) == "1  cat (4)"
    assert view.grid.currentIndex().row() == 1 and view.can_undo
    qtbot.keyClick(view.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the redo undoes as well
    assert label_of(review_project, ids[1]) == ("labeled", cat)
    view.grid.selectionModel().setCurrentIndex(view.model.index(3), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    qtbot.keyClick(view.grid, Qt.Key.Key_2)  # a new relabeling: nothing left to redo
    assert view.redo() is False and label_of(review_project, ids[1]) == ("labeled", cat)
