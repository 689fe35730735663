"""The keymap editor: click a command, press a key; clashes refused; saved; applied to the window."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence

from aldesk.core.classes import add_classes
from aldesk.core.importer import import_paths
from aldesk.core.store import create_project, open_project
from aldesk.gui.keymap import keymap_path, merge_keymap
from aldesk.gui.dialogs.shortcuts_dialog import ShortcutsDialog
from tests.conftest import distinct_colour, write_image

CLASSES = {"1": "cat", "2": "dog", "c": "cow"}


@pytest.fixture(autouse=True)
def no_learning(monkeypatch):
    """These tests are about keys: the window's worker gets no job (its first job imports torch,
    which under load can outlast the bounded wait when the window closes)."""
    from aldesk.gui.learning.controller import LearningController

    monkeypatch.setattr(LearningController, "start", lambda self: None)


@pytest.fixture
def dialog(qtbot, tmp_path):
    dlg = ShortcutsDialog(None, merge_keymap({}, CLASSES), CLASSES, tmp_path / "keymap.json")
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def _click_row_and_press(qtbot, dlg, name, key, modifier=Qt.KeyboardModifier.NoModifier):
    row = dlg.row_of(name)
    rect = dlg.table.visualItemRect(dlg.table.item(row, 1))
    qtbot.mouseClick(dlg.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.keyClick(dlg.capture, key, modifier)


def _saved(dlg):
    return json.loads(dlg.path.read_text())


def test_click_a_row_press_a_key_saves_and_reports_the_new_keymap(qtbot, dialog):
    with qtbot.waitSignal(dialog.keymap_changed) as signal:
        _click_row_and_press(qtbot, dialog, "skip", Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
    assert signal.args[0]["skip"] == ("Alt+S",)
    assert _saved(dialog) == {"skip": "Alt+S"}
    assert "Alt+S" in dialog.table.item(dialog.row_of("skip"), 1).text()
    assert "is now" in dialog.message.text()


def test_a_key_of_another_command_is_refused_naming_it(qtbot, dialog):
    changed = []
    dialog.keymap_changed.connect(changed.append)
    _click_row_and_press(qtbot, dialog, "skip", Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert 'already used by the command "Quit"' in dialog.message.text()
    assert changed == [] and not dialog.path.exists()
    assert dialog.keymap["skip"] == ("Space",)


def test_a_class_hotkey_is_refused_naming_the_class_and_classes_are_listed(qtbot, dialog):
    _click_row_and_press(qtbot, dialog, "unsure", Qt.Key.Key_C)
    assert 'already used by the class "cow"' in dialog.message.text()
    assert dialog.keymap["unsure"] == ("U",)
    shown = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert {"Label as cat", "Label as dog", "Label as cow"} <= set(shown)
    dialog.table.setCurrentCell(shown.index("Label as cow"), 0)
    assert not dialog.capture.isEnabled() and "cannot be changed here" in dialog.prompt.text()


def test_add_as_extra_key_remove_reset_one_and_reset_all(qtbot, dialog):
    dialog.add_mode.setChecked(True)
    _click_row_and_press(qtbot, dialog, "retrain", Qt.Key.Key_F5)
    assert dialog.keymap["retrain"] == ("Ctrl+R", "F5")
    assert _saved(dialog) == {"retrain": ["Ctrl+R", "F5"]}
    dialog.table.setCurrentCell(dialog.row_of("undo"), 0)
    dialog.remove_button.click()
    assert dialog.keymap["undo"] == () and _saved(dialog)["undo"] == []
    dialog.reset_button.click()
    assert dialog.keymap["undo"] == ("Backspace", "Ctrl+Z") and "undo" not in _saved(dialog)
    dialog.reset_all_button.click()
    assert dialog.keymap == merge_keymap({}, CLASSES) and _saved(dialog) == {}


def test_escape_cancels_and_tab_is_refused(qtbot, dialog):
    _click_row_and_press(qtbot, dialog, "skip", Qt.Key.Key_Escape)
    assert dialog.keymap["skip"] == ("Space",) and "Cancelled" in dialog.message.text()
    assert dialog.isVisible()  # Esc went to the capture, not to the dialog
    assert not dialog.set_key("skip", "Tab")
    assert "moves between controls" in dialog.message.text()


def test_enter_on_a_row_starts_a_capture_without_closing(qtbot, dialog):
    dialog.table.setFocus()
    dialog.table.setCurrentCell(dialog.row_of("redo"), 0)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.capture.hasFocus()
    qtbot.keyClick(dialog.capture, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert dialog.keymap["redo"] == ("Ctrl+Y",)


def test_an_unwritable_keymap_file_is_reported_and_nothing_changes(qtbot, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    dlg = ShortcutsDialog(None, merge_keymap({}, {}), {}, blocker / "keymap.json")  # parent is a file
    qtbot.addWidget(dlg)
    assert not dlg.set_key("skip", "S")
    assert "Not saved" in dlg.message.text() and dlg.keymap["skip"] == ("Space",)


# -- in the real window ----------------------------------------------------------------------


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from aldesk.gui.main_window import MainWindow

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # never the real keymap
    path = tmp_path / "k.aldesk"
    with create_project(path) as project:
        add_classes(project, ["cat", "dog", "cow"], ["1", "2", "c"])  # their own keys: not image_project's
        for i in range(6):
            write_image(tmp_path / "images" / f"{i}.png", distinct_colour(i * 40), size=(20, 20))
        import_paths(project, [tmp_path / "images"])
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(win)
    win.show()
    assert win.open_project(path)
    yield win
    win.close()


def test_a_change_in_the_dialog_applies_to_the_window_at_once(qtbot, window, monkeypatch, tmp_path):
    seen = {}

    def run(dlg):  # stands in for the person using the modal dialog
        seen["classes"] = dict(dlg.class_keys)
        assert dlg.set_key("skip", "S")
        assert not dlg.set_key("unsure", "C")
        return 0

    monkeypatch.setattr(ShortcutsDialog, "exec", run)
    window.show_shortcuts()
    assert seen["classes"] == CLASSES
    assert window.actions["skip"].shortcuts() == [QKeySequence("S")]
    assert keymap_path() == tmp_path / "config" / "aldesk" / "keymap.json"
    assert json.loads(keymap_path().read_text()) == {"skip": "S"}
    shown = window.session.current.item_id
    qtbot.keyClick(window, Qt.Key.Key_S)
    with open_project(window.project.path, write=False) as project:
        status = project.conn.execute("SELECT status FROM items WHERE id = ?", (shown,)).fetchone()[0]
    assert status == "skipped"


def test_a_tenth_class_takes_0_from_fit_in_the_window(qtbot, tmp_path, monkeypatch):
    from aldesk.gui.main_window import MainWindow

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "ten.aldesk"
    with create_project(path) as project:
        add_classes(project, [f"c{i}" for i in range(10)])
        write_image(tmp_path / "images" / "a.png", distinct_colour(1), size=(20, 20))
        import_paths(project, [tmp_path / "images"])
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(win)
    win.show()  # a window that was never shown gets no close event, so its worker would live on
    assert win.open_project(path)
    assert win.actions["zoom_fit"].shortcuts() == [QKeySequence("Ctrl+0")]
    assert win.class_actions[9].shortcuts() == [QKeySequence("0")]
    win.close()


def test_a_user_key_a_class_needs_is_dropped_for_that_project_with_a_banner(qtbot, tmp_path, monkeypatch):
    from aldesk.gui.main_window import MainWindow

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    keymap_path().parent.mkdir(parents=True)
    keymap_path().write_text('{"unsure": "C"}')  # set while another project was open
    path = tmp_path / "cow.aldesk"
    with create_project(path) as project:
        add_classes(project, ["cow"], ["c"])
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(win)
    win.show()
    assert win.actions["unsure"].shortcuts() == [QKeySequence("C")]  # no project: the user's key
    assert win.open_project(path)
    assert win.actions["unsure"].shortcuts() == []
    assert win.class_actions[0].shortcuts() == [QKeySequence("C")]
    assert "'cow'" in win.banner.text and win.banner.log_button.isHidden()
    win.close()
