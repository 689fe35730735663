"""The start screen: recent projects, New project, Open, Demo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget,
)


class StartScreen(QWidget):
    open_recent = Signal(Path)
    new_requested = Signal()
    open_requested = Signal()
    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h1>aldesk</h1><p>Label images with one key press while a model "
                       "learns which ones to ask about next.</p>", self)
        title.setWordWrap(True)
        self.recent = QListWidget(self)
        self.recent.setAccessibleName("Recent projects")
        self.recent.itemActivated.connect(
            lambda item: self.open_recent.emit(Path(item.data(Qt.ItemDataRole.UserRole)))
        )
        buttons = QHBoxLayout()
        for text, signal in (
            ("&New project…", self.new_requested),
            ("&Open project…", self.open_requested),
            ("Open the &demo", self.demo_requested),
        ):
            button = QPushButton(text, self)
            button.clicked.connect(signal)
            buttons.addWidget(button)
        buttons.addStretch(1)

        column = QVBoxLayout()
        column.addWidget(title)
        column.addLayout(buttons)
        column.addSpacing(12)
        column.addWidget(QLabel("Recent projects (Enter opens):", self))
        column.addWidget(self.recent, 1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 4)
        outer.addStretch(1)

    def set_recent(self, paths: list[Path]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{path.stem}    —    {path.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            if not path.exists():
                item.setText(item.text() + "   (missing)")
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.recent.addItem(item)
        if not paths:
            hint = QListWidgetItem("No recent projects yet. Open the demo to try aldesk on 3,000 "
                                   "Fashion-MNIST images.")
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(hint)
        if paths:
            self.recent.setCurrentRow(0)
        self.recent.setFocus()
