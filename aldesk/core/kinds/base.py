"""The ``ItemKind`` protocol, what an import passes through it, and the registry of kinds."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project

DEFAULT_KIND = "image"
KIND_KEY = "item_kind"  # the project's meta key


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` as printable text: bytes that are not UTF-8 appear as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class ImportOptions:
    labels_from_folders: bool = False
    text_column: str | None = None  # tables of texts: the column holding the text ("text")
    label_column: str | None = None  # ... and the one holding a label ("label"), when present


@dataclass(frozen=True)
class Candidate:
    """One item to import: a file, or one row of a table (``row`` its line, ``text`` its text),
    and, when known, the label that comes with it."""

    path: Path
    label: str | None = None
    row: int | None = None
    text: str | None = None

    @property
    def where(self) -> str:
        """How reports name it: the file, or the file and the line."""
        return shown(self.path) if self.row is None else f"{shown(self.path)} line {self.row}"


@dataclass(frozen=True)
class Skipped:
    """Something a list or table named that is not an item: reported, never imported."""

    where: str
    reason: str


@dataclass(frozen=True)
class Note:
    """Something an import did that the person should know (a fallback encoding, a cut)."""

    where: str
    note: str


@dataclass(frozen=True)
class Examined:
    """What the store records about a usable item. ``digest`` identifies its content, so
    duplicates fold; ``width``/``height`` are pixels for images, characters/lines for texts."""

    digest: str
    size: int  # bytes
    width: int
    height: int
    text: str | None = None  # kept in the project (item_texts) for kinds whose items are texts
    note: str | None = None


Source = Callable[[], Any]  # one item as an encoder reads it


class ItemKind(Protocol):
    name: str  # stored in projects: never renamed
    noun: str  # for messages: "image", "text"
    needs_files: bool  # whether items are read from their files after the import (texts live in the project)

    def takes(self, path: str | os.PathLike[str]) -> bool:
        """Whether an import of a folder takes this file (by its name alone: it runs per file)."""
        ...

    def lists(self, path: Path) -> bool:
        """Whether the file given is a list or table of items rather than one item (by name)."""
        ...

    def listed(self, path: Path, options: ImportOptions) -> Iterator[Candidate | Skipped | Note]:
        """The items a list or table names, and what it names that cannot be imported."""
        ...

    def examine(self, candidate: Candidate) -> Examined:
        """Check one candidate can be used as an item of this kind; raises ItemError (naming
        the file and the reason) otherwise. Runs in worker threads."""
        ...

    def sources(self, project: Project, items: Sequence[tuple[int, Path]], short_side: int | None = None) -> list[Source]:
        """For each (item id, resolved path): a callable giving the item as an encoder reads it
        (images: an RGB picture whose shorter side is at most ``short_side``; texts: the text). Called on the
        project's thread; the callables may run in worker threads."""
        ...


_KINDS: dict[str, ItemKind] = {}


def register(kind: ItemKind) -> ItemKind:
    _KINDS[kind.name] = kind
    return kind


def kind_names() -> list[str]:
    return sorted(_KINDS)


def get_kind(name: str) -> ItemKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise AldeskError(
            f"Items of kind {name!r} are not known to this version of aldesk (it knows: "
            f"{', '.join(sorted(_KINDS))}); open the project with the aldesk that made it."
        ) from None


def kind_of(project: Project) -> ItemKind:
    """The kind of items ``project`` holds."""
    return get_kind(project.meta(KIND_KEY) or DEFAULT_KIND)


def set_kind(project: Project, name: str) -> None:
    """Make a new, empty ``project`` hold items of kind ``name`` (one kind per project)."""
    kind = get_kind(name)
    current = project.meta(KIND_KEY) or DEFAULT_KIND
    if current == kind.name:
        if name != DEFAULT_KIND:
            project.set_meta(KIND_KEY, kind.name)
        return
    if project.conn.execute("SELECT 1 FROM items LIMIT 1").fetchone() is not None:
        raise AldeskError(
            f"{project.path} already holds {get_kind(current).noun}s; a project holds one kind of item. "
            f"Make a new project for {kind.noun}s."
        )
    project.set_meta(KIND_KEY, kind.name)
