"""The start screen: reopen the last project, recent projects, New project, Open, Demo.

`aldesk` without a project shows this screen rather than reopening the last project by itself:
opening takes the project's write lock and starts embedding, and the file may be on a drive that
is not mounted or open in another aldesk. Here the last project is one key away (Enter, or the
"Reopen" button), and nothing can fail before the person has chosen.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QFont, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

MISSING_NOTE = "not found — moved, renamed or on a drive that is not connected"


class StartScreen(QWidget):
    open_recent = Signal(Path)
    remove_recent = Signal(Path)  # take it off the recent list (the file is left alone)
    new_requested = Signal()
    open_requested = Signal()
    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel(
            "<h1>aldesk</h1><p>Label images or texts with one key press while a model learns which ones to ask about next.</p>",
            self,
        )
        title.setWordWrap(True)
        self.reopen_button = QPushButton(self)
        self.reopen_button.setDefault(True)
        font = QFont(self.reopen_button.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.reopen_button.setFont(font)
        self.reopen_button.setMinimumHeight(self.reopen_button.fontMetrics().height() * 2)
        self.reopen_button.clicked.connect(self._reopen_last)

        self.recent = QListWidget(self)
        self.recent.setAccessibleName("Recent projects")
        self.recent.itemActivated.connect(self._activated)
        self.recent.currentItemChanged.connect(lambda *_: self._update_buttons())
        # Delete is handled as a key press of the list (eventFilter), not as a shortcut: it
        # must work whenever the list has the focus, whichever window Qt thinks is active.
        self.recent.installEventFilter(self)
        remove = QAction("Remove from the list (Delete)", self.recent)
        remove.triggered.connect(self.remove_current)
        self.recent.addAction(remove)
        self.recent.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.remove_button = QPushButton("Re&move from list", self)
        self.remove_button.setToolTip("Take the selected project off this list (Delete); the file stays")
        self.remove_button.clicked.connect(self.remove_current)
        self.note = QLabel(self)
        self.note.setWordWrap(True)

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
        recent_header = QHBoxLayout()
        recent_header.addWidget(QLabel("Recent projects (Enter opens, Delete removes from the list):", self), 1)
        recent_header.addWidget(self.remove_button)

        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(self.reopen_button)
        column.addSpacing(6)
        column.addLayout(buttons)
        column.addSpacing(12)
        column.addLayout(recent_header)
        column.addWidget(self.recent, 1)
        column.addWidget(self.note)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 4)
        outer.addStretch(1)
        self._paths: list[Path] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.recent and event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Delete:
            self.remove_current()
            return True
        return super().eventFilter(watched, event)

    def set_recent(self, paths: list[Path]) -> None:
        """Most recent first; the first one that exists is offered for reopening and selected."""
        self._paths = list(paths)
        self.recent.clear()
        self.note.clear()
        for path in paths:
            item = QListWidgetItem(f"{path.stem}    —    {path.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            if not path.exists():
                item.setText(f"{item.text()}    ({MISSING_NOTE})")
                item.setToolTip(f"{path} was not found. Delete removes it from this list.")
            else:
                item.setToolTip(str(path))
            self.recent.addItem(item)
        self._grey_missing()
        if not paths:
            hint = QListWidgetItem("No recent projects yet. Open the demo to try aldesk on 3,000 Fashion-MNIST images.")
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(hint)
        last = self.last_project()
        self.recent.setCurrentRow(paths.index(last) if last else 0 if paths else -1)
        self._update_buttons()
        self.recent.setFocus()

    def _grey_missing(self) -> None:
        # The theme's own colour for secondary text: readable in light and dark, and redone
        # when the system switches between them (changeEvent).
        grey = self.palette().brush(QPalette.ColorGroup.Active, QPalette.ColorRole.PlaceholderText)
        for row in range(self.recent.count()):
            item = self.recent.item(row)
            value = item.data(Qt.ItemDataRole.UserRole)
            if value and not Path(value).exists():
                item.setForeground(grey)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.PaletteChange:
            self._grey_missing()
        super().changeEvent(event)

    def last_project(self) -> Path | None:
        """The most recent project whose file is still there."""
        return next((p for p in self._paths if p.exists()), None)

    def _reopen_last(self) -> None:
        last = self.last_project()
        if last is not None:
            self.open_recent.emit(last)

    def _activated(self, item: QListWidgetItem) -> None:
        path = Path(item.data(Qt.ItemDataRole.UserRole) or "")
        if not item.data(Qt.ItemDataRole.UserRole):
            return
        if path.exists():
            self.open_recent.emit(path)
        else:
            self.note.setText(
                f"{path} was not found. If it was moved, open it with Open project…; Delete removes it from this list."
            )

    def current_path(self) -> Path | None:
        item = self.recent.currentItem()
        value = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return Path(value) if value else None

    def remove_current(self) -> None:
        path = self.current_path()
        if path is not None:
            row = self.recent.currentRow()
            self.remove_recent.emit(path)  # the window updates the list, which calls set_recent
            self.recent.setCurrentRow(min(row, self.recent.count() - 1))

    def _update_buttons(self) -> None:
        last = self.last_project()
        self.reopen_button.setVisible(last is not None)
        if last is not None:
            self.reopen_button.setText(f"&Reopen {last.stem.replace('&', '&&')}")
            self.reopen_button.setToolTip(f"{last} (Enter)")
        self.remove_button.setEnabled(self.current_path() is not None)
