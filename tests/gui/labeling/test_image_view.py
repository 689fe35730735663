"""ImageView: fitting, zooming, messages and resizing, offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QKeyEvent, QWheelEvent

from aldesk.gui.labeling.image_view import BACKGROUND, ImageView
from aldesk.gui.labeling.prefetch import image_to_qimage


def solid(width: int, height: int, colour: QColor = QColor(200, 30, 40)) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(colour)
    return image


@pytest.fixture
def view(qtbot) -> ImageView:
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(200, 200)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def visible_scene_rect(view: ImageView) -> QRectF:
    return view.mapToScene(view.viewport().rect()).boundingRect()


def test_a_wide_image_is_fitted_to_the_view(view):
    view.set_image(solid(400, 200))

    assert view.viewport().size().width() == 200
    assert view.transform().m11() == pytest.approx(0.5)
    assert view.transform().m22() == pytest.approx(0.5)
    assert view.zoom_factor == 1.0
    visible = visible_scene_rect(view)
    # The whole image is visible, filling the width, centred vertically.
    assert visible.left() <= 0.5 and visible.right() >= 399.5
    assert visible.top() == pytest.approx(-100, abs=2)
    assert visible.bottom() == pytest.approx(300, abs=2)
    assert view.mapFromScene(QPointF(200, 100)) == QPoint(100, 100)


def test_the_fitted_image_is_painted_over_a_dark_background(view):
    view.set_image(solid(400, 200, QColor(250, 250, 250)))
    grabbed = view.grab().toImage()
    assert grabbed.pixelColor(100, 100) == QColor(250, 250, 250)
    assert grabbed.pixelColor(100, 10) == BACKGROUND  # the band above the wide image


def test_zoom_in_out_and_fit(view):
    view.set_image(solid(400, 200))

    view.zoom_in()
    assert view.zoom_factor > 1.0
    assert view.transform().m11() == pytest.approx(0.5 * view.zoom_factor)
    view.zoom_in()
    twice = view.zoom_factor
    view.zoom_out()
    assert 1.0 < view.zoom_factor < twice
    view.zoom_out()
    assert view.zoom_factor == 1.0  # steps in and out return exactly to fitted
    view.zoom_out()
    assert view.zoom_factor < 1.0
    view.zoom_in()
    view.zoom_in()
    view.fit()
    assert view.zoom_factor == 1.0
    assert view.transform().m11() == pytest.approx(0.5)


def test_zooming_keeps_the_view_centre_in_place(view):
    view.set_image(solid(400, 200))
    centre_before = view.mapToScene(view.viewport().rect().center())
    view.zoom_in()
    view.zoom_in()
    centre_after = view.mapToScene(view.viewport().rect().center())
    assert (centre_after - centre_before).manhattanLength() < 4


def test_the_wheel_zooms_around_the_cursor(view):
    view.set_image(solid(400, 400))
    cursor = QPointF(30, 40)
    under_cursor = view.mapToScene(cursor.toPoint())
    for _ in range(3):
        event = QWheelEvent(
            cursor,
            view.viewport().mapToGlobal(cursor),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        view.wheelEvent(event)
    assert view.zoom_factor == pytest.approx(1.25**3)
    assert (view.mapToScene(cursor.toPoint()) - under_cursor).manhattanLength() < 3


def test_a_new_image_is_shown_fitted(view):
    view.set_image(solid(400, 200))
    view.zoom_in()
    view.set_image(solid(100, 400))
    assert view.zoom_factor == 1.0
    assert view.transform().m11() == pytest.approx(0.5)
    assert view.sceneRect() == QRectF(0, 0, 100, 400)


def test_none_shows_the_message(view):
    view.set_image(solid(400, 200))
    view.set_image(None, "Loading…")
    assert view.message == "Loading…"
    assert view.image is None
    assert view.zoom_factor == 1.0
    grabbed = view.grab().toImage()
    colours = {grabbed.pixelColor(x, y).rgb() for x in range(0, 200, 2) for y in range(80, 120)}
    assert len(colours) > 1  # some text was drawn on the background
    assert QColor(200, 30, 40).rgb() not in colours  # and the old image is gone

    view.set_image(solid(10, 10))
    assert view.message == ""


def test_resizing_refits(view, qtbot):
    view.set_image(solid(400, 200))
    view.resize(400, 300)
    qtbot.waitUntil(lambda: view.viewport().width() == 400)
    assert view.zoom_factor == 1.0
    assert view.transform().m11() == pytest.approx(1.0)
    view.resize(100, 300)
    qtbot.waitUntil(lambda: view.viewport().width() == 100)
    assert view.transform().m11() == pytest.approx(0.25)


def test_the_view_takes_no_keys(view):
    assert view.focusPolicy() == Qt.FocusPolicy.NoFocus
    assert view.viewport().focusPolicy() == Qt.FocusPolicy.NoFocus
    view.set_image(solid(400, 400))
    view.zoom_in()
    for key in (Qt.Key.Key_1, Qt.Key.Key_A, Qt.Key.Key_Space, Qt.Key.Key_Plus, Qt.Key.Key_Left):
        event = QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier)
        view.keyPressEvent(event)
        assert not event.isAccepted()  # left for the window's actions


def test_showing_the_same_image_again_keeps_the_zoom(view):
    image = solid(400, 200)
    view.set_image(image)
    view.zoom_in()
    view.set_image(image)
    assert view.zoom_factor == pytest.approx(1.25)
    view.set_image(solid(400, 200))
    assert view.zoom_factor == 1.0


def test_an_image_of_the_view_size_is_drawn_pixel_for_pixel(view):
    # A one-pixel checkerboard turns grey at the slightest resampling.
    rows, columns = np.indices((200, 200))
    board = ((rows + columns) % 2 * 255).astype(np.uint8)
    view.set_image(image_to_qimage(Image.fromarray(board).convert("RGB")))
    grabbed = view.grab().toImage()
    levels = {grabbed.pixelColor(x, y).red() for x in range(80, 120) for y in range(80, 120)}
    assert levels == {0, 255}


def test_a_small_image_is_magnified_to_fit(view):
    view.set_image(solid(20, 10))
    assert view.transform().m11() == pytest.approx(10.0)


def test_painted_is_emitted_after_a_new_image_is_painted(view, qtbot):
    painted = []
    view.painted.connect(lambda: painted.append(view.image.cacheKey() if view.image is not None else 0))
    image = solid(120, 80)
    with qtbot.waitSignal(view.painted, timeout=2000):
        view.set_image(image)
    assert painted[-1] == image.cacheKey()  # the frame painted was the new image's


def test_zooming_past_the_decoded_pixels_asks_for_detail_once(view, qtbot):
    view.set_image(solid(400, 400))  # fitted at 0.5: no detail needed
    asked = []
    view.detail_wanted.connect(lambda: asked.append(1))
    view.zoom_in()  # 0.625 device pixels per image pixel
    assert asked == []
    for _ in range(4):
        view.zoom_in()  # past 1:1 of the decode
    assert asked == [1]
    view.set_image(solid(300, 300))  # another item: asked again when it is zoomed
    for _ in range(5):
        view.zoom_in()
    assert asked == [1, 1]


def test_a_full_resolution_image_keeps_the_part_on_screen_in_place(view):
    small = solid(400, 200)
    view.set_image(small)
    for _ in range(6):
        view.zoom_in()
    view.centerOn(QPointF(300, 50))
    before = visible_scene_rect(view)
    zoom = view.zoom_factor
    assert view.set_detail(solid(1600, 800))
    after = visible_scene_rect(view)
    assert view.zoom_factor == zoom and view.full_resolution
    # the same part of the picture, in the larger image's pixels (4x)
    assert after.center().x() == pytest.approx(4 * before.center().x(), abs=4)
    assert after.center().y() == pytest.approx(4 * before.center().y(), abs=4)
    assert after.width() == pytest.approx(4 * before.width(), abs=4)


def test_detail_of_another_shape_or_smaller_is_refused(view):
    view.set_image(solid(400, 200))
    assert not view.set_detail(solid(800, 800))  # another picture: the item changed meanwhile
    assert not view.set_detail(solid(200, 100))
    assert view.image.width() == 400 and not view.full_resolution


def test_one_to_one_shows_a_source_pixel_per_device_pixel_once_the_detail_arrives(view):
    view.set_image(solid(400, 200))  # a reduced decode of a 1600 x 800 source
    asked = []
    view.detail_wanted.connect(lambda: asked.append(1))
    view.actual_size()
    ratio = view.devicePixelRatioF()
    assert view.transform().m11() * ratio == pytest.approx(1.0) and asked == [1]
    view.set_detail(solid(1600, 800))
    assert view.transform().m11() * ratio == pytest.approx(1.0)  # 1:1 of the source now
    assert visible_scene_rect(view).width() == pytest.approx(200 / ratio, abs=2)
