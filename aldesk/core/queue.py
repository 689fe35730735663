"""The stored queue: the next items to ask and why each was chosen."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aldesk.core.labels import QueryContext
from aldesk.core.store import Project


@dataclass(frozen=True)
class QueuedItem:
    item_id: int
    rank: int
    model_version: int | None
    strategy: str
    score: float | None

    @property
    def context(self) -> QueryContext:
        return QueryContext(self.model_version, self.strategy, self.score, self.rank)


def replace_queue(project: Project, entries: list[QueuedItem]) -> None:
    now = time.time()
    with project.transaction() as conn:
        conn.execute("DELETE FROM queue")
        conn.executemany(
            "INSERT INTO queue(item_id, rank, model_version, strategy, score, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.item_id, e.rank, e.model_version, e.strategy, e.score, now) for e in entries],
        )


def load_queue(project: Project) -> list[QueuedItem]:
    """Queued items still waiting for a label, in order."""
    if not project.has_table("queue"):
        return []
    rows = project.conn.execute(
        "SELECT q.item_id, q.rank, q.model_version, q.strategy, q.score FROM queue q"
        " JOIN items i ON i.id = q.item_id WHERE i.status = 'unlabeled' ORDER BY q.rank"
    ).fetchall()
    return [QueuedItem(*row) for row in rows]
