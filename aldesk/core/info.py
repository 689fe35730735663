"""A project's summary: counts, classes, missing files. Its JSON keys are a stable interface."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aldesk.core.classes import list_classes
from aldesk.core.kinds import kind_of
from aldesk.core.stopping import project_advice
from aldesk.core.store import Project
from aldesk.core.tuned_encoders import active_set, find_tuned

MISSING_EXAMPLES = 20


def project_info(project: Project) -> dict[str, Any]:
    """The summary ``aldesk info --json`` prints; see the README for each key."""
    conn = project.conn
    status_counts = dict(conn.execute("SELECT status, count(*) FROM items GROUP BY status"))
    total = sum(status_counts.values())
    labeled = status_counts.get("labeled", 0)
    classes = list_classes(project)
    counts = dict(conn.execute("SELECT label_class_id, count(*) FROM items WHERE status = 'labeled' GROUP BY label_class_id"))
    kind = kind_of(project)
    # Texts live in the project: the files they came from may go.
    missing = missing_items(project, (row[0] for row in conn.execute("SELECT path FROM items"))) if kind.needs_files else []
    return {
        "project": str(project.path),
        "schema_version": project.schema_version,
        "kind": kind.name,
        "items": total,
        "labeled": labeled,
        "unlabeled": total - labeled,
        "skipped": status_counts.get("skipped", 0),
        "unsure": status_counts.get("unsure", 0),
        "classes": [c.name for c in classes],
        "hotkeys": {c.name: c.hotkey for c in classes},
        "per_class": {c.name: counts.get(c.id, 0) for c in classes},
        "missing": len(missing),
        "missing_examples": missing[:MISSING_EXAMPLES],
        "models": _count_rows(project, "models"),
        "head": _latest_head(project),
        **_embedding_info(project),
        **_advice(project),
    }


def missing_items(project: Project, stored_paths: Iterable[str]) -> list[str]:
    """Stored paths whose file is gone. Lists each folder once instead of a stat per file, and
    splits each stored path once on plain strings (no per-path os.path calls, which cost seconds
    on a million items), so ``info`` stays fast on large projects."""
    root = str(project.root)
    by_folder: dict[str, list[tuple[str, str]]] = defaultdict(list)
    alt = os.altsep if os.sep == "/" else "/"  # the separator stored paths may also use
    for stored in stored_paths:
        folder, sep, name = stored.rpartition(os.sep)
        if alt and alt in name:
            folder, sep, name = stored.replace(alt, os.sep).rpartition(os.sep)
        by_folder[folder or sep].append((name, stored))  # "/" for a file in the root folder
    missing: list[str] = []
    for folder, entries in by_folder.items():
        absolute = folder if folder and os.path.isabs(folder) else os.path.join(root, folder)
        try:
            present = {e.name for e in os.scandir(absolute) if not e.is_dir()}
        except OSError:
            present = set()
        missing.extend(stored for name, stored in entries if name not in present)
    return sorted(missing)


def _embedding_info(project: Project) -> dict[str, Any]:
    embedding_set = active_set(project)
    if embedding_set is None:
        return {"backbone": None, "embedded": 0}
    embedded = project.conn.execute(
        "SELECT coalesce(sum(count), 0) FROM embedding_chunks WHERE set_id = ?", (embedding_set.id,)
    ).fetchone()[0]
    tuned = find_tuned(project, embedding_set.identity)
    out: dict[str, Any] = {"backbone": embedding_set.backbone, "embedded": int(embedded)}
    if tuned is not None:
        out["fine_tuned_on_labels"] = tuned.n_labels
    return out


def _encoder_words(info: dict[str, Any]) -> str:
    if not info["backbone"]:
        return "no backbone yet: aldesk embed PROJECT"
    tuned = info.get("fine_tuned_on_labels")  # the words of tuned_encoders.describe_encoder
    return f"{info['backbone']}, fine-tuned on {tuned} labels" if tuned else str(info["backbone"])


def _advice(project: Project) -> dict[str, Any]:
    estimate, stopping = project_advice(project)
    return {"estimated_accuracy": estimate, "stopping": stopping}


def _latest_head(project: Project) -> str | None:
    """The head of the latest model (``cnn`` is the weight-free one trained from scratch)."""
    if not project.has_table("models"):
        return None
    row = project.conn.execute("SELECT head FROM models ORDER BY version DESC LIMIT 1").fetchone()
    return row[0] if row else None


def _count_rows(project: Project, table: str) -> int:
    # Tables added by later schema steps count as empty in projects that predate them.
    if not project.has_table(table):
        return 0
    return int(project.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def format_info(info: dict[str, Any]) -> str:
    """The human-readable form of ``project_info``."""
    lines = [
        f"project    {info['project']}",
        f"kind       {info['kind']}s",
        f"items      {info['items']}",
        f"labeled    {info['labeled']}",
        f"unlabeled  {info['unlabeled']} (skipped {info['skipped']}, unsure {info['unsure']})",
        f"missing    {info['missing']}",
        f"models     {info['models']}" + (f" (latest: {info['head']} head)" if info.get("head") else ""),
        f"embedded   {info['embedded']} ({_encoder_words(info)})",
        f"accuracy   {_format_estimate(info['estimated_accuracy'])}",
        f"stop?      {'yes: ' if info['stopping']['stop'] else 'not yet: '}{info['stopping']['reason']}",
        f"schema     version {info['schema_version']}",
        "classes:",
    ]
    if not info["classes"]:
        lines.append("  (none yet: add them with aldesk classes PROJECT --add NAMES)")
    for name in info["classes"]:
        key = info["hotkeys"].get(name) or "-"
        lines.append(f"  [{key}] {name}: {info['per_class'][name]}")
    if info["missing"]:
        lines.append("missing files (repair moved folders with aldesk relocate):")
        lines.extend(f"  {path}" for path in info["missing_examples"])
        if info["missing"] > len(info["missing_examples"]):
            lines.append(f"  ... and {info['missing'] - len(info['missing_examples'])} more")
    return "\n".join(lines)


def _format_estimate(estimate: dict[str, Any]) -> str:
    if estimate["value"] is None:
        return f"not estimated yet ({estimate['audit_labels']} audit labels; needs 10)"
    return (
        f"{estimate['value']:.1%} (90% interval {estimate['low']:.1%} to {estimate['high']:.1%},"
        f" from {estimate['audit_labels']} audit labels)"
    )
