"""Reading items and their current labels: the small queries the views need, named.

Views (the window, the review grid) ask these instead of writing SQL of their own, so the
schema is known in core alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aldesk.core.store import Project

CHUNK = 500  # ids per query, under SQLite's limit of 999 parameters


def count_items(project: Project) -> int:
    count: int = project.conn.execute("SELECT count(*) FROM items").fetchone()[0]
    return count


def item_path(project: Project, item_id: int) -> Path | None:
    """Where the item's file is (resolved against the project's folder), or None if no such item."""
    row = project.conn.execute("SELECT path FROM items WHERE id = ?", (item_id,)).fetchone()
    return project.resolve(row[0]) if row else None


def stored_paths(project: Project, item_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """For each of these items that exists: (its path as stored, its content's sha256)."""
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(item_ids), CHUNK):
        chunk = list(item_ids[start : start + CHUNK])
        marks = ",".join("?" * len(chunk))
        for item_id, path, sha256 in project.conn.execute(f"SELECT id, path, sha256 FROM items WHERE id IN ({marks})", chunk):
            found[item_id] = (path, sha256)
    return found


def labeled_counts(project: Project) -> dict[int, int]:
    """Labeled items per class id (classes without any are left out). A scan: ~0.1 s at 100,000."""
    return dict(
        project.conn.execute("SELECT label_class_id, count(*) FROM items WHERE status = 'labeled' GROUP BY label_class_id")
    )


def labeled_as(project: Project, class_id: int) -> list[int]:
    """The items whose current label is this class, by id."""
    rows = project.conn.execute("SELECT id FROM items WHERE status = 'labeled' AND label_class_id = ? ORDER BY id", (class_id,))
    return [item_id for (item_id,) in rows]


def label_of(project: Project, item_id: int) -> tuple[str, int | None] | None:
    """The item's current (status, label class id), or None if there is no such item."""
    row = project.conn.execute("SELECT status, label_class_id FROM items WHERE id = ?", (item_id,)).fetchone()
    return (row[0], row[1]) if row else None
