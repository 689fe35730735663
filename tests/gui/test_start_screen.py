"""Start screen: the last project one key away, missing files greyed and removable, geometry kept."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPalette

from aldesk.gui.start_screen import MISSING_NOTE, StartScreen
from tests.gui.test_main_window import project_path  # noqa: F401 - fixture


@pytest.fixture
def screen(qtbot):
    widget = StartScreen()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _touch(path):
    path.write_bytes(b"")
    return path


def test_the_last_existing_project_is_selected_and_offered(qtbot, screen, tmp_path):
    gone = tmp_path / "gone.aldesk"
    last = _touch(tmp_path / "birds.aldesk")
    older = _touch(tmp_path / "cells.aldesk")
    screen.set_recent([gone, last, older])
    assert screen.current_path() == last
    assert screen.reopen_button.isVisible() and screen.reopen_button.text() == "&Reopen birds"
    with qtbot.waitSignal(screen.open_recent) as opened:
        qtbot.keyClick(screen.recent, Qt.Key.Key_Return)
    assert opened.args == [last]
    with qtbot.waitSignal(screen.open_recent) as opened:
        screen.reopen_button.click()
    assert opened.args == [last]


def test_missing_files_are_greyed_explained_and_removable(qtbot, screen, tmp_path):
    gone = tmp_path / "gone.aldesk"
    screen.set_recent([gone])
    item = screen.recent.item(0)
    assert MISSING_NOTE in item.text()
    assert item.foreground().color() == screen.palette().color(QPalette.ColorRole.PlaceholderText)
    assert item.flags() & Qt.ItemFlag.ItemIsSelectable  # so it can be removed by keyboard
    assert not screen.reopen_button.isVisible()
    opened = []
    screen.open_recent.connect(opened.append)
    qtbot.keyClick(screen.recent, Qt.Key.Key_Return)
    assert opened == [] and "was not found" in screen.note.text()
    with qtbot.waitSignal(screen.remove_recent) as removed:
        qtbot.keyClick(screen.recent, Qt.Key.Key_Delete)
    assert removed.args == [gone]
    with qtbot.waitSignal(screen.remove_recent):
        screen.remove_button.click()


def test_no_recent_projects_shows_a_hint_and_no_reopen(screen):
    screen.set_recent([])
    assert "Open the demo" in screen.recent.item(0).text()
    assert not screen.reopen_button.isVisible() and not screen.remove_button.isEnabled()


def test_the_window_remembers_its_last_project_and_geometry(qtbot, tmp_path, project_path, monkeypatch):  # noqa: F811
    from aldesk.gui.main_window import MainWindow

    from aldesk.gui.learning.controller import LearningController

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(LearningController, "start", lambda self: None)  # no worker job needed
    settings_file = str(tmp_path / "settings.ini")
    first = MainWindow(QSettings(settings_file, QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)  # inside the offscreen screen (800x600)
    first.move(40, 30)
    assert first.open_project(project_path)
    first.close()

    gone = tmp_path / "moved.aldesk"
    settings = QSettings(settings_file, QSettings.Format.IniFormat)
    settings.setValue("recent", [str(gone)] + settings.value("recent"))
    second = MainWindow(settings, backbone="pixels")
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (700, 500)
    screen = second.start_screen
    assert second.stack.currentWidget() is screen
    assert screen.current_path() == project_path and "gui" in screen.reopen_button.text()
    screen.recent.setCurrentRow(0)
    qtbot.keyClick(screen.recent, Qt.Key.Key_Delete)  # the missing one
    assert second.recent_projects() == [project_path], (second.recent_projects(), project_path)
    assert QSettings(settings_file, QSettings.Format.IniFormat).value("recent") in ([str(project_path)], str(project_path))
    qtbot.keyClick(screen.recent, Qt.Key.Key_Return)
    assert second.project is not None and second.project.path == project_path
    second.close()
