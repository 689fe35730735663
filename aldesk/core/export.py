"""Exporting labels and predictions: the entry point for every format but ``model``.

``csv``/``json``/``jsonl``: one row per item (``json`` and ``jsonl`` add each item's full label
history; ``jsonl`` is one JSON object a line, as ``datasets.load_dataset("json")`` reads it). Items
of a text project carry their ``text`` (and ``source``: the file or table line it came from);
``predictions``: the latest model's guess for every item without a label; ``imagefolder`` and
``hf-imagefolder``: see export_folder.py. ``model`` needs torch and lives in
aldesk/ml/bundle/export.py (core never imports torch).

Files are written to a partial file beside the target and renamed into place, so a full disk
or an interruption never leaves a half-written export under the final name (export_partial.py).
An existing file is replaced only with ``force``; the project's own files and the items' source
images never (export_guard.py).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aldesk.core import model_store
from aldesk.core.classes import list_classes
from aldesk.core.disk import disk_full_error, is_no_space
from aldesk.core.errors import AldeskError
from aldesk.core.export_folder import export_hf_imagefolder, export_imagefolder
from aldesk.core.export_guard import check_not_project_file, check_not_source_file
from aldesk.core.export_partial import create_partial_file, remove_stale_partials
from aldesk.core.export_report import ExportReport
from aldesk.core.items import texts_of
from aldesk.core.kinds import kind_of
from aldesk.core.store import Project

# Every format of `aldesk export`; all but "model" are written by ``export`` below.
FORMATS = ("csv", "json", "jsonl", "imagefolder", "hf-imagefolder", "predictions", "model")
FOLDER_FORMATS = ("imagefolder", "hf-imagefolder", "model")
IMAGE_ONLY = ("imagefolder", "hf-imagefolder")
COLUMNS = ("path", "label", "status", "labeled_at")
TEXT_COLUMNS = ("text", "label", "status", "labeled_at", "source")
PREDICTION_COLUMNS = ("path", "status", "predicted", "confidence", "model_version")
TEXT_PREDICTION_COLUMNS = ("text", "status", "predicted", "confidence", "model_version", "source")


def export_rows(project: Project) -> list[dict[str, Any]]:
    """Each item's absolute path, current label (empty if none), status and label time (UTC);
    for a text project its text first, and where it came from as ``source`` instead of ``path``."""
    names = {c.id: c.name for c in list_classes(project)}
    ids_paths = _where_items_are(project)
    rows = []
    for item_id, status, class_id, labeled_at in project.conn.execute(
        "SELECT id, status, label_class_id, labeled_at FROM items ORDER BY id"
    ):
        row = dict(ids_paths[item_id])
        row.update(
            {"label": names.get(class_id, "") if class_id is not None else "", "status": status, "labeled_at": _iso(labeled_at)}
        )
        rows.append(row)
    return rows


def _where_items_are(project: Project) -> dict[int, dict[str, str]]:
    """Per item id: ``{"path": ...}``, or for texts ``{"text": ..., "source": ...}``."""
    stored = dict(project.conn.execute("SELECT id, path FROM items"))
    if kind_of(project).needs_files:
        return {item_id: {"path": str(project.resolve(path))} for item_id, path in stored.items()}
    texts = texts_of(project, list(stored))
    return {item_id: {"text": texts.get(item_id, ""), "source": source_of(project, path)} for item_id, path in stored.items()}


def source_of(project: Project, stored: str) -> str:
    """Where a text came from, as stored (``notes/a.txt``, ``tickets.csv#12``), made absolute."""
    base, mark, line = stored.rpartition("#")
    if mark and line.isdigit():
        return f"{project.resolve(base)}#{line}"
    return str(project.resolve(stored))


def label_histories(project: Project) -> dict[int, list[dict[str, Any]]]:
    """Every item's label events, oldest first: what was decided, when, by whom, and which
    model, strategy, score and rank put the item in front of the person. An ``undo`` names the
    event it reverts (``undoes``); an event that was undone has ``undone: true``."""
    names = {c.id: c.name for c in list_classes(project)}
    events = project.conn.execute(
        "SELECT id, item_id, kind, class_id, undoes, created_at, shown_ms, source,"
        " model_version, strategy, score, rank FROM label_events ORDER BY item_id, id"
    ).fetchall()
    undone = {row[4] for row in events if row[4] is not None}
    histories: dict[int, list[dict[str, Any]]] = {}
    for event_id, item, kind, class_id, undoes, created, shown_ms, source, version, strategy, score, rank in events:
        histories.setdefault(item, []).append(
            {
                "event": event_id,
                "kind": kind,
                "class": names.get(class_id) if class_id is not None else None,
                "time": _iso(created),
                "source": source,
                "shown_ms": shown_ms,
                "model_version": version,
                "strategy": strategy,
                "score": score,
                "rank": rank,
                "undoes": undoes,
                "undone": event_id in undone,
            }
        )
    return histories


def export(
    project: Project,
    fmt: str,
    out: str | Path,
    *,
    link: bool = False,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ExportReport:
    """Write one export (every format but ``model``). ``force`` replaces an existing file or an
    earlier folder export (never the project's files or its images); ``link`` applies to the
    image folder formats, ``progress(done, total)`` and ``cancel()`` to the long ones."""
    if fmt not in FORMATS:
        raise AldeskError(f"Unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
    if fmt == "model":
        raise AldeskError("The model export needs the learning engine: use aldesk.ml.bundle.export_model.")
    if fmt in IMAGE_ONLY and not kind_of(project).needs_files:
        raise AldeskError(
            f"{project.path} holds texts; the {fmt} format is a folder of image files. Export the texts "
            "with --format csv or --format jsonl (both load with datasets.load_dataset)."
        )
    if fmt == "imagefolder":
        return export_imagefolder(project, out, link=link, force=force, progress=progress, cancel=cancel)
    if fmt == "hf-imagefolder":
        return export_hf_imagefolder(project, out, link=link, force=force, progress=progress, cancel=cancel)
    if fmt == "predictions":
        return export_predictions(project, out, force=force)
    target = file_target(project, out, force=force)  # refuse before any work
    rows = export_rows(project)
    if fmt == "csv":
        text = _csv_text(COLUMNS if kind_of(project).needs_files else TEXT_COLUMNS, rows)
    else:
        histories = label_histories(project)
        ids = [row[0] for row in project.conn.execute("SELECT id FROM items ORDER BY id")]
        for item_id, row in zip(ids, rows):
            row["history"] = histories.get(item_id, [])
        if fmt == "jsonl":
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        else:
            document = {"project": str(project.path), "classes": [c.name for c in list_classes(project)], "items": rows}
            text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    write_text_atomically(target, text)
    return ExportReport(fmt, target, written=len(rows), unit="items")


def export_predictions(project: Project, out: str | Path, *, force: bool = False) -> ExportReport:
    """The latest model's predicted class and confidence (its highest probability) for every
    item without a class label (unlabeled, skipped or unsure), as CSV."""
    target = file_target(project, out, force=force)
    model, item_ids, probs = model_store.latest_with_predictions(project, "so there are no predictions to export")
    names = {c.id: c.name for c in list_classes(project)}
    model_classes = [names.get(cid, f"class {cid}") for cid in model.class_ids]
    position = {int(item): pos for pos, item in enumerate(item_ids)}
    rows, without = [], 0
    where = _where_items_are(project)
    for item_id, status in project.conn.execute("SELECT id, status FROM items WHERE status != 'labeled' ORDER BY id"):
        pos = position.get(item_id)
        if pos is None:
            without += 1  # imported or embedded after this model was trained
            continue
        best = int(probs[pos].argmax())
        rows.append(
            {
                **where[item_id],
                "status": status,
                "predicted": model_classes[best],
                "confidence": f"{float(probs[pos, best]):.4f}",
                "model_version": model.version,
            }
        )
    columns = PREDICTION_COLUMNS if kind_of(project).needs_files else TEXT_PREDICTION_COLUMNS
    write_text_atomically(target, _csv_text(columns, rows))
    report = ExportReport("predictions", target, written=len(rows), unit="predictions")
    if without:
        report.notes.append(
            f"{without} items without a label have no prediction from model {model.version} "
            "(added or embedded after it was trained); retrain to include them"
        )
    return report


def _csv_text(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def file_target(project: Project, out: str | Path, *, force: bool) -> Path:
    """``out`` made absolute, after removing stale partials beside it; AldeskError (naming the
    file and what to do) unless an export may be written there."""
    target = Path(os.path.abspath(out))
    remove_stale_partials(target.parent)
    check_not_project_file(project, target)
    check_not_source_file(project, target)
    if target.is_dir():
        raise AldeskError(f"{target} is a folder; give a file name to export to.")
    if not target.parent.is_dir():
        raise AldeskError(f"Cannot write {target}: the folder {target.parent} does not exist.")
    if not force and (target.exists() or target.is_symlink()):
        raise AldeskError(f"{target} exists; add --force to replace it, or choose another --out.")
    return target


def write_text_atomically(target: Path, text: str) -> None:
    """Write ``text`` to a partial file beside ``target``, then rename it over ``target``.
    A full disk raises DiskFullError; on any failure the partial is removed and nothing else
    is touched."""
    try:
        fd, partial = create_partial_file(target)
    except OSError as exc:
        if is_no_space(exc):
            raise disk_full_error(target, what="the export", limit=exc.errno == errno.EFBIG) from exc
        raise AldeskError(f"Cannot write in {target.parent}: {exc.strerror or exc}") from exc
    try:
        try:
            _write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if is_no_space(exc):
            raise disk_full_error(target, what="the export", limit=exc.errno == errno.EFBIG) from exc
        raise AldeskError(f"Writing {target} failed: {exc.strerror or exc}; nothing was written.") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")
