"""Tables of texts: CSV/TSV with a header row, and JSON Lines, read row by row with honest reasons.

The whole file is decoded first (aldesk/core/text_decode.py), so a Latin-1 export reads as well as
a UTF-8 one and the report says which it was. Every row that cannot become an item is named by
its line, with why: a ragged CSV row, a JSON line that does not parse, a row without text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from aldesk.core import text_decode
from aldesk.core.errors import AldeskError
from aldesk.core.kinds.base import Candidate, ImportOptions, Note, Skipped, shown

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".tab": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"
MAX_TABLE_BYTES = 2 * 1024**3  # read whole: beyond this the import would need another design

Row = Candidate | Skipped | Note


def is_table(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES


def read_table(path: Path, options: ImportOptions) -> Iterator[Row]:
    """The texts of the table at ``path``; AldeskError when the file as a whole cannot be read
    (missing, binary, no text column), naming the file and what to do."""
    decoded = _decode(path)
    if decoded.fell_back:
        yield Note(shown(path), f"not UTF-8: read as {text_decode.FALLBACK}")
    if TABLE_SUFFIXES[path.suffix.lower()] == "jsonl":
        yield from _json_lines(path, decoded.text, options)
    else:
        yield from _csv_rows(path, decoded.text, options)


def _decode(path: Path) -> text_decode.Decoded:
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise AldeskError(f"{path} is {size / 1024**3:.1f} GB; split it into tables of at most 2 GB and import those.")
        data = path.read_bytes()
    except OSError as exc:
        raise AldeskError(f"Cannot read the table {path}: {exc.strerror or exc}.") from None
    try:
        return text_decode.decode(data)
    except text_decode.NotText as exc:
        raise AldeskError(f"{path} is not a table of texts: {exc}.") from None


def _csv_rows(path: Path, text: str, options: ImportOptions) -> Iterator[Row]:
    csv.field_size_limit(2**31 - 1)  # a long report in one cell is a real case, not an attack
    lines = io.StringIO(text, newline="")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else _delimiter(first)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise AldeskError(f"{path} is empty; a table of texts needs a header row with a '{TEXT_COLUMN}' column.") from None
    except csv.Error as exc:
        raise AldeskError(f"{path}: its header row cannot be read ({exc}).") from None
    names = [name.strip() for name in header]
    text_at = _column(path, names, options.text_column, TEXT_COLUMN, required=True)
    assert text_at is not None  # required: _column raised otherwise
    label_at = _column(path, names, options.label_column, LABEL_COLUMN, required=options.label_column is not None)
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Skipped(f"{shown(path)} line {line}", f"cannot be read as CSV ({exc}); the rest of the file is not read")
            return
        if not row or not any(cell.strip() for cell in row):
            continue  # blank lines between rows are common and mean nothing
        if len(row) != len(names):
            yield Skipped(
                f"{shown(path)} line {line}",
                f"has {len(row)} fields where the header has {len(names)}: check its quotes and delimiters",
            )
            continue
        yield _row(path, line, row[text_at], row[label_at] if label_at is not None else None)


def _json_lines(path: Path, text: str, options: ImportOptions) -> Iterator[Row]:
    text_key = options.text_column or TEXT_COLUMN
    label_key = options.label_column or LABEL_COLUMN
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"{shown(path)} line {line}"
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield Skipped(where, f"a JSON {type(record).__name__}, not an object with a {text_key!r} key")
            continue
        value = record.get(text_key)
        if not isinstance(value, str):
            found = "no" if value is None else f"a {type(value).__name__} as its"
            yield Skipped(where, f"has {found} {text_key!r} text")
            continue
        label = record.get(label_key)
        if label is not None and not isinstance(label, (str, int, float, bool)):
            yield Skipped(where, f"its {label_key!r} is a JSON {type(label).__name__}, not a class name")
            continue
        yield _row(path, line, value, None if label is None else str(label))


def _row(path: Path, line: int, text: str, label: str | None) -> Candidate | Skipped:
    text = text.strip()
    if not text:
        return Skipped(f"{shown(path)} line {line}", "no text")
    label = label.strip() if label is not None else None
    return Candidate(path, label or None, row=line, text=text)


def _column(path: Path, names: list[str], wanted: str | None, default: str, *, required: bool) -> int | None:
    target = (wanted or default).strip().lower()
    for index, name in enumerate(names):
        if name.lower() == target:
            return index
    if not required:
        return None
    option = "--text-column" if default == TEXT_COLUMN else "--label-column"
    shown_names = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
    raise AldeskError(
        f"{path} has no column {wanted or default!r} (its header: {shown_names}); name the column to read with {option} NAME."
    )


def _delimiter(header: str) -> str:
    """The delimiter a header line uses: the most frequent of , ; tab and | (comma if none)."""
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
