"""Walking a fixed list of items with the labeling keys: unsure items, or suspected wrong labels.

A ``ReviewSession`` behaves like the labeling session (same keys, undo and redo, every decision
committed before the next item shows) but shows only its list, in order, and ends when the list
does. Space moves on without writing anything, so a suspect's label is kept as it is. Each
decision records the review's name as the strategy, so the label history says why it was shown.
"""

from __future__ import annotations

from aldesk.core.queue import QueuedItem
from aldesk.core.session import Decision, LabelingSession
from aldesk.core.store import Project

UNSURE = "unsure review"
SUSPECTS = "suspect review"
_STATUS = {UNSURE: "unsure", SUSPECTS: "labeled"}


class ReviewSession(LabelingSession):
    def __init__(self, project: Project, items: list[QueuedItem], *, kind: str) -> None:
        if kind not in _STATUS:
            raise ValueError(f"unknown review {kind!r}")
        self.kind = kind
        self._items = items
        super().__init__(project, audit_every=0)

    def _initial_queue(self) -> list[QueuedItem]:
        return [QueuedItem(q.item_id, rank, q.model_version, self.kind, q.score)
                for rank, q in enumerate(self._items, start=1)]

    def _initial_fallback(self) -> list[QueuedItem]:
        return []

    def _next_open(self) -> QueuedItem | None:
        while self._queue:
            entry = self._queue.popleft()
            if self._is_open(entry.item_id):
                return entry
        return None  # the review is over

    def _is_open(self, item_id: int) -> bool:
        row = self.project.conn.execute("SELECT status FROM items WHERE id = ?", (item_id,)).fetchone()
        return row is not None and row[0] == _STATUS[self.kind]

    def set_queue(self, entries: list[QueuedItem]) -> None:
        pass  # the learning loop's queues are for labeling, not for this review

    def set_fallback(self, entries: list[QueuedItem]) -> None:
        pass

    def skip(self) -> Decision | None:
        """Move on and write nothing: the item keeps its label (or stays unsure)."""
        self.advance()
        return None

    @property
    def remaining(self) -> int:
        """Items still to review, the one on screen included."""
        return (self._current is not None) + sum(self._is_open(q.item_id) for q in self._queue)


def unsure_items(project: Project) -> list[QueuedItem]:
    """Every unsure item, in the order they were marked unsure."""
    rows = project.conn.execute(
        "SELECT i.id FROM items i WHERE i.status = 'unsure'"
        " ORDER BY (SELECT max(e.id) FROM label_events e WHERE e.item_id = i.id)").fetchall()
    return [QueuedItem(item_id, rank, None, UNSURE, None) for rank, (item_id,) in enumerate(rows, start=1)]
