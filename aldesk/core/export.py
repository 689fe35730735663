"""Exporting labels: one row per item as CSV or JSON (more formats come with later work).

Files are written to a temporary name beside the target and renamed into place, so a full disk
or an interruption never leaves a half-written export under the final name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aldesk.core.classes import list_classes
from aldesk.core.errors import AldeskError
from aldesk.core.store import Project

FORMATS = ("csv", "json")
COLUMNS = ("path", "label", "status", "labeled_at")


def export_rows(project: Project) -> list[dict[str, Any]]:
    """Each item's absolute path, current label (empty if none), status and label time (UTC)."""
    names = {c.id: c.name for c in list_classes(project)}
    rows = []
    for path, status, class_id, labeled_at in project.conn.execute(
        "SELECT path, status, label_class_id, labeled_at FROM items ORDER BY id"
    ):
        rows.append(
            {
                "path": str(project.resolve(path)),
                "label": names.get(class_id, "") if class_id is not None else "",
                "status": status,
                "labeled_at": _iso(labeled_at),
            }
        )
    return rows


def export(project: Project, fmt: str, out: str | Path) -> int:
    """Write the export; returns the number of rows."""
    if fmt not in FORMATS:
        raise AldeskError(f"Unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
    rows = export_rows(project)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    else:
        document = {
            "project": str(project.path),
            "classes": [c.name for c in list_classes(project)],
            "items": rows,
        }
        text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    write_text_atomically(Path(out), text)
    return len(rows)


def write_text_atomically(target: Path, text: str) -> None:
    target = Path(os.path.abspath(target))
    if target.is_dir():
        raise AldeskError(f"{target} is a folder; give a file name to export to.")
    if not target.parent.is_dir():
        raise AldeskError(f"Cannot write {target}: the folder {target.parent} does not exist.")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise AldeskError(f"Cannot write in {target.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise AldeskError(f"Writing {target} failed: {exc.strerror or exc}; nothing was written.") from exc


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
