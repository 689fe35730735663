"""Label classes: names, one-key hotkeys, order and colours."""

from __future__ import annotations

import sqlite3
import string
import unicodedata
from dataclasses import dataclass

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project, inserted_id

# Keys the labeling view uses for commands; a class may not take them.
RESERVED_HOTKEYS = {"u": "marks an item unsure"}
# Default hotkeys in class order: 1-9, 0, then letters (skipping reserved ones).
DEFAULT_HOTKEYS = tuple("1234567890") + tuple(c for c in string.ascii_lowercase if c not in RESERVED_HOTKEYS)
# Tableau 10: distinct, colour-blind-friendly, readable on light and dark backgrounds.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class LabelClass:
    id: int
    name: str
    hotkey: str | None
    position: int
    colour: str


def list_classes(project: Project) -> list[LabelClass]:
    rows = project.conn.execute("SELECT id, name, hotkey, position, colour FROM classes ORDER BY position, id").fetchall()
    return [LabelClass(*row) for row in rows]


def find_class(project: Project, name: str) -> LabelClass | None:
    row = project.conn.execute("SELECT id, name, hotkey, position, colour FROM classes WHERE name = ?", (name,)).fetchone()
    return LabelClass(*row) if row else None


def add_classes(project: Project, names: list[str], hotkeys: list[str] | None = None) -> list[LabelClass]:
    """Add classes in order; hotkeys are given one per name or chosen from the defaults."""
    rows = plan_classes(project, names, hotkeys)
    with project.transaction() as conn:
        ids = insert_classes(conn, rows)
    return [c for c in list_classes(project) if c.id in ids.values()]


ClassRow = tuple[str, str | None, int, str]  # name, hotkey, position, colour


def plan_classes(project: Project, names: list[str], hotkeys: list[str] | None = None) -> list[ClassRow]:
    """Validate new classes and choose their hotkeys, positions and colours; writes nothing."""
    existing = list_classes(project)
    names = check_new_names(names, [c.name for c in existing])
    if hotkeys is not None and len(hotkeys) != len(names):
        raise AldeskError(f"{len(names)} classes but {len(hotkeys)} hotkeys: give one hotkey per class, in order.")
    taken_keys = {c.hotkey for c in existing if c.hotkey}
    chosen: list[str | None] = []
    for index, name in enumerate(names):
        key: str | None
        if hotkeys is not None:
            key = clean_hotkey(hotkeys[index])
            if key in taken_keys:
                raise AldeskError(f"Hotkey {key!r} for class {name!r} is already used by another class.")
        else:
            key = next((k for k in DEFAULT_HOTKEYS if k not in taken_keys), None)
        if key is not None:
            taken_keys.add(key)
        chosen.append(key)
    position = max((c.position for c in existing), default=-1) + 1
    return [
        (name, key, position + offset, PALETTE[(position + offset) % len(PALETTE)])
        for offset, (name, key) in enumerate(zip(names, chosen))
    ]


def insert_classes(conn: sqlite3.Connection, rows: list[ClassRow]) -> dict[str, int]:
    """Write planned classes inside the caller's transaction; their ids by name."""
    ids = {}
    for row in rows:
        cursor = conn.execute("INSERT INTO classes(name, hotkey, position, colour) VALUES (?, ?, ?, ?)", row)
        ids[row[0]] = inserted_id(cursor)
    return ids


def check_new_names(names: list[str], existing: list[str]) -> list[str]:
    """Cleaned ``names``; refuses a bad name, a repeat, and names that differ only by case
    from each other or from an ``existing`` one (two such classes look alike to a person)."""
    taken = {name.casefold(): name for name in existing}
    given: dict[str, str] = {}
    cleaned = []
    for raw in names:
        name = clean_class_name(raw)
        key = name.casefold()
        if name in taken.values():
            raise AldeskError(f"Class {name!r} already exists.")
        if key in taken:
            raise AldeskError(
                f"Class name {name!r} differs only by case from the existing class {taken[key]!r}; use {taken[key]!r}."
            )
        if key in given:
            if given[key] == name:
                raise AldeskError(f"Class {name!r} is given twice.")
            raise AldeskError(f"Class names {given[key]!r} and {name!r} differ only by case; use one spelling.")
        given[key] = name
        cleaned.append(name)
    return cleaned


def ensure_classes(project: Project, names: list[str]) -> dict[str, int]:
    """Class ids by name, creating (with default hotkeys) any class not yet in the project."""
    cleaned = {name: clean_class_name(name) for name in names}
    known = {c.name: c.id for c in list_classes(project)}
    missing = sorted({c for c in cleaned.values() if c not in known})
    if missing:
        add_classes(project, missing)
        known = {c.name: c.id for c in list_classes(project)}
    return {name: known[clean] for name, clean in cleaned.items()}


# Control characters, line and paragraph separators, and lone surrogates (a file name that is
# not UTF-8): none can be shown on a button or written to a CSV export as one line.
_BAD_CATEGORIES = {"Cc": "a control character", "Zl": "a line break", "Zp": "a line break",
                   "Cs": "bytes that are not UTF-8"}  # fmt: skip


def clean_class_name(name: str) -> str:
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise AldeskError(f"Class name {name!r} is empty or only whitespace.")
    for ch in cleaned:
        what = _BAD_CATEGORIES.get(unicodedata.category(ch))
        if what:
            # repr shows a newline as \n and a lone surrogate as \udcXX: one printable line.
            raise AldeskError(f"Class name {cleaned!r} contains {what} ({ch!r}).")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise AldeskError(f"Class name {cleaned[:40]!r}... is longer than {MAX_NAME_LENGTH} characters.")
    return cleaned


def clean_hotkey(key: str) -> str:
    cleaned = key.strip().lower()
    if len(cleaned) != 1 or cleaned not in string.digits + string.ascii_lowercase:
        raise AldeskError(f"Hotkey {key!r} is not a single letter or digit.")
    if cleaned in RESERVED_HOTKEYS:
        raise AldeskError(f"Hotkey {cleaned!r} is reserved ({RESERVED_HOTKEYS[cleaned]}); choose another.")
    return cleaned


def split_list(text: str) -> list[str]:
    """Split a comma-separated command-line list, dropping empty entries."""
    return [part.strip() for part in text.split(",") if part.strip()]


def split_names(text: str) -> list[str]:
    """Class names from a comma-separated list; an empty entry ("a,,b") is refused, not dropped."""
    if not text.strip():
        return []
    parts = text.split(",")
    for number, part in enumerate(parts, start=1):
        if not part.strip():
            raise AldeskError(f"Class name {part!r} (entry {number} of {text!r}) is empty or only whitespace.")
    return [part.strip() for part in parts]
