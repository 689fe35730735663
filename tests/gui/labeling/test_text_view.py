"""TextView on its own, and a project of texts labeled in the real main window (offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QMainWindow

from aldesk.core import items
from aldesk.core.store import open_project
from aldesk.gui.labeling.text_view import DEFAULT_POINTS, SETTINGS_KEY, TextSize, TextView
from tests.gui.text_projects import LONG_REPORT, TICKETS, text_project


@pytest.fixture
def shown(qtbot):
    """A TextView in a window of its own (its scrolling keys are window shortcuts)."""
    window = QMainWindow()
    view = TextView(window)
    window.setCentralWidget(view)
    window.resize(900, 500)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    return window, view


def test_it_shows_the_text_read_only_at_a_reading_size_and_never_takes_the_focus(shown):
    _window, view = shown
    view.show_content("Hello\n\nSecond paragraph.")
    assert view.text == "Hello\n\nSecond paragraph." and view.message == ""
    assert view.reader.isReadOnly()
    assert view.point_size() == pytest.approx(DEFAULT_POINTS)
    assert view.focusPolicy() == view.reader.focusPolicy() == Qt.FocusPolicy.NoFocus
    block = view.reader.document().firstBlock().blockFormat()
    assert block.lineHeight() == 140  # proportional line height
    view.show_content(None, "Nothing left to label.")
    assert view.text == "" and view.message == "Nothing left to label."


def test_the_reading_column_is_about_75_characters_wide_and_centred(shown):
    window, view = shown
    window.resize(1600, 600)
    view.show_content(TICKETS[0])
    left = view.reader.mapTo(view, QPoint(0, 0)).x()
    width_in_chars = view.reader.width() / view.reader.fontMetrics().averageCharWidth()
    assert 65 < width_in_chars < 95
    right = view.width() - (left + view.reader.width())
    assert abs(left - right) <= 4  # centred


def test_a_long_text_scrolls_with_page_down_and_home_goes_back(qtbot, shown):
    window, view = shown
    view.show_content(LONG_REPORT)
    bar = view.scroll_bar
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5_000)
    assert bar.value() == 0
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert bar.value() > 0
    down = bar.value()
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert bar.value() > down
    qtbot.keyClick(window, Qt.Key.Key_End)
    assert bar.value() == bar.maximum()
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert bar.value() == 0
    view.show_content(TICKETS[1])  # the next text starts at its top
    view.show_content(LONG_REPORT)
    assert bar.value() == 0


def test_a_scrolling_key_that_a_command_took_is_left_to_the_command(qtbot, shown):
    window, view = shown
    view.show_content(LONG_REPORT)
    qtbot.waitUntil(lambda: view.scroll_bar.maximum() > 0, timeout=5_000)
    view.set_taken_keys({"PgDown"})
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert view.scroll_bar.value() == 0


def test_the_text_size_changes_and_is_remembered_in_the_settings(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    size = TextSize(settings)
    view = TextView(size=size)
    qtbot.addWidget(view)
    view.show_content(TICKETS[0])
    before = view.point_size()
    view.zoom_in()
    assert view.point_size() > before
    assert float(settings.value(SETTINGS_KEY)) == pytest.approx(view.point_size())
    assert TextSize(settings).points == pytest.approx(view.point_size())  # the next session
    view.fit()
    assert view.point_size() == pytest.approx(DEFAULT_POINTS)
    settings.setValue(SETTINGS_KEY, "huge")  # a hand-edited file
    assert TextSize(settings).points == DEFAULT_POINTS


# -- in the window -----------------------------------------------------------------------------


@pytest.fixture
def texts_path(tmp_path):
    return text_project(tmp_path / "tickets.aldesk", [*TICKETS, LONG_REPORT], ["bug", "question", "billing"])


def stored_text(path, item_id):
    with open_project(path, write=False) as project:
        return items.item_text(project, item_id)


def test_a_text_project_is_read_labeled_and_undone_with_the_usual_keys(qtbot, make_window, texts_path):
    window = make_window(texts_path)
    view = window.labeling.item_view
    assert isinstance(view, TextView) and not window.labeling.image_view.isVisible()
    first = window.session.current.item_id
    assert view.text == stored_text(texts_path, first)
    assert window.labeling.title.text().startswith("tickets-texts.csv, line ")
    qtbot.keyClick(window, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: window.counts_label.text().startswith("1 / 7"), timeout=5_000)
    second = window.session.current.item_id
    assert second != first and view.text == stored_text(texts_path, second)
    with open_project(texts_path, write=False) as project:
        assert items.label_of(project, first)[0] == "labeled"
    # The strips show text cards, wider than tall.
    qtbot.waitUntil(lambda: window.labeling.recent_strip.count() == 1, timeout=5_000)
    assert window.labeling.recent_strip.item(0).text() == "bug"
    assert window.labeling.next_strip.iconSize().width() > window.labeling.next_strip.iconSize().height()
    assert not window.labeling.next_strip.item(0).icon().isNull()
    qtbot.keyClick(window, Qt.Key.Key_Backspace)  # undo
    qtbot.waitUntil(lambda: window.session.current.item_id == first, timeout=5_000)
    assert view.text == stored_text(texts_path, first)
    assert "was: bug" in window.labeling.prediction.text()
    with open_project(texts_path, write=False) as project:
        assert items.label_of(project, first)[0] == "unlabeled"


def test_ctrl_plus_enlarges_the_text_and_zoom_says_so_in_the_menu(qtbot, make_window, texts_path):
    window = make_window(texts_path)
    view = window.labeling.item_view
    before = view.point_size()
    qtbot.keyClick(window, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert view.point_size() > before
    qtbot.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert view.point_size() == pytest.approx(before, abs=0.2)
    assert window.actions["zoom_in"].text() == "&Larger text"
    assert float(window.settings.value(SETTINGS_KEY)) == pytest.approx(view.point_size())


def test_the_long_report_scrolls_with_page_down_in_the_window(qtbot, make_window, texts_path):
    window = make_window(texts_path)
    with open_project(texts_path, write=False) as project:
        long_id = next(i for i, t in items.texts_of(project, items.all_ids(project)).items() if t == LONG_REPORT)
    while window.session.current.item_id != long_id:
        qtbot.keyClick(window, Qt.Key.Key_Space)  # skip on to it
    view = window.labeling.item_view
    assert view.text == LONG_REPORT
    bar = view.scroll_bar
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert bar.value() > 0
    qtbot.keyClick(window, Qt.Key.Key_2)  # a label still labels, and the next text starts at its top
    qtbot.waitUntil(lambda: window.session.current is None or window.session.current.item_id != long_id, timeout=5_000)
    assert bar.value() == 0


def test_a_text_whose_table_is_gone_still_shows(qtbot, make_window, texts_path):
    texts_path.with_name("tickets-texts.csv").unlink()  # texts live in the project
    window = make_window(texts_path)
    qtbot.wait(200)
    assert window.labeling.item_view.text == stored_text(texts_path, window.session.current.item_id)
    assert "Cannot show" not in window.labeling.item_view.message


def test_unsure_its_review_and_the_learning_curve_work_on_texts(qtbot, make_window, texts_path):
    window = make_window(texts_path)
    unsure = window.session.current.item_id
    qtbot.keyClick(window, Qt.Key.Key_U)
    qtbot.waitUntil(lambda: window.session.current.item_id != unsure, timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)  # review unsure items
    assert window.session.current.item_id == unsure
    assert window.labeling.item_view.text == stored_text(texts_path, unsure)
    qtbot.keyClick(window, Qt.Key.Key_3)  # settled: billing
    with open_project(texts_path, write=False) as project:
        assert items.label_of(project, unsure)[0] == "labeled"
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.curve_dock is not None and window.curve_dock.isVisible()


def test_an_image_project_after_a_text_project_gets_the_image_view_and_zoom_back(qtbot, make_window, texts_path, tmp_path):
    from aldesk.gui.labeling.image_view import ImageView
    from tests.conftest import image_project

    window = make_window(texts_path)
    images = image_project(tmp_path / "img.aldesk", tmp_path / "imgs", ["cat", "dog"], 4)
    assert window.open_project(images)
    assert isinstance(window.labeling.item_view, ImageView) and window.labeling.item_view is window.labeling.image_view
    assert window.labeling.image_view.isVisibleTo(window) and window.actions["zoom_in"].text() == "Zoom &in"
    qtbot.waitUntil(lambda: window.labeling.image_view.image is not None, timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_Plus)
    assert window.labeling.image_view.zoom_factor > 1.0
    assert window.labeling.next_strip.iconSize().width() == window.labeling.next_strip.iconSize().height()


def test_the_shortcuts_dialog_lists_the_reading_keys_in_effect(qtbot, make_window, texts_path, monkeypatch):
    from aldesk.gui.dialogs import menu_dialogs
    from aldesk.gui.dialogs.shortcuts_dialog import ShortcutsDialog

    window = make_window(texts_path)
    shown: list[ShortcutsDialog] = []
    monkeypatch.setattr(ShortcutsDialog, "exec", lambda self: shown.append(self) or 0)
    window.labeling.item_view.set_taken_keys({"End"})  # a command took End: it no longer scrolls
    menu_dialogs.show_shortcuts(window)
    table = shown[0].table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Scroll the text down a page"].endswith("(reading)")
    assert "Go to the text's start" in rows and "Go to the text's end" not in rows
    assert shown[0].command_at(table.rowCount() - 1) is None  # the reading rows cannot be edited
