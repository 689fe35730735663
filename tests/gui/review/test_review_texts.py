"""The review grid of a project of texts: cards with the first lines, the whole text on Space."""

from __future__ import annotations

from PySide6.QtCore import Qt

from aldesk.core import items
from aldesk.core.store import open_project
from aldesk.gui.labeling.text_items import card_lines, card_font
from aldesk.gui.labeling.text_view import TextView
from aldesk.gui.review.review_model import ReviewModel
from aldesk.gui.review.tiles import TEXT_CARD
from tests.gui.text_projects import LONG_REPORT, TICKETS, text_project


def test_the_grid_shows_text_cards_and_space_opens_the_whole_text(qtbot, make_window, tmp_path):
    path = text_project(tmp_path / "t.aldesk", [LONG_REPORT, *TICKETS], ["bug", "question"])
    window = make_window(path)
    labeled = []
    for _ in range(3):
        labeled.append(window.session.current.item_id)
        qtbot.keyClick(window, Qt.Key.Key_1)
    qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    grid = window.review_view
    assert grid.isVisible() and sorted(grid.item_ids()) == sorted(labeled)
    assert grid.grid.iconSize() == TEXT_CARD
    first = grid.model.index(0)
    item_id = first.data(ReviewModel.ItemIdRole)
    qtbot.waitUntil(lambda: grid.loader.get(item_id) is not None, timeout=5_000)
    card = first.data(Qt.ItemDataRole.DecorationRole)
    assert card.size() == TEXT_CARD * card.devicePixelRatio()
    assert grid.model.data(first, Qt.ItemDataRole.DisplayRole) == "bug"
    qtbot.keyClick(grid.grid, Qt.Key.Key_Space)
    preview = grid.preview
    assert preview is not None and isinstance(preview.view, TextView)
    with open_project(path, write=False) as project:
        assert preview.view.text == items.item_text(project, item_id)
        assert "line" in preview.windowTitle() and "t-texts.csv" in preview.windowTitle()
    qtbot.waitUntil(preview.isActiveWindow, timeout=5_000)
    qtbot.keyClick(preview, Qt.Key.Key_Space)  # Space closes it again; the grid keeps its selection
    qtbot.waitUntil(lambda: not preview.isVisible(), timeout=5_000)
    assert grid.grid.currentIndex().row() == 0


def test_a_card_holds_the_first_lines_and_ends_in_an_ellipsis(qtbot):
    font = card_font(9)
    lines = card_lines(LONG_REPORT, font, 200, 4)
    assert len(lines) == 4 and lines[0].startswith("Paragraph 1.") and lines[-1].endswith("…")
    assert card_lines("Short.", font, 200, 4) == ["Short."]
    assert card_lines("  ", font, 200, 4) == []
