"""How the command line names an item in one line: an image by its file, a text by its start."""

from __future__ import annotations

from collections.abc import Sequence

from aldesk.core.items import stored_paths, texts_of
from aldesk.core.kinds import kind_of
from aldesk.core.store import Project


def one_line(text: str, width: int = 60) -> str:
    """``text`` on one line, cut at a word to at most ``width`` characters (with an ellipsis)."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = flat[: width - 1].rsplit(" ", 1)[0] if " " in flat[: width - 1] else flat[: width - 1]
    return cut + "…"


def captions(project: Project, item_ids: Sequence[int], width: int = 60) -> dict[int, str]:
    """Per item: its resolved path (images), or the start of its text in quotes (texts)."""
    if kind_of(project).needs_files:
        return {i: str(project.resolve(path)) for i, (path, _sha) in stored_paths(project, item_ids).items()}
    return {i: f'"{one_line(text, width)}"' for i, text in texts_of(project, item_ids).items()}


def texts_for_output(project: Project, item_ids: Sequence[int]) -> dict[int, str]:
    """The texts of these items for JSON output ({} for image projects, whose rows carry paths)."""
    return {} if kind_of(project).needs_files else texts_of(project, item_ids)
