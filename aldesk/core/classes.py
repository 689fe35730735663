"""Label classes: names, one-key hotkeys, order and colours."""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project

# Keys the labeling view uses for commands; a class may not take them.
RESERVED_HOTKEYS = {"u": "marks an item unsure"}
# Default hotkeys in class order: 1-9, 0, then letters (skipping reserved ones).
DEFAULT_HOTKEYS = tuple("1234567890") + tuple(
    c for c in string.ascii_lowercase if c not in RESERVED_HOTKEYS
)
# Tableau 10: distinct, colour-blind-friendly, readable on light and dark backgrounds.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class LabelClass:
    id: int
    name: str
    hotkey: str | None
    position: int
    colour: str


def list_classes(project: Project) -> list[LabelClass]:
    rows = project.conn.execute(
        "SELECT id, name, hotkey, position, colour FROM classes ORDER BY position, id"
    ).fetchall()
    return [LabelClass(*row) for row in rows]


def find_class(project: Project, name: str) -> LabelClass | None:
    row = project.conn.execute(
        "SELECT id, name, hotkey, position, colour FROM classes WHERE name = ?", (name,)
    ).fetchone()
    return LabelClass(*row) if row else None


def add_classes(
    project: Project, names: list[str], hotkeys: list[str] | None = None
) -> list[LabelClass]:
    """Add classes in order; hotkeys are given one per name or chosen from the defaults."""
    names = [clean_class_name(name) for name in names]
    if hotkeys is not None and len(hotkeys) != len(names):
        raise AldeskError(
            f"{len(names)} classes but {len(hotkeys)} hotkeys: give one hotkey per class, in order."
        )
    existing = list_classes(project)
    taken_names = {c.name.casefold(): c.name for c in existing}
    taken_keys = {c.hotkey for c in existing if c.hotkey}
    for name in names:
        if name.casefold() in taken_names:
            raise AldeskError(f"Class {name!r} already exists (as {taken_names[name.casefold()]!r}).")
        taken_names[name.casefold()] = name
    chosen: list[str | None] = []
    for index, name in enumerate(names):
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
    with project.transaction() as conn:
        for offset, (name, key) in enumerate(zip(names, chosen)):
            conn.execute(
                "INSERT INTO classes(name, hotkey, position, colour) VALUES (?, ?, ?, ?)",
                (name, key, position + offset, PALETTE[(position + offset) % len(PALETTE)]),
            )
    return list_classes(project)[len(existing):]


def ensure_classes(project: Project, names: list[str]) -> dict[str, int]:
    """Class ids by name, creating (with default hotkeys) any class not yet in the project."""
    cleaned = {name: clean_class_name(name) for name in names}
    known = {c.name: c.id for c in list_classes(project)}
    missing = sorted({c for c in cleaned.values() if c not in known})
    if missing:
        add_classes(project, missing)
        known = {c.name: c.id for c in list_classes(project)}
    return {name: known[clean] for name, clean in cleaned.items()}


def clean_class_name(name: str) -> str:
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise AldeskError("A class name cannot be empty.")
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise AldeskError(f"Class name {cleaned!r} contains control characters.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise AldeskError(f"Class name {cleaned[:40]!r}... is longer than {MAX_NAME_LENGTH} characters.")
    return cleaned


def clean_hotkey(key: str) -> str:
    cleaned = key.strip().lower()
    if len(cleaned) != 1 or cleaned not in string.digits + string.ascii_lowercase:
        raise AldeskError(f"Hotkey {key!r} is not a single letter or digit.")
    if cleaned in RESERVED_HOTKEYS:
        raise AldeskError(
            f"Hotkey {cleaned!r} is reserved ({RESERVED_HOTKEYS[cleaned]}); choose another."
        )
    return cleaned


def split_list(text: str) -> list[str]:
    """Split a comma-separated command-line list, dropping empty entries."""
    return [part.strip() for part in text.split(",") if part.strip()]
