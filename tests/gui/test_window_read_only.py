"""Read-only and damaged projects in the window: opened read-only with a banner saying why,
browsing, the review grid and export work, every writing key is refused on screen, the learning
worker does not start, and the file is not changed."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from aldesk.core import labels
from aldesk.core.classes import add_classes
from aldesk.core.importer import import_paths
from aldesk.core.store import create_project
from tests.conftest import distinct_colour, write_image
from tests.core.test_project_check import _damage_table
from tests.gui.test_main_window import _press

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
WRITING_KEYS = [
    (Qt.Key.Key_1, Qt.KeyboardModifier.NoModifier),
    (Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier),
    (Qt.Key.Key_U, Qt.KeyboardModifier.NoModifier),
    (Qt.Key.Key_Backspace, Qt.KeyboardModifier.NoModifier),
    (Qt.Key.Key_Z, CTRL),
    (Qt.Key.Key_Z, CTRL | SHIFT),
]


@pytest.fixture
def labeled_path(tmp_path):
    """A closed project with 30 items, two of them labeled (so the review grid has tiles)."""
    path = tmp_path / "ro.aldesk"
    with create_project(path) as project:
        cat, _dog = add_classes(project, ["cat", "dog"])
        for i in range(30):
            write_image(tmp_path / "images" / f"{i:02}.png", distinct_colour(i * 40), size=(40, 30))
        import_paths(project, [tmp_path / "images"])
        for item_id in (1, 2):
            labels.record(project, item_id, "label", cat.id)
    return path


@pytest.fixture
def read_only_place(monkeypatch):
    """The project's folder behaves as a read-only mount (root ignores permission bits)."""
    reason = "it is on a read-only disk or mount (/media/stick)"
    monkeypatch.setattr("aldesk.core.store.read_only_reason", lambda _path: reason)
    return reason


def _assert_keys_refused(qtbot, window, path, before: bytes, why: str) -> None:
    current = window.session.current
    with qtbot.capture_exceptions() as exceptions:
        for key, modifier in WRITING_KEYS:
            window.statusBar().clearMessage()
            _press(qtbot, window, key, modifier)
            message = window.statusBar().currentMessage()
            assert "read-only" in message and why in message, (key, message)
    assert not exceptions
    assert window.session.current == current
    assert path.read_bytes() == before


def test_a_read_only_project_opens_read_only_and_refuses_every_writing_key(qtbot, make_window, labeled_path, read_only_place):
    before = labeled_path.read_bytes()
    window = make_window(labeled_path)
    assert not window.project.writable
    assert "(read-only)" in window.windowTitle()
    assert window.banner.isVisible() and "read-only disk or mount (/media/stick)" in window.banner.text
    assert window.banner.dismiss_button.isHidden() and window.banner.retry_button.isHidden()
    assert window.controller is None  # nothing learned, nothing stored
    assert window.session.current is not None and window.counts_label.text().startswith("2 / 30")
    _assert_keys_refused(qtbot, window, labeled_path, before, "read-only disk")
    window.retrain()
    assert "read-only" in window.statusBar().currentMessage()
    assert window.actions["export"].isEnabled()
    window.close_project()
    assert labeled_path.read_bytes() == before


def test_the_review_grid_of_a_read_only_project_shows_its_tiles_and_refuses_keys(
    qtbot, make_window, labeled_path, read_only_place
):
    before = labeled_path.read_bytes()
    window = make_window(labeled_path)
    window.browse_labels()
    grid = window.review_view
    assert grid.item_ids() == [1, 2]
    with qtbot.capture_exceptions() as exceptions:
        for key, modifier in ((Qt.Key.Key_2, Qt.KeyboardModifier.NoModifier), (Qt.Key.Key_Z, CTRL)):
            window.statusBar().clearMessage()
            qtbot.keyClick(grid.grid, key, modifier)
            assert "read-only disk" in window.statusBar().currentMessage()
    assert not exceptions
    assert grid.model.tiles[0].now_class_id is None
    qtbot.waitUntil(lambda: grid.loader.get(1) is not None, timeout=10_000)  # thumbnails still come
    assert labeled_path.read_bytes() == before


def test_a_damaged_project_opens_read_only_and_says_how_to_recover(qtbot, make_window, labeled_path):
    _damage_table(labeled_path, "label_events")
    before = labeled_path.read_bytes()
    with qtbot.capture_exceptions() as exceptions:
        window = make_window(labeled_path)
    assert not exceptions
    assert "(read-only)" in window.windowTitle() and window.controller is None
    assert "damaged" in window.banner.text and "aldesk recover" in window.banner.text
    _assert_keys_refused(qtbot, window, labeled_path, before, "read-only")
    window.close_project()
    assert labeled_path.read_bytes() == before


def test_damage_met_while_labeling_turns_the_window_read_only(qtbot, make_window, labeled_path, monkeypatch):
    from aldesk.core.errors import DamagedProjectError

    window = make_window(labeled_path)
    assert window.controller is not None
    calls = []

    def damaged(*_args, **_kwargs):
        calls.append(1)
        raise DamagedProjectError(f"{labeled_path} is damaged (malformed); 'aldesk recover' ...", reason="malformed")

    monkeypatch.setattr(labels, "record", damaged)
    current = window.session.current
    with qtbot.capture_exceptions() as exceptions:
        _press(qtbot, window, Qt.Key.Key_1)
        assert "(read-only)" in window.windowTitle() and window.controller is None
        assert "aldesk recover" in window.banner.text and window.banner.dismiss_button.isHidden()
        _press(qtbot, window, Qt.Key.Key_1)  # refused without trying again
    assert not exceptions and len(calls) == 1
    assert "read-only" in window.statusBar().currentMessage() and window.session.current == current


def test_export_works_on_a_read_only_project_open_in_the_window(qtbot, make_window, labeled_path, read_only_place, tmp_path):
    import csv

    from aldesk.gui.dialogs.export_dialog import ExportDialog

    before = labeled_path.read_bytes()
    window = make_window(labeled_path)
    dialog = ExportDialog(window.project.path, window)  # what File → Export opens
    dialog.out_edit.setText(str(tmp_path / "out.csv"))
    with qtbot.waitSignal(dialog.finished_export, timeout=60_000):
        dialog.start()
    assert dialog.report.written == 30
    assert sum(row["label"] == "cat" for row in csv.DictReader((tmp_path / "out.csv").open())) == 2
    dialog.close()
    assert labeled_path.read_bytes() == before


def test_damage_outside_the_label_tables_is_found_in_the_background(qtbot, make_window, labeled_path):
    from tests.core.test_project_check import _damage_big_table

    _damage_big_table(labeled_path)  # the embeddings: the quick check at open leaves them out
    window = make_window(labeled_path)
    qtbot.waitUntil(lambda: window.read_only is not None, timeout=10_000)
    assert "damaged" in window.banner.label.text() and "aldesk recover" in window.banner.label.text()
    assert window.controller is None  # the learning worker stopped: nothing more is written
    before = labeled_path.read_bytes()
    _assert_keys_refused(qtbot, window, labeled_path, before, "damaged")
