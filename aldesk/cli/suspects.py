"""``aldesk suspects``: the labeled items whose label the model's held-out heads doubt most.

Prints the latest stored ranking (the desktop worker keeps one up to date); computes and stores
one first when there is none yet or ``--recompute`` asks for it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from aldesk.core.captions import captions, texts_for_output
from aldesk.core.classes import list_classes
from aldesk.core.items import all_paths, count_labeled
from aldesk.core.errors import AldeskError
from aldesk.core.store import Project, open_project
from aldesk.core.suspects_store import LISTED_WORDS, Suspect, latest_run, load_suspects


def add_suspects_command(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sus = verbs.add_parser("suspects", help="labeled items whose label the model doubts most")
    sus.add_argument("project", type=Path)
    sus.add_argument("-n", type=int, default=50, help="how many (default 50)")
    sus.add_argument("--recompute", action="store_true", help="rank again from the current labels")
    sus.add_argument("--json", action="store_true")
    sus.set_defaults(run=cmd_suspects)


def compute_and_store(project: Project) -> int:
    """Rank every labeled item from a fresh snapshot and store the ranking; returns the run id."""
    from aldesk.core.suspects_store import save_suspects
    from aldesk.ml.device import configure_cpu_threads
    from aldesk.ml.evaluation.suspects import METHOD, suspects_for_snapshot
    from aldesk.ml.loop.pool import build_pool
    from aldesk.ml.loop.snapshot import take_snapshot

    configure_cpu_threads()
    snapshot = take_snapshot(project, load_vectors=False)
    suspects = suspects_for_snapshot(snapshot, build_pool(project, snapshot))  # streamed on large pools
    return save_suspects(project, suspects, model_version=snapshot.previous_version, n_labels=len(snapshot.y), method=METHOD)


def cmd_suspects(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise AldeskError("-n must be at least 1.")
    with open_project(args.project, write=False) as project:
        run = latest_run(project)
    if run is None or args.recompute:
        with open_project(args.project) as project:  # storing the ranking needs the write lock
            compute_and_store(project)
    with open_project(args.project, write=False) as project:
        run = latest_run(project)
        suspects = load_suspects(project, limit=args.n)
        labeled = count_labeled(project)
        rows = _rows(project, suspects)
        shown = captions(project, [s.item_id for s in suspects])
    if run is None:  # stored just above; gone only if another process removed it meanwhile
        raise AldeskError(f"{args.project} holds no suspect ranking; make one with: aldesk suspects {args.project} --recompute")
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    age = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at))
    model = f"model version {run.model_version}" if run.model_version is not None else "no stored model"
    print(
        f"ranking of {age} ({model}, {run.n_labels} labels then, {labeled} now; {run.method}); listed: {LISTED_WORDS}",
        file=sys.stderr,
    )
    if not rows:
        print(
            "no suspects: too few labels to rank (20 needed), none doubted that much, or every suspect was relabeled; "
            "try --recompute",
            file=sys.stderr,
        )
    for row in rows:
        print(
            f"{row['rank']:>4}  {row['id']:>7}  {row['label']:<16} -> {row['suggested']:<16} "
            f"{row['score']:.3f}  p={row['p_label']:.3f}  {shown[row['id']]}"
        )
    return 0


def _rows(project: Project, suspects: list[Suspect]) -> list[dict[str, Any]]:
    names = {c.id: c.name for c in list_classes(project)}
    paths = all_paths(project)
    texts = texts_for_output(project, [s.item_id for s in suspects])
    return [
        {
            "rank": s.rank,
            "id": s.item_id,
            "path": str(project.resolve(paths[s.item_id])),
            **({"text": texts[s.item_id]} if texts else {}),
            "label": names[s.given_class_id],
            "suggested": names[s.suggested_class_id],
            "score": s.score,
            "p_label": s.p_given,
        }
        for s in suspects
    ]
