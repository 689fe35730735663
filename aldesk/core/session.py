"""A labeling session: what the person sees next, and what each key press does to the project.

Qt-free so it can be tested directly; the desktop window drives it. Every decision is written
(and committed) before the next item is shown. Undo appends an undo event and steps back to the
item, so a new key press replaces the old decision; redo applies it again.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from aldesk.core import labels, settings
from aldesk.core.labels import QueryContext
from aldesk.core.queue import QueuedItem, load_queue
from aldesk.core.sampling import random_unlabeled
from aldesk.core.store import Project

FALLBACK_SAMPLE = 200
AUDIT_SAMPLE = 500
AUDIT = "audit"  # the strategy recorded for audit items: drawn uniformly, never chosen by a model
AUDIT_AFTER_PER_CLASS = 3  # audits start after this many labels per class (the cold start's length)
_Entry = TypeVar("_Entry", QueuedItem, int)  # what upcoming() walks: queue entries or audit item ids


@dataclass(frozen=True)
class Decision:
    """One thing the person did to an item, as written to the label history."""

    item_id: int
    kind: str  # label / skip / unsure
    class_id: int | None
    event_id: int
    context: QueryContext


class LabelingSession:
    keep_next = 0  # upcoming items a new queue leaves in place (the window sets it)

    def __init__(self, project: Project, *, audit_every: int | None = None) -> None:
        self.project = project
        self._queue: deque[QueuedItem] = deque(self._initial_queue())
        self._fallback: list[QueuedItem] = self._initial_fallback()
        # One item in ``audit_every`` is drawn uniformly from the unlabeled items, whatever the
        # model thinks: the accuracy estimate rests on these alone, because items the model
        # chose are a biased sample. They look like any other item on screen.
        self.audit_every = settings.get(project, "audit_every") if audit_every is None else audit_every
        self._audit_pool: deque[int] = deque()
        self._since_audit = 0
        # Not during the cold start (the first AUDIT_AFTER_PER_CLASS labels per class, counted
        # over all classes): there every pick counts most, and no estimate shows before 10
        # audit labels anyway. Measured: audits from the first label cost digits 4 points of
        # the lead over random at 10-20 labels (docs/benchmarks.md).
        n_classes = project.conn.execute("SELECT count(*) FROM classes").fetchone()[0]
        self._audit_from: int = AUDIT_AFTER_PER_CLASS * max(n_classes, 1)
        self._labeled_before: int = project.conn.execute(
            "SELECT count(*) FROM items WHERE status = 'labeled'").fetchone()[0]
        self._done: list[Decision] = []  # undo stack
        self._undone: list[Decision] = []  # redo stack
        self._current: QueuedItem | None = None
        self._shown_at = time.monotonic()
        self.advance()

    # -- what is on screen -------------------------------------------------------------------

    @property
    def current(self) -> QueuedItem | None:
        return self._current

    def upcoming(self, n: int) -> list[QueuedItem]:
        """The next ``n`` items after the current one, in the order ``advance`` will show them,
        audit items included (for the thumbnail strip and prefetch: an item shown without being
        announced here makes the person wait for its image to decode).

        It replays ``_next_open`` on copies: items shown before are no longer open then.
        """
        shown = {self._current.item_id} if self._current else set()
        auditing = self._auditing()
        if auditing:
            self._peek_audit()  # an exhausted audit sample is drawn afresh now, not later
        pool, queue, fallback = iter(list(self._audit_pool)), iter(list(self._queue)), iter(self._fallback)
        since = self._since_audit
        out: list[QueuedItem] = []

        def next_open(entries: Iterator[_Entry]) -> _Entry | None:
            return next((e for e in entries if self._key(e) not in shown and self._is_open(self._key(e))), None)

        while len(out) < n:
            entry = None
            if auditing:
                since += 1
                if since >= self.audit_every:
                    since = 0
                    audit = next_open(pool)
                    entry = QueuedItem(audit, 0, None, AUDIT, None) if audit is not None else None
            entry = entry or next_open(queue) or next_open(fallback)
            if entry is None:
                break
            shown.add(entry.item_id)
            out.append(entry)
        return out

    @staticmethod
    def _key(entry: QueuedItem | int) -> int:
        return entry if isinstance(entry, int) else entry.item_id

    def recent(self, n: int) -> list[Decision]:
        return self._done[-n:][::-1]

    def previous_decision(self, item_id: int) -> Decision | None:
        """The decision undone on this item, if it came back by undo (shown as 'was: ...')."""
        for decision in reversed(self._undone):
            if decision.item_id == item_id:
                return decision
        return None

    # -- queue management --------------------------------------------------------------------

    def set_queue(self, entries: list[QueuedItem]) -> None:
        """Swap in a new queue; the item on screen stays where it is, and so do the next
        ``keep_next`` items (the window has decoded their images ahead already)."""
        current = self._current.item_id if self._current else None
        kept = [q for q in self.upcoming(self.keep_next) if q.strategy != AUDIT and self._is_open(q.item_id)]
        skip = {q.item_id for q in kept} | {current}
        self._queue = deque(kept + [e for e in entries if e.item_id not in skip])
        if self._current is None:
            self.advance()

    def set_fallback(self, entries: list[QueuedItem]) -> None:
        """Used when the queue runs dry before a new one arrives (last ranking, cold start)."""
        self._fallback = list(entries)
        if self._current is None:
            self.advance()

    def advance(self) -> QueuedItem | None:
        self._current = self._next_open()
        self._shown_at = time.monotonic()
        return self._current

    def _initial_queue(self) -> list[QueuedItem]:
        return load_queue(self.project)

    def _initial_fallback(self) -> list[QueuedItem]:
        # Until the worker hands over its first queue: a random sample of the unlabeled items,
        # a fair start (unlike file order, which often follows classes or dates).
        return [QueuedItem(item_id, rank, None, "random", None)
                for rank, item_id in enumerate(self._random_unlabeled(FALLBACK_SAMPLE), start=1)]

    def _auditing(self) -> bool:
        """Whether audit items are mixed in now: on, and past the cold start."""
        if not self.audit_every:
            return False
        labeled = self._labeled_before + sum(d.kind == "label" for d in self._done)
        return labeled >= self._audit_from

    def _random_unlabeled(self, n: int) -> list[int]:
        return random_unlabeled(self.project, n)  # no full scan on a million items

    def _next_audit(self) -> QueuedItem | None:
        item_id = self._peek_audit()
        if item_id is None:
            return None
        self._audit_pool.popleft()
        return QueuedItem(item_id, 0, None, AUDIT, None)

    def _peek_audit(self) -> int | None:
        """The audit item to be drawn next (left at the head of the pool), or None."""
        for _attempt in range(2):  # the second attempt draws a fresh sample
            while self._audit_pool and not self._is_open(self._audit_pool[0]):
                self._audit_pool.popleft()
            if self._audit_pool:
                return self._audit_pool[0]
            self._audit_pool = deque(self._random_unlabeled(AUDIT_SAMPLE))
        return None

    def _next_open(self) -> QueuedItem | None:
        if self._auditing():
            self._since_audit += 1
            if self._since_audit >= self.audit_every:
                self._since_audit = 0
                audit = self._next_audit()
                if audit is not None:
                    return audit
        while self._queue:
            entry = self._queue.popleft()
            if self._is_open(entry.item_id):
                return entry
        for entry in self._fallback:
            if self._is_open(entry.item_id):
                return entry
        row = self.project.conn.execute(
            "SELECT id FROM items WHERE status = 'unlabeled' ORDER BY id LIMIT 1"
        ).fetchone()
        return QueuedItem(row[0], 0, None, "next unlabeled", None) if row else None

    def _is_open(self, item_id: int) -> bool:
        row = self.project.conn.execute("SELECT status FROM items WHERE id = ?", (item_id,)).fetchone()
        return row is not None and row[0] == "unlabeled"

    # -- decisions ---------------------------------------------------------------------------

    def label(self, class_id: int) -> Decision | None:
        return self._decide("label", class_id)

    def skip(self) -> Decision | None:
        return self._decide("skip", None)

    def unsure(self) -> Decision | None:
        return self._decide("unsure", None)

    def _decide(self, kind: str, class_id: int | None) -> Decision | None:
        entry = self._current
        if entry is None:
            return None
        shown_ms = int((time.monotonic() - self._shown_at) * 1000)
        context = entry.context
        # Written first: a write that fails (full disk, read-only file) leaves memory as it was.
        event = labels.record(self.project, entry.item_id, kind, class_id, shown_ms=shown_ms, context=context)
        decision = Decision(entry.item_id, kind, class_id, event, context)
        self._done.append(decision)
        self._undone = [d for d in self._undone if d.item_id != entry.item_id]
        self.advance()
        return decision

    def undo(self) -> Decision | None:
        """Revert the latest decision and show its item again."""
        if not self._done:
            return None
        decision = self._done[-1]
        labels.undo(self.project, decision.event_id)  # first: if it fails, nothing has moved
        self._done.pop()
        self._undone.append(decision)
        if self._current is not None:
            self._queue.appendleft(self._current)
        self._current = QueuedItem(decision.item_id, decision.context.rank or 0,
                                   decision.context.model_version, decision.context.strategy or "undo",
                                   decision.context.score)
        self._shown_at = time.monotonic()
        return decision

    def redo(self) -> Decision | None:
        """Apply the latest undone decision again (if its item is the one on screen, or open)."""
        if not self._undone:
            return None
        decision = self._undone[-1]
        if self._current is not None and self._current.item_id == decision.item_id:
            return self._decide(decision.kind, decision.class_id)  # it leaves the redo stack there
        if not self._is_open(decision.item_id):
            self._undone.pop()
            return None
        # The item on screen waits at the head of the queue, back on screen if the write fails.
        shown, queue = self._current, self._queue.copy()
        if shown is not None:
            self._queue.appendleft(shown)
        self._current = QueuedItem(decision.item_id, 0, decision.context.model_version,
                                   decision.context.strategy or "redo", decision.context.score)
        try:
            return self._decide(decision.kind, decision.class_id)
        except BaseException:
            self._current, self._queue = shown, queue
            raise

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)
