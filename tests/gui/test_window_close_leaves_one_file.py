"""Closing the window leaves every label in the .aldesk file itself: a person who copies only
that file (to a colleague, to a backup) has everything, and no -wal/-shm is left beside it."""

from __future__ import annotations

import shutil
import sqlite3

from PySide6.QtCore import Qt

from tests.gui.test_main_window import _press, project_path  # noqa: F401 (fixture)


def test_labels_are_in_the_project_file_alone_after_the_window_closes(qtbot, tmp_path, make_window, project_path):  # noqa: F811
    window = make_window(project_path)
    labeled = []
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_1):
        labeled.append(window.session.current.item_id)
        _press(qtbot, window, key)
    window.close()
    assert sorted(p.name for p in project_path.parent.iterdir() if p.name.startswith(project_path.name)) == [project_path.name]
    copy = tmp_path / "copied" / project_path.name
    copy.parent.mkdir()
    shutil.copy(project_path, copy)  # only the .aldesk file
    conn = sqlite3.connect(copy)
    got = {r[0] for r in conn.execute("SELECT id FROM items WHERE status = 'labeled'")}
    conn.close()
    assert got == set(labeled)
