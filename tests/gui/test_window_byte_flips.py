"""The window on randomly damaged project files: it opens them (read-only when damaged) or says
in a message box why not, and no exception ever escapes into Qt."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSettings

from aldesk.gui import main_window
from aldesk.gui.main_window import MainWindow
from tests.faults.test_byte_flips import _flip, base  # noqa: F401 (fixture)

SEEDS = range(24)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_damaged_file_opens_read_only_or_is_refused_with_a_message(qtbot, tmp_path, monkeypatch, base, seed):  # noqa: F811
    folder = tmp_path / "w"
    shutil.copytree(base, folder)
    path = folder / "p.aldesk"
    _flip(path, seed)
    messages = []
    monkeypatch.setattr(main_window.QMessageBox, "critical", lambda _parent, _title, text: messages.append(text))
    monkeypatch.setattr(main_window.LearningController, "start", lambda self: None)  # no child process
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    with qtbot.capture_exceptions() as exceptions:
        window = MainWindow(settings, backbone="pixels")
        qtbot.addWidget(window)
        window.show()
        opened = window.open_project(path)
        if opened:
            window.integrity.wait(10)
        qtbot.wait(20)
        window.close()
    assert not exceptions, [str(e[1]) for e in exceptions]
    if not opened:
        assert messages and str(path) in messages[-1]
