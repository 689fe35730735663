"""How the window may use a project: opened for writing, or read-only and why, in words.

A read-only medium or a damaged file still opens (browse, export); every writing key is then
refused with one line in the status bar, and the banner says why.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aldesk.core.errors import DamagedProjectError, ReadOnlyProjectError
from aldesk.core.sqlite_errors import project_error
from aldesk.core.store import Project, open_project


def open_for_window(path: Path) -> tuple[Project, ReadOnlyProjectError | None]:
    """Open ``path`` for writing, else read-only with the reason (AldeskError if neither).
    The tables holding labels are checked now, the rest of the file just after, in the background."""
    try:
        return open_project(path, full_check=False), None
    except ReadOnlyProjectError as exc:  # read-only medium or damaged: browse it, write nothing
        return open_project(path, write=False), exc


def reading_failed(project: Project, exc: Exception) -> str | None:
    """What to say when reading a project just opened failed: damage the quick check missed.
    None when it is no such thing: on an intact file it is a bug and must be seen."""
    if not isinstance(exc, sqlite3.DatabaseError) and not project.damage:
        return None
    error = project_error(project.path, exc, what="reading it", reading=True) if isinstance(exc, sqlite3.DatabaseError) else exc
    return (
        f"{error}\n\nIf it says the file is damaged: 'aldesk recover {project.path.name} --out NEW.aldesk'"
        " copies what is readable into a new project."
    )


def read_only_banner(exc: ReadOnlyProjectError, *, now: bool = False) -> str:
    return (
        f"{exc}\n{'Now' if now else 'Opened'} read-only: the labeling keys are refused and the model is not"
        " retrained; browsing labels (Review menu) and export (File menu) work."
    )


def refusal(project: Project, read_only: ReadOnlyProjectError | None, what: str = "Labels") -> str:
    """One line for a key that would write on a read-only project (the banner says more)."""
    if isinstance(read_only, DamagedProjectError) or project.damage:
        why = "it is damaged"
    else:  # the store's phrase, e.g. "it is on a read-only disk or mount (/media/x)"
        why = project.read_only_reason or "writing it failed (see the message above)"
    return f"{what} cannot be changed: this project is read-only because {why}."
