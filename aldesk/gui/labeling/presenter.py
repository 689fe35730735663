"""Showing the session on the labeling view: the item on screen, then what comes around it.

A key press labels, commits and advances in the GUI thread with no decoding on that path:
``show_current`` takes the item from the screen's loader (images: the prefetch cache; texts:
the project) and paints it; the prefetch requests, the Next and Last labeled strips and the
counts follow once that paint is done (posted behind it), so the next item is on screen first
(benchmarks/bench_keypress.py). How items load and show is the kind's (labeling/screens.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage, QPalette

from aldesk.core import items
from aldesk.core.classes import LabelClass
from aldesk.core.queue import QueuedItem
from aldesk.core.session import LabelingSession
from aldesk.core.walks import SUSPECTS
from aldesk.core.store import Project
from aldesk.gui.labeling.detail import FullResolution
from aldesk.gui.labeling.image_view import ImageView
from aldesk.gui.labeling.labeling_view import LabelingView
from aldesk.gui.labeling.screens import ImageScreen, ItemScreen
from aldesk.gui.theme import readable

PREFETCH_AHEAD = 6
STRIP_LENGTH = 8  # thumbnails in the Next and the Last labeled strips


# The header's tooltip, the same for every item of a kind of queue (see _title).
WHY_ASKED = (
    "Asked because the model is least sure about it, or drawn at random to check the model honestly "
    "(about one in ten). Which of the two is not shown, so that the check stays fair."
)
WHY_SUSPECT = (
    "Listed as a suspect: a model trained on the other labels (never on this one) gives the label it has "
    "only {p_given}. A wrong key press, or an item that really is ambiguous: press the right class's key, "
    "or the same key to confirm the label."
)
WHY_ASKED_COLD = (
    "No model yet: aldesk asks items typical of the groups it sees in your collection, so the first labels cover them all."
)


def shown_probability(p: float | None) -> str:
    """How sure the model is, as the person can trust it (benchmarks/bench_calibration.py): no
    number before the model is calibrated (at 20 labels its "99%" was right 84-88% of the time),
    and never "100%" (after calibration its "99%" was right 92-99% of the time)."""
    if p is None:
        return "(a first guess: too few labels to say how sure)"
    return f"{min(p, 0.99):.0%}"


class LabelingPresenter(QObject):
    review_finished = Signal()  # a review on screen has nothing left in it
    counted = Signal(int)  # labeled items, after each count

    def __init__(
        self,
        view: LabelingView,
        project: Project,
        session: LabelingSession,
        classes: list[LabelClass],
        *,
        image_side: int,
        prediction: Callable[[int], tuple[int, float | None] | None],
        screen: ItemScreen | None = None,
        ratio: float = 1.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.view, self.project, self.session, self.classes = view, project, session, classes
        self.screen = screen or ImageScreen()
        view.set_screen(self.screen)
        self._prediction = prediction  # item id -> (class id, probability) of the latest model
        self._after_paint_posted = False  # strips and counts of a key press are still to update
        self._closed = False  # after shutdown a posted update finds the project closed: dropped
        # The item on screen and the next few (images decoded ahead in threads, texts read from
        # the project), and the strips' tiles (thumbnails or text cards).
        self.prefetcher = self.screen.screen_loader(project, image_side, self)
        self.prefetcher.ready.connect(self._image_ready)
        self.prefetcher.failed.connect(self._image_failed)
        self.thumbs = self.screen.strip_loader(project, ratio, self)
        # Thumbnails arrive one by one from the decoders; one strip update takes several.
        self._strip_timer = QTimer(self)
        self._strip_timer.setSingleShot(True)
        self._strip_timer.setInterval(30)
        self._strip_timer.timeout.connect(self.update_strips)
        self.thumbs.ready.connect(lambda _id: self._strip_timer.start())
        # Images: the one on screen at full resolution when the zoom asks for it.
        self.detail: FullResolution | None = None
        if isinstance(view.item_view, ImageView):
            self.detail = FullResolution(self)
            self.detail.ready.connect(self._detail_ready)
            view.item_view.detail_wanted.connect(self._want_detail)

    def shutdown(self) -> None:
        self._closed = True
        self._strip_timer.stop()
        for prefetcher in (self.prefetcher, self.thumbs):
            prefetcher.shutdown()
            prefetcher.deleteLater()
        if self.detail is not None:
            self.detail.shutdown()
            if isinstance(self.view.item_view, ImageView):
                self.view.item_view.detail_wanted.disconnect(self._want_detail)

    def resolve(self, item_id: int) -> Path:
        return items.item_path(self.project, item_id) or Path("/nonexistent")

    # -- the item on screen --------------------------------------------------------------------

    def show_current(self, *, rest_after_paint: bool = False) -> None:
        """Show the session's current item; cheap: the item is taken from the screen's loader.

        With ``rest_after_paint`` the prefetch requests, strips and counts follow once the item
        is painted (a key press); otherwise they are updated before returning.
        """
        current = self.session.current
        if current is None and self.session.review is not None:
            self.review_finished.emit()
            return
        if current is None:
            self.view.show_item("Everything is labeled.", None, "Nothing left to label. 🎉")
            self.view.show_prediction("")
            return
        image = self.prefetcher.get(current.item_id)
        self.view.show_item(self._title(current), image, "" if image is not None else "Loading…")
        self.show_prediction(current.item_id)
        if not rest_after_paint:
            self.after_paint()
        elif not self._after_paint_posted:
            self._after_paint_posted = True
            QTimer.singleShot(0, self.after_paint)

    def after_paint(self) -> None:
        """What a key press changes besides the image: posted behind the repaint the press
        asked for (posted events run in order), so the next image is on screen first."""
        self._after_paint_posted = False
        if self._closed:
            return
        current = self.session.current
        upcoming = self.session.upcoming(max(PREFETCH_AHEAD, STRIP_LENGTH))
        if current is not None:
            self.prefetcher.request([current.item_id, *(q.item_id for q in upcoming[:PREFETCH_AHEAD])])
        self.update_strips(upcoming[:STRIP_LENGTH])
        self.update_counts()

    def queue_updated(self) -> None:
        # The item on screen never changes here; only what comes next does.
        if self.session.current is None:
            self.show_current()
        else:
            self.prefetcher.request([self.session.current.item_id] + [q.item_id for q in self.session.upcoming(PREFETCH_AHEAD)])
            self.update_strips()

    def show_prediction(self, item_id: int | None) -> None:
        text, colour = "No model yet", None
        guess = self._prediction(item_id) if item_id is not None else None
        by_id = {c.id: c for c in self.classes}
        if guess is not None and guess[0] in by_id:
            label_class = by_id[guess[0]]
            # The class colour, made lighter or darker until it reads on this theme.
            background = self.view.palette().color(QPalette.ColorRole.Window)
            text, colour = (
                f"Model: {label_class.name}  {shown_probability(guess[1])}",
                readable(label_class.colour, background).name(),
            )
        previous = self.session.previous_decision(item_id) if item_id else None
        names = {c.id: c.name for c in self.classes}
        if previous is not None:
            text = f"was: {names.get(previous.class_id, previous.kind)}    " + text
        elif item_id and self.session.review is not None:
            # A review shows labeled items: the label it has is what the person judges.
            status, class_id = items.label_of(self.project, item_id) or ("", None)
            if status == "labeled" and class_id in names:
                text = f"labeled: {names[class_id]}    " + text
        self.view.show_prediction(text, colour)

    def _title(self, current: QueuedItem) -> str:
        """The item's name only. Why it is asked stays out of sight: an audit item (drawn at random
        to check the model) must look like any other, or the check is no longer blind; the
        strategy and rank are kept in the label history (labels.QueryContext)."""
        # Whether a model exists, not the item's own record: an audit item carries no model version.
        why = WHY_ASKED if self._prediction(current.item_id) is not None else WHY_ASKED_COLD
        if current.strategy == SUSPECTS and current.score is not None:  # a review: nothing blind to keep
            why = WHY_SUSPECT.format(p_given=f"{max(1.0 - current.score, 0.0):.0%}")
        self.view.title.setToolTip(why)
        return self.screen.item_name(self.project, current.item_id)

    def _image_ready(self, item_id: int) -> None:
        current = self.session.current
        if current is not None and current.item_id == item_id:
            self.view.show_item(self._title(current), self.prefetcher.get(item_id))

    def _want_detail(self) -> None:
        current = self.session.current
        if current is not None and self.detail is not None and self.prefetcher.get(current.item_id) is not None:
            self.detail.request(current.item_id, self.resolve(current.item_id))

    def _detail_ready(self, item_id: int, image: QImage, fraction: float) -> None:
        current = self.session.current
        view = self.view.item_view
        if current is not None and current.item_id == item_id and isinstance(view, ImageView):
            view.set_detail(image, whole=fraction >= 1.0)

    def _image_failed(self, item_id: int, reason: str) -> None:
        current = self.session.current
        if current is not None and current.item_id == item_id:
            path = self.resolve(item_id)
            name = self.screen.item_name(self.project, item_id)
            self.view.show_item(name, None, f"Cannot show {path}:\n{reason}\n\nSkip it with Space.")

    # -- around it -----------------------------------------------------------------------------

    def update_strips(self, upcoming: list[QueuedItem] | None = None) -> None:
        if self._closed:
            return
        upcoming = self.session.upcoming(STRIP_LENGTH) if upcoming is None else upcoming
        recent = self.session.recent(STRIP_LENGTH)
        names = {c.id: c.name for c in self.classes}
        self.thumbs.request([q.item_id for q in upcoming] + [d.item_id for d in recent])
        self.view.next_strip.show_items([(q.item_id, self.thumbs.get(q.item_id), "") for q in upcoming])
        self.view.recent_strip.show_items(
            [(d.item_id, self.thumbs.get(d.item_id), names.get(d.class_id, d.kind)) for d in recent]
        )

    def update_counts(self) -> None:
        counts = items.labeled_counts(self.project)
        self.view.set_counts(counts)
        self.counted.emit(sum(counts.values()))
