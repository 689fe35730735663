"""Uniform random samples of unlabeled items that stay fast on a million items.

``ORDER BY random()`` reads and sorts every unlabeled row: 0.28 s at 880,000 unlabeled items,
paid when a project opens and for every new audit sample (benchmarks/bench_scale.py). Drawing
random ids from the id range and keeping those that exist and are unlabeled (rejection
sampling) is uniform over the unlabeled items too, and reads a few rows per item wanted.
"""

from __future__ import annotations

import random

from aldesk.core.store import Project

ROUNDS = 4  # draws before falling back to the full scan (few unlabeled items left)
_SQL_VARIABLES = 900  # ids per query, under SQLite's oldest default limit of 999


def random_unlabeled(project: Project, n: int, rng: random.Random | None = None) -> list[int]:
    """Up to ``n`` distinct unlabeled item ids, uniformly at random, in random order."""
    if n <= 0:
        return []
    rng = rng or random.Random()
    # Two queries: SQLite answers min() and max() alone from the rowid at once, but scans the
    # table for both in one query.
    low = project.conn.execute("SELECT min(id) FROM items").fetchone()[0]
    high = project.conn.execute("SELECT max(id) FROM items").fetchone()[0]
    if low is None:
        return []
    found: dict[int, None] = {}  # insertion-ordered set: the draw order is the random order
    for _ in range(ROUNDS):
        wanted = n - len(found)
        draw = list({rng.randint(low, high) for _ in range(min(4 * wanted + 16, high - low + 1))})
        rng.shuffle(draw)
        for start in range(0, len(draw), _SQL_VARIABLES):
            part = draw[start : start + _SQL_VARIABLES]
            marks = ",".join("?" * len(part))
            # Status tested here, not in SQL: with it in the WHERE clause SQLite walked the
            # status index over every unlabeled row (0.14 s per query at a million items).
            hits = {
                item
                for item, status in project.conn.execute(f"SELECT id, status FROM items WHERE id IN ({marks})", part)
                if status == "unlabeled"
            }
            for item in part:
                if item in hits and item not in found:
                    found[item] = None
        if len(found) >= n:
            return list(found)[:n]
    # Mostly labeled (or sparse ids): the unlabeled rows are few, so scanning them is cheap.
    rows = project.conn.execute("SELECT id FROM items WHERE status = 'unlabeled' ORDER BY random() LIMIT ?", (n,)).fetchall()
    return [row[0] for row in rows]
