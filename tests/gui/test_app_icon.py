"""The window icon: every shipped PNG size in one QIcon; a missing folder is logged, not fatal."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSize

from aldesk.core.resources import resources_dir
from aldesk.gui.app_icon import app_icon, icon_files


def test_the_icon_holds_every_shipped_size(qapp):
    files = icon_files()
    sizes = [int(p.parent.parent.name.split("x")[0]) for p in files]
    assert sizes == sorted(sizes) and sizes[0] == 16 and sizes[-1] == 512
    icon = app_icon()
    assert not icon.isNull()
    available = {(s.width(), s.height()) for s in icon.availableSizes()}
    assert {(n, n) for n in sizes} <= available
    assert icon.pixmap(QSize(48, 48)).width() == 48


def test_a_missing_icon_folder_gives_an_empty_icon_and_a_log_line(qapp, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="aldesk"):
        icon = app_icon(tmp_path)
    assert icon.isNull()
    assert str(tmp_path / "icons") in caplog.text
    assert icon_files(resources_dir()) and not icon_files(tmp_path)
