"""Projects handed over by the desktop as an open-file event.

macOS does not pass a double-clicked document as a command-line argument: Finder sends the
running (or just launched) app a FileOpen event. Linux (aldesk.desktop's %f) and Windows pass an
argument instead, which run_app already opens; there this filter simply never fires.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject


class FileOpenHandler(QObject):
    """Installed on the application: opens the project of each FileOpen event in ``window``."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.FileOpen:
            return False
        path = event.file() or event.url().toLocalFile()
        if not path:
            return False
        current = self.window.project
        if current is None or Path(current.path) != Path(path).resolve():
            self.window.open_project(Path(path))  # a bad file gets the window's own message
        self.window.showNormal() if self.window.isMinimized() else self.window.show()
        self.window.raise_()
        self.window.activateWindow()
        return True
