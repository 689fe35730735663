"""The window's commands as QActions: the menus from the keymap, and one action per class.

Shortcuts are data (aldesk/gui/keymap.py); this module turns them into actions with window-wide
shortcuts, so a key works wherever the focus is in the window.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from aldesk.core.classes import LabelClass
from aldesk.gui.keymap import DEFAULT_COMMANDS

# The commands that need an open project on the labeling view (the grid has its own keys).
LABELING_COMMANDS = (
    "close_project",
    "skip",
    "unsure",
    "undo",
    "redo",
    "retrain",
    "zoom_in",
    "zoom_out",
    "zoom_fit",
    "zoom_actual",
    "show_curve",
    "export",
    "review_unsure",
    "review_suspects",
    "review_grid",
    "end_review",
)
GRID_COMMANDS = ("close_project", "end_review", "review_grid", "export", "show_curve")


def make_action(window: QMainWindow, text: str, keys: tuple[str, ...], handler: Callable[[], object]) -> QAction:
    """The one place that builds a QAction: text, shortcuts, window-wide context."""
    action = QAction(text, window)
    action.setShortcuts([QKeySequence(k) for k in keys])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(lambda _checked=False: handler())
    return action


class WindowActions:
    def __init__(
        self, window: QMainWindow, keymap: dict[str, tuple[str, ...]], handlers: dict[str, Callable[[], object]]
    ) -> None:
        self.window = window
        self.actions: dict[str, QAction] = {}
        self.class_actions: list[QAction] = []
        menus: dict[str, QMenu] = {}
        for command in DEFAULT_COMMANDS:
            menu = menus.get(command.menu) or window.menuBar().addMenu(f"&{command.menu}")
            menus[command.menu] = menu
            action = make_action(window, command.text, keymap.get(command.name, ()), handlers[command.name])
            menu.addAction(action)
            self.actions[command.name] = action
            if command.name == "redo":
                menu.addSeparator()
                self.class_menu = menu.addMenu("Label &as")
        window.addActions(list(self.actions.values()))

    def set_classes(self, classes: list[LabelClass], label: Callable[[int], object]) -> None:
        """One action per class under Label as, its hotkey window-wide."""
        for action in self.class_actions:
            self.window.removeAction(action)
        self.class_menu.clear()
        self.class_actions = []
        for label_class in classes:
            keys = (label_class.hotkey,) if label_class.hotkey else ()
            action = make_action(self.window, label_class.name, keys, lambda cid=label_class.id: label(cid))
            self.class_menu.addAction(action)
            self.window.addAction(action)
            self.class_actions.append(action)

    def set_labeling_enabled(self, enabled: bool) -> None:
        for name in LABELING_COMMANDS:
            self.actions[name].setEnabled(enabled)
        self.class_menu.setEnabled(enabled)

    def grid_shown(self) -> None:
        """The grid has its own keys for classes and undo; the labeling actions step aside."""
        self.set_labeling_enabled(False)
        for name in GRID_COMMANDS:
            self.actions[name].setEnabled(True)
