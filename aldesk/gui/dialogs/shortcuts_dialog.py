"""Help → Keyboard shortcuts: every command and class key, and an editor for the command keys.

Click a command (or press Enter on it), then press the new key. A key another command or a class
hotkey already uses is refused with a message naming it. Every accepted change is saved to the
user's keymap file at once and handed to the window (``keymap_changed``) so its actions change
while the dialog is still open. Class hotkeys belong to the project and are only shown here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from aldesk.gui.keymap import (
    DEFAULT_COMMANDS,
    command_title,
    find_conflict,
    keymap_path,
    merge_keymap,
    normalise,
    overrides_for,
    save_keymap,
)

# Keys that cannot be shortcuts here: Esc cancels the capture, Tab moves the focus.
UNUSABLE = {"Esc": "Esc cancels", "Tab": "Tab moves between controls", "Backtab": "Shift+Tab moves between controls"}


def native(keys: tuple[str, ...]) -> str:
    return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys) or "—"


class ShortcutsDialog(QDialog):
    keymap_changed = Signal(dict)  # command name -> tuple of keys; already saved

    def __init__(
        self,
        parent: QWidget | None,
        keymap: dict[str, tuple[str, ...]],
        class_keys: dict[str, str],
        path: Path | None = None,
        *,
        reading_keys: dict[str, str] | None = None,
    ) -> None:
        """``keymap``: the keys in use now; ``class_keys``: hotkey -> class name of the open
        project (empty on the start screen); ``path``: the user's keymap file; ``reading_keys``:
        key -> what it does, the text view's scrolling keys (shown, not editable: a command bound
        to one of them takes it over)."""
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts — aldesk")
        self.keymap = dict(keymap)
        self.class_keys = dict(class_keys)
        self.path = path or keymap_path()
        self._names = [c.name for c in DEFAULT_COMMANDS if c.name in self.keymap]
        self.reading_keys = dict(reading_keys or {})

        self.table = QTableWidget(len(self._names) + len(class_keys) + len(self.reading_keys), 2, self)
        self.table.setHorizontalHeaderLabels(["Command", "Keys"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAccessibleName("Keyboard shortcuts")
        self._fill_class_rows()
        self._fill_reading_rows()
        self._fill_command_rows()
        self.table.resizeColumnsToContents()
        self.table.currentCellChanged.connect(lambda row, *_: self._select(row))
        self.table.cellClicked.connect(lambda row, _col: self._start_capture(row))
        self.table.itemActivated.connect(lambda item: self._start_capture(item.row()))

        self.prompt = QLabel(self)
        self.capture = QKeySequenceEdit(self)
        self.capture.setMaximumSequenceLength(1)
        self.capture.setAccessibleName("New key")
        self.capture.editingFinished.connect(self._captured)
        self.add_mode = QCheckBox("&Add as an extra key (keep the current ones)", self)
        self.remove_button = QPushButton("Re&move keys", self)
        self.remove_button.clicked.connect(self._remove_keys)
        self.reset_button = QPushButton("&Reset", self)
        self.reset_button.setToolTip("Give this command its default keys again")
        self.reset_button.clicked.connect(self._reset_one)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.reset_all_button = buttons.addButton("Reset all to &defaults", QDialogButtonBox.ButtonRole.ResetRole)
        self.reset_all_button.clicked.connect(self.reset_all)
        buttons.rejected.connect(self.reject)
        # No default button: Enter on a row starts a capture instead of pressing one.
        for button in (*buttons.buttons(), self.remove_button, self.reset_button):
            button.setAutoDefault(False)

        editor = QHBoxLayout()
        editor.addWidget(self.capture, 1)
        editor.addWidget(self.remove_button)
        editor.addWidget(self.reset_button)
        hint = QLabel(f"Saved to {self.path}. Class hotkeys are set per project when a class is added (aldesk classes).", self)
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.prompt)
        layout.addLayout(editor)
        layout.addWidget(self.add_mode)
        layout.addWidget(self.message)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(560, 640)
        self.table.setCurrentCell(0, 0)
        self.table.setFocus()

    # -- table ---------------------------------------------------------------------------------

    def _fill_command_rows(self) -> None:
        for row, name in enumerate(self._names):
            title = QTableWidgetItem(command_title(name))
            title.setData(Qt.ItemDataRole.UserRole, name)
            title.setToolTip(f"{name} in keymap.json")
            self.table.setItem(row, 0, title)
            self.table.setItem(row, 1, QTableWidgetItem(native(self.keymap[name])))

    def _fill_class_rows(self) -> None:
        for offset, (key, class_name) in enumerate(self.class_keys.items()):
            texts = (f"Label as {class_name}", f"{native((key,))}   (class hotkey)")
            self._fixed_row(len(self._names) + offset, texts, "Class hotkey of this project; set when the class is added.")

    def _fill_reading_rows(self) -> None:
        first = len(self._names) + len(self.class_keys)
        for offset, (key, words) in enumerate(self.reading_keys.items()):
            tip = "Reading a text; give a command this key and the command takes it over."
            self._fixed_row(first + offset, (words, f"{native((key,))}   (reading)"), tip)

    def _fixed_row(self, row: int, texts: tuple[str, str], tip: str) -> None:
        for column, text in enumerate(texts):
            item = QTableWidgetItem(text)
            # Reachable with the arrow keys but read-only; greyed with the theme's own colour.
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setForeground(self.palette().brush(QPalette.ColorRole.PlaceholderText))
            item.setToolTip(tip)
            self.table.setItem(row, column, item)

    def command_at(self, row: int) -> str | None:
        return self._names[row] if 0 <= row < len(self._names) else None

    def row_of(self, name: str) -> int:
        return self._names.index(name)

    def _select(self, row: int) -> None:
        name = self.command_at(row)
        for widget in (self.capture, self.remove_button, self.reset_button, self.add_mode):
            widget.setEnabled(name is not None)
        if name is None:
            self.prompt.setText("Class hotkeys cannot be changed here.")
            return
        self.prompt.setText(f"Press the new key for “{command_title(name)}” (now: {native(self.keymap[name])}; Esc cancels):")
        keys = self.keymap[name]
        with QSignalBlocker(self.capture):
            self.capture.setKeySequence(QKeySequence(keys[0]) if keys else QKeySequence())

    def _start_capture(self, row: int) -> None:
        if self.command_at(row) is not None:
            self.capture.clear()
            self.capture.setFocus()

    # -- editing -------------------------------------------------------------------------------

    def _captured(self) -> None:
        name = self.command_at(self.table.currentRow())
        key = self.capture.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
        if name is None or not key or (not self.add_mode.isChecked() and self.keymap[name] == (normalise(key),)):
            return  # nothing pressed, or focus left the field showing the command's own key
        self.set_key(name, key, add=self.add_mode.isChecked())
        # Showing the command's key again and leaving the field must not count as a new capture.
        blocker = QSignalBlocker(self.capture)
        self._select(self.table.currentRow())
        self.table.setFocus()
        blocker.unblock()

    def set_key(self, name: str, key: str, *, add: bool = False) -> bool:
        """Give ``name`` the key (replacing its keys, or in addition); False and a message if refused."""
        key = normalise(key)
        if key in UNUSABLE:
            self._say(f"{key} cannot be a shortcut: {UNUSABLE[key]}." if key != "Esc" else "Cancelled.")
            return False
        other = find_conflict(self.keymap, self.class_keys, name, key)
        if other is not None:
            self._say(f"Not changed: {native((key,))} is already used by {other}. Give that one another key first.", error=True)
            return False
        keys = self.keymap[name]
        if add:
            keys = keys if any(normalise(k) == key for k in keys) else keys + (key,)
        else:
            keys = (key,)
        return self._change({name: keys}, f"“{command_title(name)}” is now {native(keys)}.")

    def _remove_keys(self) -> None:
        name = self.command_at(self.table.currentRow())
        if name is not None:
            self._change({name: ()}, f"“{command_title(name)}” has no key now (it stays in its menu).")

    def _reset_one(self) -> None:
        name = self.command_at(self.table.currentRow())
        if name is None:
            return
        keys = merge_keymap({}, self.class_keys)[name]
        other = next((o for k in keys if (o := find_conflict(self.keymap, self.class_keys, name, k))), None)
        if other is not None:
            self._say(f"Not reset: a default key of “{command_title(name)}” is used by {other} now.", error=True)
            return
        self._change({name: keys}, f"“{command_title(name)}” is back to {native(keys)}.")

    def reset_all(self) -> None:
        self._change(merge_keymap({}, self.class_keys), "All shortcuts are back to their defaults.")

    def _change(self, changes: dict[str, tuple[str, ...]], done: str) -> bool:
        keymap = {**self.keymap, **changes}
        try:
            save_keymap(overrides_for(keymap, self.class_keys), self.path)
        except (OSError, ValueError) as exc:  # KeymapError is a ValueError
            self._say(f"Not saved: {exc}", error=True)
            return False
        self.keymap = keymap
        self._fill_command_rows()
        self._say(done)
        self.keymap_changed.emit(dict(self.keymap))
        return True

    def _say(self, text: str, *, error: bool = False) -> None:
        # Bold text and a sign, not a fixed red: it must stay readable in light and dark themes.
        self.message.setText(f"⚠ {text}" if error else text)
        self.message.setStyleSheet("font-weight: 600;" if error else "")
        self.message.setProperty("error", error)
