"""Help → Keyboard shortcuts: every command and class with its keys, read from the live actions."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget, actions: dict[str, QAction], class_actions: list[QAction]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts — aldesk")
        rows = [(a.text().replace("&", ""), a.shortcuts()) for a in actions.values()]
        rows += [(f"Label as {a.text()}", a.shortcuts()) for a in class_actions]
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Command", "Keys"])
        for row, (text, keys) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(text))
            shown = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys) or "—"
            table.setItem(row, 1, QTableWidgetItem(shown))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        table.verticalHeader().hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.table = table
        self.resize(460, 560)
