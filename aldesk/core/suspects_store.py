"""Stored rankings of suspect labels (computed by aldesk/ml/evaluation/suspects.py), newest first.

A run is one ranking, tied to the model version that was current when it was computed. Each row
keeps the label the item had then: once a person labels the item again (a new class, or the same
one confirmed), the row no longer applies and ``load_suspects`` leaves it out, so a review never
asks about an item twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project, inserted_id

# The top of a ranking is what anyone reviews; the rest would only grow the file on large pools.
MAX_STORED = 5_000
KEEP_RUNS = 3


def doubt_cutoff(n_classes: int) -> float:
    """Labels the held-out heads (aldesk/ml/evaluation/suspects.py) give less than this are listed
    as suspects: less than a blind guess among the classes would (1/K; with two classes, the
    other class is the likelier). The ranking scores every label, and listing them all (the demo
    said "141 suspects" at 141 labels) buries the few wrong ones. Measured on simulated noise:
    benchmarks/bench_suspect_cutoff.py, docs/benchmarks.md "Which suspects to list: the cut-off"."""
    return 1.0 / max(n_classes, 2)


# How the window and the terminal say which labels are listed.
LISTED_WORDS = "labels a model trained on the other labels believes less than a blind guess among the classes would"


@dataclass(frozen=True)
class Suspect:
    item_id: int
    rank: int  # 1 = most suspect
    given_class_id: int  # the item's label when the ranking was computed
    suggested_class_id: int  # the class the held-out heads prefer
    score: float  # higher = more suspect (see aldesk/ml/evaluation/suspects.py for the scale)
    p_given: float  # held-out probability of the given label


@dataclass(frozen=True)
class SuspectRun:
    id: int
    created_at: float
    model_version: int | None
    n_labels: int
    method: str


def save_suspects(project: Project, suspects: list[Suspect], *, model_version: int | None, n_labels: int, method: str) -> int:
    """Store a ranking (its first ``MAX_STORED`` entries) in one transaction; returns the run id.
    Older runs beyond the last ``KEEP_RUNS`` are deleted."""
    ranks = [s.rank for s in suspects]
    if ranks != sorted(set(ranks)):
        raise AldeskError("A suspects ranking needs distinct ranks in increasing order.")
    with project.transaction() as conn:
        run_id = inserted_id(
            conn.execute(
                "INSERT INTO suspect_runs(created_at, model_version, n_labels, method) VALUES (?, ?, ?, ?)",
                (time.time(), model_version, n_labels, method),
            )
        )
        conn.executemany(
            "INSERT INTO suspects(run_id, rank, item_id, given_class_id, suggested_class_id, score, p_given)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, s.rank, s.item_id, s.given_class_id, s.suggested_class_id, s.score, s.p_given)
                for s in suspects[:MAX_STORED]
            ],
        )
        conn.execute(
            "DELETE FROM suspect_runs WHERE id NOT IN (SELECT id FROM suspect_runs ORDER BY id DESC LIMIT ?)", (KEEP_RUNS,)
        )
    return run_id


def latest_run(project: Project) -> SuspectRun | None:
    if not project.has_table("suspect_runs"):  # a project older than the review feature
        return None
    row = project.conn.execute(
        "SELECT id, created_at, model_version, n_labels, method FROM suspect_runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return SuspectRun(*row) if row else None


def load_suspects(
    project: Project, run_id: int | None = None, *, limit: int | None = None, still_open: bool = True
) -> list[Suspect]:
    """A run's ranking (the latest run by default), best first.

    With ``still_open`` only items nobody has labeled since the ranking are returned: a changed
    label settles the doubt, and so does the same label given again (a person confirmed it in
    review). Ranks stay as stored, so gaps show how many were dealt with."""
    if limit is not None and limit < 0:
        raise AldeskError(f"A suspects limit must be 0 or more, got {limit}.")
    if run_id is None:
        run = latest_run(project)
        if run is None:
            return []
        run_id = run.id
    sql = "SELECT s.item_id, s.rank, s.given_class_id, s.suggested_class_id, s.score, s.p_given FROM suspects s"
    if still_open:
        sql += (
            " JOIN items i ON i.id = s.item_id"
            " JOIN suspect_runs r ON r.id = s.run_id"
            " WHERE s.run_id = ? AND i.status = 'labeled' AND i.label_class_id = s.given_class_id"
            " AND i.labeled_at <= r.created_at"
        )
    else:
        sql += " WHERE s.run_id = ?"
    sql += " ORDER BY s.rank"
    params: tuple[int, ...] = (run_id,)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    return [Suspect(*row) for row in project.conn.execute(sql, params)]
