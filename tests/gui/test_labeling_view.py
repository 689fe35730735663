"""LabelingView's strips and class buttons: cheap to update on every key press, and correct."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from aldesk.core.classes import LabelClass
from aldesk.gui.labeling_view import LabelingView


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
