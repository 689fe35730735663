"""The dialogs the window's menus open: open, new, demo, export, shortcuts.

Each takes the main window (``window``), asks what it needs and hands the answer back to it
(``window.open_project``), so the window keeps one-line commands for its menus.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from aldesk.core.errors import AldeskError
from aldesk.gui.keymap import current_keymap


def choose_project(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Open project", str(Path.home()), "aldesk projects (*.aldesk)")
    if path:
        window.open_project(Path(path))


def open_demo(window) -> None:
    from aldesk.core.demo import build_demo

    window.statusBar().showMessage("Building the demo project…")
    try:
        path = build_demo()
    except AldeskError as exc:
        QMessageBox.critical(window, "aldesk", str(exc))
        return
    window.open_project(path)


def new_project(window) -> None:
    from aldesk.gui.dialogs.new_project_dialog import NewProjectDialog

    dialog = NewProjectDialog(window)
    dialog.created.connect(window.open_project)
    dialog.exec()


def export_project(window) -> None:
    from aldesk.gui.dialogs.export_dialog import run_export_dialog

    if window.project is not None:
        run_export_dialog(window, window.project.path, window.display.name if window.display else "image")


def show_shortcuts(window) -> None:
    from aldesk.gui.dialogs.shortcuts_dialog import ShortcutsDialog

    class_keys = {c.hotkey: c.name for c in window.classes if c.hotkey} if window.project else {}
    view = window.labeling.item_view if window.project else None
    reading = view.reading_keys() if hasattr(view, "reading_keys") else {}  # a text project's scrolling keys
    dialog = ShortcutsDialog(window, current_keymap(window.actions), class_keys, reading_keys=reading)
    dialog.keymap_changed.connect(window.apply_keymap)
    dialog.exec()
