"""Repairing item paths after the images were moved to another folder."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project


@dataclass
class RelocateReport:
    moved: int = 0
    found: int = 0  # of the moved items, how many files exist at their new path
    conflicts: list[str] = field(default_factory=list)  # new path already used by another item


def relocate(project: Project, old_root: str | Path, new_root: str | Path) -> RelocateReport:
    """Point every item under ``old_root`` at the same relative place under ``new_root``."""
    old = Path(os.path.abspath(Path(old_root).expanduser()))
    new = Path(os.path.abspath(Path(new_root).expanduser()))
    if old == new:
        raise AldeskError("The old and new folders are the same; nothing to do.")
    report = RelocateReport()
    rows = project.conn.execute("SELECT id, path FROM items").fetchall()
    with project.transaction() as conn:
        for item_id, stored in rows:
            absolute = project.resolve(stored)
            try:
                relative = absolute.relative_to(old)
            except ValueError:
                continue
            target = new / relative
            try:
                conn.execute("UPDATE items SET path = ? WHERE id = ?", (project.stored_path(target), item_id))
            except sqlite3.IntegrityError:
                report.conflicts.append(str(target))
                continue
            report.moved += 1
            report.found += target.is_file()
    return report
