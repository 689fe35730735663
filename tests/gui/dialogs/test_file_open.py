"""A project handed over as an open-file event (how macOS opens a double-clicked document)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from aldesk.core.classes import add_classes
from aldesk.core.store import create_project
from aldesk.gui.dialogs.file_open import FileOpenHandler
from aldesk.gui.main_window import MainWindow


def _new_project(path):
    with create_project(path) as project:
        add_classes(project, ["a", "b"])
    return path


def test_open_file_events_open_the_project_and_ignore_the_one_already_open(qtbot, tmp_path, monkeypatch):
    first, second = _new_project(tmp_path / "one.aldesk"), _new_project(tmp_path / "two.aldesk")
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(win)
    handler = FileOpenHandler(win)
    app = QApplication.instance()
    app.installEventFilter(handler)
    try:
        win.show()
        QApplication.sendEvent(app, QFileOpenEvent(str(first)))
        assert win.project is not None and win.project.path == first
        opened = []
        monkeypatch.setattr(win, "open_project", lambda p, real=win.open_project: opened.append(p) or real(p))
        QApplication.sendEvent(app, QFileOpenEvent(str(first)))  # already open: left as it is
        assert opened == [] and win.project.path == first
        QApplication.sendEvent(app, QFileOpenEvent(str(second)))
        assert opened == [second] and win.project.path == second
    finally:
        app.removeEventFilter(handler)
        win.close()


def test_other_events_pass_through(qtbot, tmp_path):
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(win)
    from PySide6.QtCore import QEvent

    assert FileOpenHandler(win).eventFilter(win, QEvent(QEvent.Type.Show)) is False
    win.close()
