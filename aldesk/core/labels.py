"""Label history: an append-only list of events; an item's current label is its latest one.

Undo appends an ``undo`` event naming the event it reverts, so history is never lost. Each write
is one small transaction, committed before the call returns.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project, inserted_id

KINDS = ("label", "skip", "unsure")
_STATUS_OF_KIND = {"label": "labeled", "skip": "skipped", "unsure": "unsure"}


@dataclass(frozen=True)
class QueryContext:
    """Why an item was in front of the person: which model and strategy proposed it."""

    model_version: int | None = None
    strategy: str | None = None
    score: float | None = None
    rank: int | None = None


@dataclass(frozen=True)
class LabelEvent:
    id: int
    item_id: int
    kind: str
    class_id: int | None
    undoes: int | None
    created_at: float
    shown_ms: int | None
    source: str
    model_version: int | None
    strategy: str | None
    score: float | None
    rank: int | None


_EVENT_COLUMNS = "id, item_id, kind, class_id, undoes, created_at, shown_ms, source, model_version, strategy, score, rank"


def record(
    project: Project,
    item_id: int,
    kind: str,
    class_id: int | None = None,
    *,
    source: str = "human",
    shown_ms: int | None = None,
    context: QueryContext | None = None,
) -> int:
    """Append one label, skip or unsure event and update the item; returns the event id."""
    if kind not in KINDS:
        raise AldeskError(f"Unknown label kind {kind!r}; expected one of {', '.join(KINDS)}.")
    if (kind == "label") != (class_id is not None):
        raise AldeskError("A 'label' event needs a class, and only a 'label' event has one.")
    context = context or QueryContext()
    now = time.time()
    with project.transaction() as conn:
        if conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is None:
            raise AldeskError(f"No item {item_id} in this project.")
        cursor = conn.execute(
            "INSERT INTO label_events(item_id, kind, class_id, created_at, shown_ms, source,"
            " model_version, strategy, score, rank) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                item_id,
                kind,
                class_id,
                now,
                shown_ms,
                source,
                context.model_version,
                context.strategy,
                context.score,
                context.rank,
            ),
        )
        event_id = inserted_id(cursor)
        _set_item_state(conn, item_id, kind, class_id, now)
    return event_id


def record_many(project: Project, labels: list[tuple[int, int]], *, source: str = "import") -> int:
    """Label many (item_id, class_id) pairs in one transaction; returns how many were written."""
    with project.transaction() as conn:
        insert_labels(conn, labels, source=source, at=time.time())
    return len(labels)


def insert_labels(conn: sqlite3.Connection, labels: list[tuple[int, int]], *, source: str, at: float) -> None:
    """record_many's writes inside a transaction the caller holds (so they commit with its own)."""
    for item_id, class_id in labels:
        conn.execute(
            "INSERT INTO label_events(item_id, kind, class_id, created_at, source) VALUES (?, 'label', ?, ?, ?)",
            (item_id, class_id, at, source),
        )
        _set_item_state(conn, item_id, "label", class_id, at)


def undo(project: Project, event_id: int) -> int:
    """Revert an event by appending an ``undo`` event; the item returns to its previous state."""
    row = project.conn.execute("SELECT item_id, kind FROM label_events WHERE id = ?", (event_id,)).fetchone()
    if row is None:
        raise AldeskError(f"No label event {event_id} to undo.")
    item_id, kind = row
    if kind == "undo":
        raise AldeskError(f"Event {event_id} is itself an undo; record the label again instead.")
    now = time.time()
    with project.transaction() as conn:
        already = conn.execute("SELECT 1 FROM label_events WHERE undoes = ?", (event_id,)).fetchone()
        if already:
            raise AldeskError(f"Label event {event_id} was already undone.")
        cursor = conn.execute(
            "INSERT INTO label_events(item_id, kind, undoes, created_at, source) VALUES (?, 'undo', ?, ?, 'human')",
            (item_id, event_id, now),
        )
        undo_id = inserted_id(cursor)
        effective = _effective_event(conn, item_id)
        if effective is None:
            conn.execute(
                "UPDATE items SET status = 'unlabeled', label_class_id = NULL, labeled_at = NULL WHERE id = ?", (item_id,)
            )
        else:
            _set_item_state(conn, item_id, *effective)
    return undo_id


def history(project: Project, item_id: int) -> list[LabelEvent]:
    rows = project.conn.execute(f"SELECT {_EVENT_COLUMNS} FROM label_events WHERE item_id = ? ORDER BY id", (item_id,)).fetchall()
    return [LabelEvent(*row) for row in rows]


def _effective_event(conn: sqlite3.Connection, item_id: int) -> tuple[str, int | None, float] | None:
    """The latest event of an item that no undo reverted, as (kind, class_id, created_at)."""
    row: tuple[str, int | None, float] | None = conn.execute(
        "SELECT kind, class_id, created_at FROM label_events e WHERE item_id = ?"
        " AND kind != 'undo'"
        " AND NOT EXISTS (SELECT 1 FROM label_events u WHERE u.undoes = e.id)"
        " ORDER BY id DESC LIMIT 1",
        (item_id,),
    ).fetchone()
    return row


def _set_item_state(conn: sqlite3.Connection, item_id: int, kind: str, class_id: int | None, at: float) -> None:
    conn.execute(
        "UPDATE items SET status = ?, label_class_id = ?, labeled_at = ? WHERE id = ?",
        (_STATUS_OF_KIND[kind], class_id, at if kind == "label" else None, item_id),
    )


def label_sources(project: Project) -> dict[int, str]:
    """For each labeled item, who gave its current label: 'human' or 'import'."""
    # The current label is the latest event no undo reverted (as in _effective_event), found
    # for all items in one pass; undone ids are collected once.
    rows = project.conn.execute(
        "SELECT item_id, kind, source FROM (SELECT item_id, kind, source,"
        " row_number() OVER (PARTITION BY item_id ORDER BY id DESC) AS newest"
        " FROM label_events WHERE kind != 'undo'"
        " AND id NOT IN (SELECT undoes FROM label_events WHERE undoes IS NOT NULL))"
        " WHERE newest = 1"
    )
    return {item_id: source for item_id, kind, source in rows if kind == "label"}


def audit_items(project: Project) -> list[int]:
    """Labeled items that were asked as audit items (drawn uniformly, not chosen by a model).

    An item stays an audit item when its label is later corrected (for example in review): what
    makes it an audit item is how it was chosen, and its current label is the one that counts.
    """
    # Undone events are collected once: a NOT EXISTS per event would scan the history each time.
    undone = {row[0] for row in project.conn.execute("SELECT undoes FROM label_events WHERE undoes IS NOT NULL")}
    return sorted(
        {
            item
            for event, item in project.conn.execute(
                "SELECT e.id, e.item_id FROM label_events e JOIN items i ON i.id = e.item_id"
                " WHERE e.strategy = 'audit' AND e.kind = 'label' AND i.status = 'labeled'"
            )
            if event not in undone
        }
    )
