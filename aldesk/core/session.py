"""The labeling state: what is on screen, what comes next, and one undo/redo history.

Qt-free so it can be tested directly; the window drives it through a thin Qt adapter
(aldesk/gui/session_signals.py). One ``LabelingSession`` per open project holds

- the labeling walk (the learning loop's queue, fallback and audit items, aldesk/core/walks.py)
  and, while one runs, a review walk (unsure items, suspected wrong labels); ``current`` and
  ``upcoming`` are those of the walk on screen;
- the one history (aldesk/core/history.py) of every decision: labeling keys, review keys and
  relabelings in the review grid. Ctrl+Z anywhere takes back the latest of them.

Every decision is written (and committed) first, then memory changes: a write that fails (full
disk, read-only file) raises and leaves the session as it was, so no acknowledged label is lost
and none is shown that is not saved. Each operation tells its subscribers what it changed with
one ``Changes`` (Anki's operation change flags; napari's model events): views redraw from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aldesk.core import labels
from aldesk.core.history import Decision, History, Step
from aldesk.core.items import label_of
from aldesk.core.labels import QueryContext
from aldesk.core.queue import QueuedItem
from aldesk.core.store import Project
from aldesk.core.walks import AUDIT, LabelingWalk, ReviewWalk, Walk

__all__ = ["AUDIT", "Changes", "Decision", "LabelingSession", "Step"]


@dataclass(frozen=True)
class Changes:
    """What one operation changed, so that each view redraws just that."""

    step: Step | None = None  # decisions written, or taken back (``undone``)
    undone: bool = False
    item: bool = False  # the item on screen is another one, or the same came back
    upcoming: bool = False  # what comes after it changed
    mode: bool = False  # a review started or ended

    @property
    def labels(self) -> bool:
        """Labels were written: counts, strips and the model are out of date."""
        return self.step is not None


class LabelingSession:
    def __init__(self, project: Project, *, audit_every: int | None = None, keep_next: int = 0) -> None:
        self.project = project
        self.history = History()
        self.labeling = LabelingWalk(project, audit_every=audit_every)
        self.labeling.keep_next = keep_next
        self.review: ReviewWalk | None = None
        self._listeners: list[Callable[[Changes], None]] = []

    # -- subscribers ---------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Changes], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Changes], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, changes: Changes) -> None:
        for listener in list(self._listeners):
            listener(changes)

    # -- what is on screen ---------------------------------------------------------------------

    @property
    def walk(self) -> Walk:
        """The walk on screen: the review while one runs, else labeling."""
        return self.review if self.review is not None else self.labeling

    @property
    def current(self) -> QueuedItem | None:
        return self.walk.current

    def upcoming(self, n: int) -> list[QueuedItem]:
        return self.walk.upcoming(n)

    def recent(self, n: int) -> list[Decision]:
        return self.history.recent(n)

    def previous_decision(self, item_id: int) -> Decision | None:
        return self.history.previous_decision(item_id)

    @property
    def can_undo(self) -> bool:
        return self.history.can_undo

    @property
    def can_redo(self) -> bool:
        return self.history.can_redo

    # -- the learning loop's queue (it always feeds the labeling walk) -------------------------

    def set_queue(self, entries: list[QueuedItem]) -> None:
        self._queue_changed(lambda: self.labeling.set_queue(entries))

    def set_fallback(self, entries: list[QueuedItem]) -> None:
        self._queue_changed(lambda: self.labeling.set_fallback(entries))

    def _queue_changed(self, change: Callable[[], None]) -> None:
        before = self.labeling.current
        change()
        if self.review is None:  # a review on screen is not affected
            self._notify(Changes(item=self.labeling.current != before, upcoming=True))

    def advance(self) -> QueuedItem | None:
        """Move on without writing anything."""
        current = self.walk.advance()
        self._notify(Changes(item=True, upcoming=True))
        return current

    # -- reviews -------------------------------------------------------------------------------

    def start_review(self, kind: str, items: list[QueuedItem]) -> bool:
        """Show ``items`` (a review of that kind) instead of the labeling walk; False if empty."""
        if not items:
            return False
        self.review = ReviewWalk(self.project, items, kind=kind)
        self._notify(Changes(item=True, upcoming=True, mode=True))
        return True

    def end_review(self) -> None:
        """Back to the labeling walk, where it was."""
        if self.review is not None:
            self.review = None
            self._notify(Changes(item=True, upcoming=True, mode=True))

    # -- decisions -----------------------------------------------------------------------------

    def label(self, class_id: int) -> Decision | None:
        return self._decide("label", class_id)

    def skip(self) -> Decision | None:
        """Labeling: record a skip. In a review: move on and write nothing (the item keeps its
        label, or stays unsure)."""
        if self.review is not None:
            self.advance()
            return None
        return self._decide("skip", None)

    def unsure(self) -> Decision | None:
        return self._decide("unsure", None)

    def _decide(self, kind: str, class_id: int | None) -> Decision | None:
        walk, entry = self.walk, self.walk.current
        if entry is None:
            return None
        decision = self._write(entry.item_id, kind, class_id, entry.context, walk.shown_ms())
        step = Step((decision,), walk)
        self.history.push(step)
        self._count(step, +1)
        walk.advance()
        self._notify(Changes(step=step, item=True, upcoming=True))
        return decision

    def relabel(self, targets: Sequence[tuple[int, QueryContext]], class_id: int) -> Step | None:
        """Label several items (the review grid's selection) as one step, one event each.

        A write that fails part-way raises; the items written before it stay labeled and are
        one step in the history (announced before the error is raised)."""
        given: list[Decision] = []
        try:
            for item_id, context in targets:
                given.append(self._write(item_id, "label", class_id, context, None))
        finally:
            step = Step(tuple(given)) if given else None
            if step is not None:
                self.history.push(step)
                self._notify(Changes(step=step))
        return step

    def _write(self, item_id: int, kind: str, class_id: int | None, context: QueryContext, shown_ms: int | None) -> Decision:
        before = label_of(self.project, item_id) or ("unlabeled", None)
        event = labels.record(self.project, item_id, kind, class_id, shown_ms=shown_ms, context=context)
        return Decision(item_id, kind, class_id, event, context, before)

    # -- undo and redo -------------------------------------------------------------------------

    def undo(self) -> Step | None:
        """Take back the latest step, wherever it was made. An item decided in a walk comes
        back on screen there (at once if that walk is on screen, else when it is again)."""
        if not self.history.done:
            return None
        step, reverted, part = self.history.done[-1], 0, None
        try:
            for decision in reversed(step.decisions):
                labels.undo(self.project, decision.event_id)  # first: if it fails, nothing has moved
                reverted += 1
        finally:
            if reverted:
                part = self.history.mark_undone(reverted)
                self._count(part, -1)
                walk = self._live(part)
                if walk is not None:
                    decision = part.decisions[0]
                    context = decision.context
                    walk.bring_back(
                        QueuedItem(
                            decision.item_id, context.rank or 0, context.model_version, context.strategy or "undo", context.score
                        )
                    )
                shown = walk is not None and walk is self.walk
                self._notify(Changes(step=part, undone=True, item=shown, upcoming=shown))
        return part

    def redo(self) -> Step | None:
        """Give the decisions of the latest undone step again (new events, same context). If
        its item is the one on screen, the walk moves on as after the key press."""
        if not self.history.undone:
            return None
        step, given, part = self.history.undone[-1], [], None
        walk = self._live(step)
        current = walk.current.item_id if walk is not None and walk.current is not None else None
        try:
            for decision in step.decisions:
                shown_ms = walk.shown_ms() if walk is not None and decision.item_id == current else None
                given.append(self._write(decision.item_id, decision.kind, decision.class_id, decision.context, shown_ms))
        finally:
            if given:
                part = self.history.mark_redone(given)
                self._count(part, +1)
                moved = walk is not None and current in part.item_ids
                if walk is not None and moved:
                    walk.advance()
                shown = moved and walk is self.walk
                self._notify(Changes(step=part, item=shown, upcoming=shown))
        return part

    def _live(self, step: Step) -> Walk | None:
        """The walk the step's item was decided in, if it is still going (a review may be over)."""
        return next((w for w in (self.labeling, self.review) if w is not None and step.walk is w), None)

    def _count(self, step: Step, sign: int) -> None:
        # The audit items wait for the cold start: labels given while labeling, undone ones not.
        if step.walk is self.labeling:
            self.labeling.labels_given += sign * sum(d.kind == "label" for d in step.decisions)
