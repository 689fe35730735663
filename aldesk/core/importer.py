"""Importing images: folders (recursive), single files and CSV lists, with an honest report.

Files are hashed and fully decoded in a thread pool (Pillow and hashlib release the GIL), then
written in batches, each batch its own transaction, so an interrupted import keeps what it did
and running it again continues where it stopped.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aldesk.core import classes as classes_mod
from aldesk.core import labels as labels_mod
from aldesk.core.errors import AldeskError, ImageError
from aldesk.core.imageio import ImageInfo, open_regular
from aldesk.core.kinds import ItemKind, get_kind, kind_of
from aldesk.core.store import Project, inserted_id

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
_BATCH = 500
# A first row whose first cell is one of these is a header, not a file.
_PATH_HEADERS = {"path", "file", "filename", "image", "filepath"}


@dataclass(frozen=True)
class Candidate:
    """A file to import and, when known, the label that comes with it."""

    path: Path
    label: str | None = None


@dataclass
class ImportReport:
    imported: int = 0
    already_present: int = 0
    labels_applied: int = 0
    new_classes: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, same as)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
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
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import every image found under ``paths``; see the module docstring.

    Ctrl+C raises ImportInterrupted (a KeyboardInterrupt) carrying the report of what was kept.
    """
    report = ImportReport()
    try:
        _import(project, paths, labels_from_folders, progress, cancel, workers, report)
    except KeyboardInterrupt as exc:
        report.cancelled = True
        raise ImportInterrupted(report) from exc
    return report


def _import(
    project: Project,
    paths: Iterable[str | os.PathLike[str]],
    labels_from_folders: bool,
    progress: Progress | None,
    cancel: Cancel | None,
    workers: int | None,
    report: ImportReport,
) -> None:
    kind = kind_of(project)
    candidates: list[tuple[Candidate, str]] = []
    for cand in _unique(discover(paths, labels_from_folders, report, kind=kind)):
        stored = project.stored_path(cand.path)
        problem = _unstorable(stored, cand.path)
        if problem:
            report.skipped.append((shown(cand.path), problem))
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


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` as printable text: bytes that are not UTF-8 appear as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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
    paths: Iterable[str | os.PathLike[str]], labels_from_folders: bool, report: ImportReport, *, kind: ItemKind | None = None
) -> Iterator[Candidate]:
    """Expand folders, CSV lists and files into candidates; unusable entries go to the report.
    From folders only the files ``kind`` takes (default: images)."""
    kind = kind or get_kind("image")
    for raw in paths:
        path = Path(os.path.abspath(Path(raw).expanduser()))
        if path.is_dir():
            yield from _walk_folder(path, labels_from_folders, kind)
        elif path.suffix.lower() == ".csv" and path.is_file():
            yield from read_csv_list(path, report)
        elif os.path.lexists(path):
            # Also a FIFO, device or broken link: _examine skips it with its reason, unopened.
            yield Candidate(path, path.parent.name if labels_from_folders else None)
        else:
            report.skipped.append((shown(path), "no such file or folder"))


def read_csv_list(csv_path: Path, report: ImportReport) -> Iterator[Candidate]:
    """Candidates from a CSV list; rows naming no existing file go to the report."""
    for number, target, label in csv_rows(csv_path):
        if not os.path.lexists(target):
            report.skipped.append((shown(target), f"listed in {csv_path.name} row {number}, but no such file"))
            continue
        yield Candidate(target, label)


def csv_rows(csv_path: Path) -> Iterator[tuple[int, Path, str | None]]:
    """Rows of ``path[,label]`` as (row number, absolute path, label or None).

    A header row (first cell ``path``, ``file``, ``filename``, ...) is optional; relative paths
    resolve against the CSV's folder.
    """
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AldeskError(f"Cannot read the CSV list {csv_path}: {exc}") from exc
    start = 1
    if rows and rows[0] and rows[0][0].strip().lower() in _PATH_HEADERS:
        rows, start = rows[1:], 2
    for number, row in enumerate(rows, start=start):
        if not row or not row[0].strip():
            continue
        target = Path(row[0].strip()).expanduser()
        if not target.is_absolute():
            target = csv_path.parent / target
        label = row[1].strip() if len(row) > 1 and row[1].strip() else None
        yield number, Path(os.path.abspath(target)), label


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
    seen: set[Path] = set()
    for cand in candidates:
        if cand.path not in seen:
            seen.add(cand.path)
            yield cand


def _classes_for(project: Project, candidates: list[Candidate], report: ImportReport) -> dict[str, int]:
    names = sorted({c.label for c in candidates if c.label is not None})
    if not names:
        return {}
    before = {c.name for c in classes_mod.list_classes(project)}
    ids = classes_mod.ensure_classes(project, names)
    report.new_classes = [c.name for c in classes_mod.list_classes(project) if c.name not in before]
    return ids


def _examine(cand: Candidate, kind: ItemKind) -> tuple[str, int, ImageInfo] | ImageError:
    """Hash and validate one file as an item of ``kind``; runs in a worker thread."""
    try:
        with open_regular(cand.path) as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
            size = handle.tell()
        info: ImageInfo = kind.examine(cand.path)
        return digest, size, info
    except ImageError as exc:
        return exc
    except OSError as exc:
        return ImageError(cand.path, f"unreadable: {exc.strerror or exc}")


def _store_batch(
    project: Project,
    batch: list[tuple[Candidate, str]],
    examined: list[tuple[str, int, ImageInfo] | ImageError],
    known_hashes: dict[str, str],
    class_ids: dict[str, int],
    report: ImportReport,
) -> None:
    """Store one batch, its import labels in the same transaction; the report learns of it
    only after the commit, so an interrupted batch is neither kept nor counted."""
    now = time.time()
    skipped: list[tuple[str, str]] = []
    duplicates: list[tuple[str, str]] = []
    added: dict[str, str] = {}  # digest -> stored path, for known_hashes once committed
    ids: list[int] = []
    labels: list[tuple[int, int]] = []
    with project.transaction() as conn:
        for (cand, stored), result in zip(batch, examined):
            if isinstance(result, ImageError):
                skipped.append((shown(cand.path), result.reason))
                continue
            digest, size, info = result
            same = known_hashes.get(digest) or added.get(digest)
            if same is not None:
                duplicates.append((shown(cand.path), shown(project.resolve(same))))
                continue
            cursor = conn.execute(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                (stored, digest, size, info.width, info.height, now),
            )
            item_id = inserted_id(cursor)
            added[digest] = stored
            ids.append(item_id)
            if cand.label is not None:
                labels.append((item_id, class_ids[cand.label]))
        labels_mod.insert_labels(conn, labels, source="import", at=now)
    known_hashes.update(added)
    report.skipped += skipped
    report.duplicates += duplicates
    report.already_present += len(duplicates)
    report.imported += len(ids)
    report.imported_ids += ids
    report.labels_applied += len(labels)


def _batches(items: list[tuple[Candidate, str]], size: int) -> Iterator[list[tuple[Candidate, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
