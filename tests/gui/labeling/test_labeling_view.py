"""LabelingView's strips and class buttons: cheap to update on every key press, and correct."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from aldesk.core.classes import LabelClass
from aldesk.gui.labeling.labeling_view import THUMB, LabelingView, ThumbnailStrip


def tile(colour: QColor) -> QImage:
    image = QImage(96, 72, QImage.Format.Format_RGB32)
    image.fill(colour)
    return image


def test_strip_rows_are_updated_in_place(qtbot):
    view = LabelingView()
    qtbot.addWidget(view)
    strip = view.next_strip
    red, blue = tile(QColor("red")), tile(QColor("blue"))
    strip.show_items([(1, red, "a"), (2, None, "b"), (3, blue, "c")])
    first = strip.item(0)
    assert [strip.item(r).data(Qt.ItemDataRole.UserRole) for r in range(strip.count())] == [1, 2, 3]
    strip.show_items([(1, red, "a"), (4, blue, "d")])
    assert strip.count() == 2
    assert strip.item(0) is first  # the same row object, not a rebuilt list
    assert strip.item(1).data(Qt.ItemDataRole.UserRole) == 4 and strip.item(1).text() == "d"
    assert not strip.item(1).icon().isNull()
    strip.show_items([(5, None, "e")])
    assert strip.item(0).data(Qt.ItemDataRole.UserRole) == 5 and strip.item(0).icon().isNull()


def test_class_buttons_show_key_name_and_count(qtbot):
    view = LabelingView()
    qtbot.addWidget(view)
    view.set_classes([LabelClass(1, "cat", "1", 0, "#ff0000"), LabelClass(2, "dog", "2", 1, "#00ff00")])
    view.set_counts({1: 3})
    texts = [view.buttons_row.itemAt(i).widget().text() for i in range(view.buttons_row.count())]
    assert texts == ["1   cat   (3)", "2   dog   (0)"]
    view.set_counts({1: 4, 2: 1})
    texts = [view.buttons_row.itemAt(i).widget().text() for i in range(view.buttons_row.count())]
    assert texts == ["1   cat   (4)", "2   dog   (1)"]


def test_strip_tiles_keep_their_size_and_place_when_icons_arrive_late(qtbot):
    strip = ThumbnailStrip("Next")
    qtbot.addWidget(strip)
    strip.resize(700, strip.height())
    strip.show()
    strip.show_items([(i, None, "") for i in range(1, 6)])  # rows before their thumbnails
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(0x336699)
    strip.show_items([(i, image, "") for i in range(1, 6)])
    rects = [strip.visualItemRect(strip.item(row)) for row in range(5)]
    assert all(r.width() >= THUMB and r.height() >= THUMB * 30 // 40 for r in rects)
    assert all(a.right() < b.left() for a, b in zip(rects, rects[1:]))  # side by side, no overlap


def test_a_long_item_name_is_cut_in_the_middle_and_never_widens_the_view(qtbot):
    view = LabelingView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    qtbot.waitExposed(view)
    name = "scan_" + "x" * 400 + "_slide_0042.tif"
    view.show_item(name, None, "no picture")
    qtbot.wait(50)
    assert view.width() == 700 and view.minimumSizeHint().width() < 700
    shown = view.title.text()
    assert view.title.full_text() == name and shown != name
    assert shown.startswith("scan_") and shown.endswith("0042.tif") and "…" in shown
    view.show_item("short.png", None, "no picture")
    assert view.title.text() == "short.png"
