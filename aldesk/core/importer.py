"""Importing items: folders (recursive), single files, and lists or tables, with an honest report.

What a path holds is the project's kind's to say (aldesk/core/kinds): images come as files and
CSV lists of files, texts as ``.txt`` files and CSV/TSV/JSON Lines tables. Items are examined
(hashed, fully decoded) in a thread pool (Pillow and hashlib release the GIL), then written in
batches, each batch its own transaction, so an interrupted import keeps what it did and running
it again continues where it stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aldesk.core import classes as classes_mod
from aldesk.core import labels as labels_mod
from aldesk.core.errors import ItemError
from aldesk.core.kinds import ItemKind, get_kind, kind_of
from aldesk.core.kinds.base import Candidate, Examined, ImportOptions, Note, Skipped, shown
from aldesk.core.path_list import csv_rows
from aldesk.core.store import Project, inserted_id

__all__ = ["Candidate", "ImportInterrupted", "ImportReport", "csv_rows", "discover", "import_paths", "shown"]

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
_BATCH = 500


@dataclass
class ImportReport:
    imported: int = 0
    already_present: int = 0
    labels_applied: int = 0
    new_classes: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, same as)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (file, what was done): encodings, long texts
    imported_ids: list[int] = field(default_factory=list)
    cancelled: bool = False

    def summary(self) -> str:
        return f"imported {self.imported}, already present {self.already_present}, skipped {len(self.skipped)}"


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl+C during an import. The batches stored before it are kept; ``report`` counts them."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"import interrupted after {report.imported} imported")
        self.report = report


def import_paths(
    project: Project,
    paths: Iterable[str | os.PathLike[str]],
    *,
    labels_from_folders: bool = False,
    text_column: str | None = None,
    label_column: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import every item of the project's kind found under ``paths``; see the module docstring.
    ``text_column``/``label_column`` name the columns of tables of texts (default text, label).

    Ctrl+C raises ImportInterrupted (a KeyboardInterrupt) carrying the report of what was kept.
    """
    report = ImportReport()
    options = ImportOptions(labels_from_folders, text_column, label_column)
    try:
        _import(project, paths, options, progress, cancel, workers, report)
    except KeyboardInterrupt as exc:
        report.cancelled = True
        raise ImportInterrupted(report) from exc
    return report


def _import(
    project: Project,
    paths: Iterable[str | os.PathLike[str]],
    options: ImportOptions,
    progress: Progress | None,
    cancel: Cancel | None,
    workers: int | None,
    report: ImportReport,
) -> None:
    kind = kind_of(project)
    candidates: list[tuple[Candidate, str]] = []
    for cand in _unique(discover(paths, options, report, kind=kind)):
        stored = project.stored_path(cand.path)
        problem = _unstorable(stored, cand.path)
        if cand.row is not None:
            stored = f"{stored}#{cand.row}"  # one row of a table: its line
        if problem:
            report.skipped.append((cand.where, problem))
        else:
            candidates.append((cand, stored))
    known_paths = {
        path: (item_id, status) for path, item_id, status in project.conn.execute("SELECT path, id, status FROM items")
    }
    known_hashes = dict(project.conn.execute("SELECT sha256, path FROM items"))
    class_ids = _classes_for(project, [cand for cand, _ in candidates], report)

    pending_labels: list[tuple[int, int]] = []
    fresh: list[tuple[Candidate, str]] = []
    for cand, stored in candidates:
        known = known_paths.get(stored)
        if known is None:
            fresh.append((cand, stored))
            continue
        report.already_present += 1
        item_id, status = known
        # Import labels fill unlabeled items; they never override a label already given.
        if cand.label is not None and status != "labeled":
            pending_labels.append((item_id, class_ids[cand.label]))
    if pending_labels:
        report.labels_applied += labels_mod.record_many(project, pending_labels, source="import")

    total = len(fresh)
    done = 0
    if progress:
        progress(0, total)
    batches = list(_batches(fresh, _BATCH))
    pool = ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 2) + 2))
    try:
        # One batch ahead: the threads examine batch i+1 while this thread stores batch i.
        ahead = [pool.submit(_examine, cand, kind) for cand, _ in batches[0]] if batches else []
        for index, batch in enumerate(batches):
            if cancel and cancel():
                report.cancelled = True
                break
            current = ahead
            following = batches[index + 1] if index + 1 < len(batches) else []
            ahead = [pool.submit(_examine, c, kind) for c, _ in following]
            examined = [future.result() for future in current]
            _store_batch(project, batch, examined, known_hashes, class_ids, report)
            done += len(batch)
            if progress:
                progress(done, total)
    finally:
        # Never wait here: after Ctrl+C the threads finish the file each has (a bounded read,
        # regular files only) and stop; nothing queued is started.
        pool.shutdown(wait=False, cancel_futures=True)


def _unstorable(stored: str, path: Path) -> str | None:
    # SQLite text is UTF-8, so a Linux name with other bytes (surrogate-escaped by Python) cannot
    # be stored as it is; any reversible escape would have to be undone by every reader of
    # items.path (store, exports, relocate), so such a file is skipped with a way out instead.
    if not _bad_utf8(stored):
        return None
    which = "file" if _bad_utf8(path.name) else "folder"
    return f"{which} name is not valid UTF-8, which the project cannot store: rename it to a UTF-8 name"


def _bad_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def discover(
    paths: Iterable[str | os.PathLike[str]], options: ImportOptions, report: ImportReport, *, kind: ItemKind | None = None
) -> Iterator[Candidate]:
    """Expand folders, lists/tables and files into candidates; unusable entries go to the report.
    From folders only the files ``kind`` takes (default: images)."""
    kind = kind or get_kind("image")
    for raw in paths:
        path = Path(os.path.abspath(Path(raw).expanduser()))
        if path.is_dir():
            yield from _walk_folder(path, options.labels_from_folders, kind)
        elif path.is_file() and kind.lists(path):
            for entry in kind.listed(path, options):
                if isinstance(entry, Skipped):
                    report.skipped.append((entry.where, entry.reason))
                elif isinstance(entry, Note):
                    report.notes.append((entry.where, entry.note))
                else:
                    yield entry
        elif os.path.lexists(path):
            # Also a FIFO, device or broken link: _examine skips it with its reason, unopened.
            yield Candidate(path, path.parent.name if options.labels_from_folders else None)
        else:
            report.skipped.append((shown(path), "no such file or folder"))


def _walk_folder(root: Path, labels_from_folders: bool, kind: ItemKind) -> Iterator[Candidate]:
    for folder, dirnames, filenames in os.walk(root):
        # Hidden folders and files (.git, .thumbnails, macOS ._ files) are never images to label.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not kind.takes(name):
                continue
            label = Path(folder).name if labels_from_folders and Path(folder) != root else None
            yield Candidate(Path(folder) / name, label)


def _unique(candidates: Iterable[Candidate]) -> Iterator[Candidate]:
    seen: set[tuple[Path, int | None]] = set()
    for cand in candidates:
        if (cand.path, cand.row) not in seen:
            seen.add((cand.path, cand.row))
            yield cand


def _classes_for(project: Project, candidates: list[Candidate], report: ImportReport) -> dict[str, int]:
    names = sorted({c.label for c in candidates if c.label is not None})
    if not names:
        return {}
    before = {c.name for c in classes_mod.list_classes(project)}
    ids = classes_mod.ensure_classes(project, names)
    report.new_classes = [c.name for c in classes_mod.list_classes(project) if c.name not in before]
    return ids


def _examine(cand: Candidate, kind: ItemKind) -> Examined | ItemError:
    """Hash and validate one candidate as an item of ``kind``; runs in a worker thread."""
    try:
        return kind.examine(cand)
    except ItemError as exc:
        return exc
    except OSError as exc:
        return ItemError(cand.path, f"unreadable: {exc.strerror or exc}")


def _store_batch(
    project: Project,
    batch: list[tuple[Candidate, str]],
    examined: list[Examined | ItemError],
    known_hashes: dict[str, str],
    class_ids: dict[str, int],
    report: ImportReport,
) -> None:
    """Store one batch, its import labels in the same transaction; the report learns of it
    only after the commit, so an interrupted batch is neither kept nor counted."""
    now = time.time()
    skipped: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    duplicates: list[tuple[str, str]] = []
    added: dict[str, str] = {}  # digest -> stored path, for known_hashes once committed
    ids: list[int] = []
    labels: list[tuple[int, int]] = []
    with project.transaction() as conn:
        for (cand, stored), result in zip(batch, examined):
            if isinstance(result, ItemError):
                skipped.append((cand.where, result.reason))
                continue
            same = known_hashes.get(result.digest) or added.get(result.digest)
            if same is not None:
                duplicates.append((cand.where, _where_stored(project, same)))
                continue
            cursor = conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                (stored, result.digest, result.size, result.width, result.height, now),
            )
            item_id = inserted_id(cursor)
            if result.text is not None:
                conn.execute("INSERT INTO item_texts(item_id, text) VALUES (?, ?)", (item_id, result.text))
            if result.note:
                notes.append((cand.where, result.note))
            added[result.digest] = stored
            ids.append(item_id)
            if cand.label is not None:
                labels.append((item_id, class_ids[cand.label]))
        labels_mod.insert_labels(conn, labels, source="import", at=now)
    known_hashes.update(added)
    report.skipped += skipped
    report.notes += notes
    report.duplicates += duplicates
    report.already_present += len(duplicates)
    report.imported += len(ids)
    report.imported_ids += ids
    report.labels_applied += len(labels)


def _where_stored(project: Project, stored: str) -> str:
    """A stored path as reports name it: a table's row as "FILE line N"."""
    base, hash_mark, row = stored.rpartition("#")
    if hash_mark and row.isdigit() and not project.resolve(stored).exists():
        return f"{shown(project.resolve(base))} line {row}"
    return shown(project.resolve(stored))


def _batches(items: list[tuple[Candidate, str]], size: int) -> Iterator[list[tuple[Candidate, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
