"""The order items come on screen: while labeling, and in a review of a fixed list.

A walk knows its current item and what comes next; it writes nothing (the session records
decisions and keeps the one undo history, aldesk/core/session.py). ``LabelingWalk`` follows the
stored queue (the learning loop's ranking), then a fallback (a random sample until the first
ranking), mixing in audit items; ``ReviewWalk`` shows the items of a review in order and ends
when they are done.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import TypeVar

from aldesk.core import settings
from aldesk.core.queue import QueuedItem, load_queue
from aldesk.core.sampling import random_unlabeled
from aldesk.core.store import Project

_Entry = TypeVar("_Entry", QueuedItem, int)  # what upcoming() walks: queue entries or audit item ids
FALLBACK_SAMPLE = 200
AUDIT_SAMPLE = 500
AUDIT = "audit"  # the strategy recorded for audit items: drawn uniformly, never chosen by a model
AUDIT_AFTER_PER_CLASS = 3  # audits start after this many labels per class (the cold start's length)
UNSURE = "unsure review"
SUSPECTS = "suspect review"
_REVIEW_STATUS = {UNSURE: "unsure", SUSPECTS: "labeled"}  # what an item still to review is


class Walk:
    """What both walks share: the item on screen, since when, and bringing one back."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._queue: deque[QueuedItem] = deque()
        self._current: QueuedItem | None = None
        self._shown_at = time.monotonic()

    @property
    def current(self) -> QueuedItem | None:
        return self._current

    def shown_ms(self) -> int:
        """How long the current item has been on screen."""
        return int((time.monotonic() - self._shown_at) * 1000)

    def advance(self) -> QueuedItem | None:
        self._current = self._next_open()
        self._shown_at = time.monotonic()
        return self._current

    def bring_back(self, entry: QueuedItem) -> None:
        """Show ``entry`` now (an undone item); the item it replaces is next."""
        if self._current is not None:
            self._queue.appendleft(self._current)
        self._current = entry
        self._shown_at = time.monotonic()

    def upcoming(self, n: int) -> list[QueuedItem]:
        raise NotImplementedError

    def _next_open(self) -> QueuedItem | None:
        raise NotImplementedError

    def _status_is(self, item_id: int, status: str) -> bool:
        row = self.project.conn.execute("SELECT status FROM items WHERE id = ?", (item_id,)).fetchone()
        return row is not None and row[0] == status


class LabelingWalk(Walk):
    keep_next = 0  # upcoming items a new queue leaves in place (the window sets it)

    def __init__(self, project: Project, *, audit_every: int | None = None) -> None:
        super().__init__(project)
        self._queue = deque(load_queue(project))
        # Until the worker hands over its first queue: a random sample of the unlabeled items,
        # a fair start (unlike file order, which often follows classes or dates).
        self._fallback: list[QueuedItem] = [
            QueuedItem(item_id, rank, None, "random", None)
            for rank, item_id in enumerate(random_unlabeled(project, FALLBACK_SAMPLE), start=1)
        ]
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
        counts = project_counts(project)
        self._audit_from = AUDIT_AFTER_PER_CLASS * max(counts[0], 1)
        self._labeled_before = counts[1]
        self.labels_given = 0  # labels given in this walk and not undone (kept by the session)
        self.advance()

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
            return next((e for e in entries if _key(e) not in shown and self._is_open(_key(e))), None)

        while len(out) < n:
            entry: QueuedItem | None = None
            if auditing:
                since += 1
                if since >= self.audit_every:
                    since = 0
                    audit = next_open(pool)
                    entry = QueuedItem(audit, 0, None, AUDIT, None) if isinstance(audit, int) else None
            entry = entry or next_open(queue) or next_open(fallback)
            if not isinstance(entry, QueuedItem):
                break
            shown.add(entry.item_id)
            out.append(entry)
        return out

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

    def _auditing(self) -> bool:
        """Whether audit items are mixed in now: on, and past the cold start."""
        if not self.audit_every:
            return False
        return self._labeled_before + self.labels_given >= self._audit_from

    def _peek_audit(self) -> int | None:
        """The audit item to be drawn next (left at the head of the pool), or None."""
        for _attempt in range(2):  # the second attempt draws a fresh sample
            while self._audit_pool and not self._is_open(self._audit_pool[0]):
                self._audit_pool.popleft()
            if self._audit_pool:
                return self._audit_pool[0]
            self._audit_pool = deque(random_unlabeled(self.project, AUDIT_SAMPLE))  # no full scan
        return None

    def _next_open(self) -> QueuedItem | None:
        if self._auditing():
            self._since_audit += 1
            if self._since_audit >= self.audit_every:
                self._since_audit = 0
                audit = self._peek_audit()
                if audit is not None:
                    self._audit_pool.popleft()
                    return QueuedItem(audit, 0, None, AUDIT, None)
        while self._queue:
            entry = self._queue.popleft()
            if self._is_open(entry.item_id):
                return entry
        for entry in self._fallback:
            if self._is_open(entry.item_id):
                return entry
        first = first_unlabeled(self.project)
        return QueuedItem(first, 0, None, "next unlabeled", None) if first is not None else None

    def _is_open(self, item_id: int) -> bool:
        # Its own query, one call deep: a key press asks this up to hundreds of times (the
        # fallback is scanned from its start), on the path benchmarks/bench_keypress.py times.
        row = self.project.conn.execute("SELECT status FROM items WHERE id = ?", (item_id,)).fetchone()
        return row is not None and row[0] == "unlabeled"


class ReviewWalk(Walk):
    """A fixed list of items (unsure ones, suspected wrong labels), in order; over when done.
    An item still to review is one whose status is still what brought it into the review."""

    def __init__(self, project: Project, items: list[QueuedItem], *, kind: str) -> None:
        if kind not in _REVIEW_STATUS:
            raise ValueError(f"unknown review {kind!r}")
        super().__init__(project)
        self.kind = kind
        # Each decision records the review's name as the strategy: the history says why it was shown.
        self._queue = deque(QueuedItem(q.item_id, rank, q.model_version, kind, q.score) for rank, q in enumerate(items, start=1))
        self.advance()

    def upcoming(self, n: int) -> list[QueuedItem]:
        shown = {self._current.item_id} if self._current else set()
        out = [q for q in self._queue if q.item_id not in shown and self._is_open(q.item_id)]
        return list({q.item_id: q for q in out}.values())[:n]

    @property
    def remaining(self) -> int:
        """Items still to review, the one on screen included."""
        return (self._current is not None) + sum(self._is_open(q.item_id) for q in self._queue)

    def _next_open(self) -> QueuedItem | None:
        while self._queue:
            entry = self._queue.popleft()
            if self._is_open(entry.item_id):
                return entry
        return None  # the review is over

    def _is_open(self, item_id: int) -> bool:
        return self._status_is(item_id, _REVIEW_STATUS[self.kind])


def _key(entry: QueuedItem | int) -> int:
    return entry if isinstance(entry, int) else entry.item_id


def project_counts(project: Project) -> tuple[int, int]:
    """(classes, labeled items): where the cold start stands."""
    n_classes = project.conn.execute("SELECT count(*) FROM classes").fetchone()[0]
    labeled = project.conn.execute("SELECT count(*) FROM items WHERE status = 'labeled'").fetchone()[0]
    return n_classes, labeled


def first_unlabeled(project: Project) -> int | None:
    row = project.conn.execute("SELECT id FROM items WHERE status = 'unlabeled' ORDER BY id LIMIT 1").fetchone()
    return row[0] if row else None


def unsure_items(project: Project) -> list[QueuedItem]:
    """Every unsure item, in the order they were marked unsure."""
    rows = project.conn.execute(
        "SELECT i.id FROM items i WHERE i.status = 'unsure'"
        " ORDER BY (SELECT max(e.id) FROM label_events e WHERE e.item_id = i.id)"
    ).fetchall()
    return [QueuedItem(item_id, rank, None, UNSURE, None) for rank, (item_id,) in enumerate(rows, start=1)]


def suspect_items(project: Project) -> list[QueuedItem]:
    """The latest stored suspects ranking (suspected wrong labels), most doubtful first."""
    from aldesk.core.suspects_store import latest_run, load_suspects

    run = latest_run(project)
    if run is None:
        return []
    return [QueuedItem(s.item_id, s.rank, run.model_version, SUSPECTS, s.score) for s in load_suspects(project)]
