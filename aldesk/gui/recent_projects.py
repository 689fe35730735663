"""The recent-projects list, kept in the app's QSettings (the start screen offers it)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

RECENT_MAX = 10


def recent_projects(settings: QSettings) -> list[Path]:
    value = settings.value("recent", [])
    if isinstance(value, str):
        value = [value]
    return [Path(p) for p in (value or [])]


def remember(settings: QSettings, path: Path) -> None:
    paths = [path] + [p for p in recent_projects(settings) if p != path]
    settings.setValue("recent", [str(p) for p in paths[:RECENT_MAX]])
    settings.setValue("last_project", str(path))
    settings.sync()  # written now: a crash later must not forget the project


def forget(settings: QSettings, path: Path) -> None:
    """Take ``path`` off the list (the file itself is left alone)."""
    settings.setValue("recent", [str(p) for p in recent_projects(settings) if p != Path(path)])
