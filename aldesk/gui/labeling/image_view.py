"""The central image of the labeling screen: fit, zoom and pan; it paints, it never decodes.

Images arrive already decoded at about screen size (see :mod:`aldesk.gui.labeling.prefetch`), so showing
one is a pointer swap and a repaint. Scaling is left to the paint engine through the view's
transform: no pixel is resampled in Python and no QPixmap copy is made.

Sharpness on high-DPI screens comes for free: the scene is measured in image pixels and the fit
scale maps them onto the viewport's logical size, which the backing store multiplies by the
device pixel ratio. An image decoded at N device pixels therefore lands on about N device pixels.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QResizeEvent, QTransform, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsItem, QGraphicsScene, QGraphicsView, QStyleOptionGraphicsItem, QWidget

# A dark neutral grey reads as "no content" in both light and dark themes and does not tint
# how the person perceives the image's colours.
BACKGROUND = QColor(38, 38, 38)
MESSAGE_COLOUR = QColor(215, 215, 215)

ZOOM_STEP = 1.25
MIN_ZOOM = 0.25  # relative to fit; smaller than that is never useful
MAX_SCALE = 64.0  # logical pixels per image pixel; caps zooming into tiny images
# From this many device pixels per image pixel on, pixels are drawn as crisp squares: bilinear
# smoothing of a strongly magnified image (say a 28x28 sample) hides what the model sees.
NEAREST_FROM = 3.0


class _ImageItem(QGraphicsItem):
    """Draws one QImage at scene (0, 0), one scene unit per image pixel."""

    def __init__(self) -> None:
        super().__init__()
        self._image = QImage()

    @property
    def image(self) -> QImage:
        return self._image

    def set_image(self, image: QImage) -> None:
        self.prepareGeometryChange()
        self._image = image
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._image.isNull():
            return
        world = painter.worldTransform()
        ratio = widget.devicePixelRatioF() if widget is not None else 1.0
        device_scale = math.hypot(world.m11(), world.m12()) * ratio
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, device_scale < NEAREST_FROM)
        # drawImage, not a QPixmap: no per-image conversion or copy on the GUI thread, and the
        # raster engine only samples the part of the image that is exposed.
        painter.drawImage(QPointF(0, 0), self._image)


class ImageView(QGraphicsView):
    """Shows one image as large as the widget allows (fit), zoom with the wheel or +/-, pan by
    dragging, 0 fits again, Ctrl+1 shows it 1:1 (at full resolution once that is decoded)."""

    # Emitted when a frame of the view has been painted (into the window's backing store): what
    # the key-press latency benchmark and tests wait for. Cheap when nothing listens.
    painted = Signal()
    # The zoom magnifies the decoded image past one device pixel per pixel: a full-resolution
    # decode would show more (aldesk/gui/labeling/detail.py). Once per image.
    detail_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        scene = QGraphicsScene(self)
        self.setScene(scene)
        # One item: a spatial index would only cost time on every change.
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self._item = _ImageItem()
        scene.addItem(self._item)
        self._message = ""
        self._zoom = 1.0
        self._detail_asked = False  # detail_wanted was emitted for the image shown
        self._actual_pending = False  # 1:1 was asked and waits for the full-resolution image
        self._full_resolution = False  # the image shown holds every pixel of its source

        # Keys belong to the main window's actions (labels, skip, undo, zoom); the view must
        # never take focus or swallow them.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.viewport().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # Hidden scroll bars keep the viewport exactly the widget's size (so "fit" is stable);
        # dragging still pans because the ranges are kept.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Zoom anchoring is done by hand (_set_zoom), which also works without mouse tracking.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setInteractive(False)  # nothing in the scene reacts to the mouse
        self.setBackgroundBrush(BACKGROUND)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setSceneRect(QRectF(0, 0, 1, 1))

    # -- public API ------------------------------------------------------------------------

    def set_image(self, image: QImage | None, message: str = "") -> None:
        """Show ``image`` fitted to the view, or ``message`` centred when ``image`` is None.

        Cheap enough to call on every key press: no pixels are touched here. Showing the very
        image already shown changes nothing, so a zoomed-in view stays zoomed.
        """
        if image is None or image.isNull():
            self._item.set_image(QImage())
            self._message = message
            self.setSceneRect(QRectF(0, 0, 1, 1))
            self._zoom = 1.0
            self.resetTransform()
        elif image.cacheKey() == self._item.image.cacheKey():
            return  # the same image again (say a repeated ready signal): keep zoom and position
        else:
            self._item.set_image(image)
            self._message = ""
            # Set explicitly: the scene's own rect only ever grows, which would leave room to
            # pan around a smaller image shown after a larger one.
            self.setSceneRect(self._item.boundingRect())
            self._detail_asked = self._actual_pending = self._full_resolution = False
            self._set_zoom(1.0)
        self._update_drag_mode()
        self.viewport().update()

    def set_detail(self, image: QImage, *, whole: bool = True) -> bool:
        """The image shown, decoded larger: swapped in with the same part of it on screen at the
        same size. ``whole``: it holds every pixel of the source. False (nothing changes) for an
        image that is not larger or not the same picture's shape."""
        shown = self._item.image
        if shown.isNull() or image.isNull():
            return False
        if image.size() == shown.size():  # the decode shown was the whole source already
            self._full_resolution, self._actual_pending = whole, False
            return False
        if image.width() < shown.width():
            return False
        factor = image.width() / shown.width()
        if abs(image.height() / shown.height() - factor) > 0.02 * factor + 1 / shown.height():
            return False  # another picture (the item changed meanwhile): never mix them up
        centre = self.mapToScene(self.viewport().rect().center())
        self._item.set_image(image)
        self.setSceneRect(self._item.boundingRect())
        self._full_resolution = whole
        if self._actual_pending:
            self._actual_pending = False
            self._set_zoom(self._actual_zoom())
        else:
            # Zoom is relative to the fitted size, which the larger image leaves as it was.
            self._set_zoom(self._zoom)
        self.centerOn(QPointF(centre.x() * factor, centre.y() * factor))
        self._update_drag_mode()
        self.viewport().update()
        return True

    def actual_size(self) -> None:
        """1:1: one pixel of the source on one pixel of the screen (the full-resolution image
        follows when the one shown is a reduced decode; the view then zooms to 1:1 of it)."""
        if self._item.image.isNull():
            return
        self._set_zoom(self._actual_zoom())
        if not self._full_resolution:
            self._actual_pending = True
            if not self._detail_asked:  # 1:1 of the decode does not magnify it, yet needs the source
                self._detail_asked = True
                self.detail_wanted.emit()

    def show_content(self, content: QImage | None, message: str = "") -> None:
        """What the labeling view calls on the view of any kind (aldesk/gui/labeling/screens.py)."""
        self.set_image(content, message)

    def zoom_in(self) -> None:
        self._set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._set_zoom(self._zoom / ZOOM_STEP)

    def fit(self) -> None:
        self._set_zoom(1.0)

    @property
    def zoom_factor(self) -> float:
        """Magnification relative to the fitted size; 1.0 means fitted."""
        return self._zoom

    @property
    def message(self) -> str:
        """The text shown instead of an image ("" while an image is shown)."""
        return self._message

    @property
    def image(self) -> QImage | None:
        image = self._item.image
        return None if image.isNull() else image

    @property
    def full_resolution(self) -> bool:
        """Whether the image shown is the source's every pixel (set by ``set_detail``)."""
        return self._full_resolution

    # -- zoom mechanics --------------------------------------------------------------------

    def _device_ratio(self) -> float:
        return self.devicePixelRatioF() or 1.0

    def _actual_zoom(self) -> float:
        """The zoom at which one image pixel covers one device pixel."""
        return 1.0 / (self._device_ratio() * self._fit_scale())

    def _fit_scale(self) -> float:
        image = self._item.image
        if image.isNull():
            return 1.0
        view = self.viewport().rect()
        return max(min(view.width() / image.width(), view.height() / image.height()), 1e-6)

    def _set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Scale to ``zoom`` x fit, keeping the scene point under ``anchor`` (view coordinates) in place."""
        if self._item.image.isNull():
            self._zoom = 1.0
            return
        fit_scale = self._fit_scale()
        zoom = min(max(zoom, MIN_ZOOM), max(1.0, MAX_SCALE / fit_scale, self._actual_zoom()))
        if abs(math.log(zoom)) < 1e-3:
            zoom = 1.0  # repeated steps in and out come back to exactly "fitted"
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        anchor_point = QPoint(round(anchor.x()), round(anchor.y()))
        scene_point = self.mapToScene(anchor_point)
        self._zoom = zoom
        scale = fit_scale * zoom
        self.setTransform(QTransform.fromScale(scale, scale))
        if zoom == 1.0:
            self.centerOn(self.sceneRect().center())
        else:
            # Scroll so the anchored scene point is back under the anchor.
            moved = self.mapFromScene(scene_point) - anchor_point
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self._update_drag_mode()
        magnified = scale * self._device_ratio() > 1.0 + 1e-6
        if magnified and not self._full_resolution and not self._detail_asked:
            self._detail_asked = True
            self.detail_wanted.emit()

    def _update_drag_mode(self) -> None:
        # A grab-hand cursor over an image that cannot move would promise something false.
        pannable = self.horizontalScrollBar().maximum() > 0 or self.verticalScrollBar().maximum() > 0
        mode = QGraphicsView.DragMode.ScrollHandDrag if pannable else QGraphicsView.DragMode.NoDrag
        if self.dragMode() != mode:
            self.setDragMode(mode)

    # -- events ----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        self.painted.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        # Keep the zoom relative to the fitted size: fitted stays fitted, zoomed stays as zoomed.
        self._set_zoom(self._zoom)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        steps = event.angleDelta().y() / 120  # fractional for high-resolution wheels and touchpads
        if steps and not self._item.image.isNull():
            self._set_zoom(self._zoom * ZOOM_STEP**steps, event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self.fit()
            event.accept()
        else:
            super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        # Should focus ever land here, let the key travel on to the window and its actions
        # instead of QGraphicsView's scrolling.
        event.ignore()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        event.ignore()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt's name
        if not self._message or not self._item.image.isNull():
            return
        painter.save()
        painter.resetTransform()  # viewport coordinates: the text ignores zoom and scroll
        painter.setPen(MESSAGE_COLOUR)
        font = painter.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.2)
        painter.setFont(font)
        area = self.viewport().rect().adjusted(16, 16, -16, -16)
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap), self._message)
        painter.restore()
