"""The ``ItemKind`` protocol and the registry of kinds (see the package's docstring)."""

from __future__ import annotations

import os
from typing import Any, Protocol

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project

DEFAULT_KIND = "image"
KIND_KEY = "item_kind"  # the project's meta key


class ItemKind(Protocol):
    name: str  # stored in projects: never renamed
    noun: str  # for messages: "image", "text"

    def takes(self, path: str | os.PathLike[str]) -> bool:
        """Whether an import of a folder takes this file (by its name alone: it runs per file)."""
        ...

    def examine(self, path: str | os.PathLike[str]) -> Any:
        """Check one file can be read as an item of this kind and say what the store records
        about it; raises the kind's error (an AldeskError naming the file and the reason)."""
        ...

    def load(self, path: str | os.PathLike[str], max_side: int | None = None) -> Any:
        """One item as an encoder reads it (for images a PIL image of at most ``max_side``)."""
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
