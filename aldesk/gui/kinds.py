"""Which parts of the window show each kind of item: the seam of the window's side.

aldesk/core/kinds says what a project's items are ("image", "text"); this module says, for that
name, how the window shows one. An ``ItemDisplay`` has two halves, each owned by the view it
serves so that neither view imports this module (it is above both):

- ``screen`` (aldesk/gui/labeling/screens.py): the labeling screen's view, how the item on
  screen and the next ones load, how a Next/Recent strip tile draws one, what zoom means.
- ``tiles`` (aldesk/gui/review/tiles.py): how a review-grid tile draws one and what shows it
  large.

The window asks ``display_of(project)`` once per project and hands the halves to the labeling
view, the presenter and the grid. A new kind is one more entry in ``display_for``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings

from aldesk.core.errors import AldeskError
from aldesk.core.kinds import kind_of
from aldesk.core.store import Project
from aldesk.gui.labeling.screens import ImageScreen, ItemScreen, TextScreen
from aldesk.gui.review.tiles import GridTiles, ImageTiles, TextTiles


@dataclass(frozen=True)
class ItemDisplay:
    name: str
    screen: ItemScreen
    tiles: GridTiles


def display_for(kind: str, settings: QSettings | None = None) -> ItemDisplay:
    """How the window shows items of ``kind``; ``settings`` keep what the person chose (the text size)."""
    if kind == "image":
        return ItemDisplay(kind, ImageScreen(), ImageTiles())
    if kind == "text":
        screen = TextScreen(settings)
        # One text size for the labeling screen and the grid's large view.
        return ItemDisplay(kind, screen, TextTiles(screen.text_size))
    raise AldeskError(f"This aldesk's window cannot show items of kind {kind!r}; the command line still works on the project.")


def display_of(project: Project, settings: QSettings | None = None) -> ItemDisplay:
    return display_for(kind_of(project).name, settings)
