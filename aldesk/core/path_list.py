"""CSV lists of files: ``path[,label]`` rows, as image imports and label imports read them."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from aldesk.core.errors import AldeskError

# A first row whose first cell is one of these is a header, not a file.
_PATH_HEADERS = {"path", "file", "filename", "image", "filepath"}


def csv_rows(csv_path: Path) -> Iterator[tuple[int, Path, str | None]]:
    """Rows of ``path[,label]`` as (row number, absolute path, label or None).

    A header row (first cell ``path``, ``file``, ``filename``, ...) is optional; relative paths
    resolve against the CSV's folder.
    """
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AldeskError(f"Cannot read the CSV list {csv_path}: {exc}") from exc
    start = 1
    if rows and rows[0] and rows[0][0].strip().lower() in _PATH_HEADERS:
        rows, start = rows[1:], 2
    for number, row in enumerate(rows, start=start):
        if not row or not row[0].strip():
            continue
        target = Path(row[0].strip()).expanduser()
        if not target.is_absolute():
            target = csv_path.parent / target
        label = row[1].strip() if len(row) > 1 and row[1].strip() else None
        yield number, Path(os.path.abspath(target)), label
