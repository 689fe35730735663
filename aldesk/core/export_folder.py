"""Labeled images as folders other tools read directly.

``imagefolder``: ``OUT/<class>/<image>``, the layout of torchvision's ``ImageFolder`` (and of
``aldesk import --labels-from-folders``). ``hf-imagefolder``: ``OUT/images/<image>`` plus
``OUT/metadata.csv`` with the columns ``file_name`` (the image's path relative to the metadata
file, POSIX separators) and ``label`` (the class name), the layout Hugging Face ``datasets``'
imagefolder loader reads: "Your metadata.csv file must have a file_name column which links image
files with their metadata", and when the images sit in a subfolder "the file_name column must be
a full relative path to the images" (huggingface.co/docs/hub/datasets-image, "Additional
columns" and "Relative paths"). The images are flat on purpose: with class folders as well, the
loader would also infer a label from the folder names. Load it with
``datasets.load_dataset("imagefolder", data_dir=OUT)``.

Only items with a class label are exported. Images are copied, or hard-linked with ``link``
(falling back to a copy, with a note, where the file system refuses, e.g. across devices).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aldesk import __version__
from aldesk.core.classes import list_classes
from aldesk.core.disk import is_no_space
from aldesk.core.errors import AldeskError
from aldesk.core.export_names import UniqueNames, class_folders
from aldesk.core.export_report import ExportReport
from aldesk.core.export_target import MARKER, StagedFolder
from aldesk.core.store import Project

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]

HF_METADATA = "metadata.csv"
HF_IMAGES = "images"


def labeled_items(project: Project) -> list[tuple[Path, str]]:
    """(absolute path, class name) of every labeled item, in import order."""
    names = {c.id: c.name for c in list_classes(project)}
    return [
        (project.resolve(path), names[class_id])
        for path, class_id in project.conn.execute("SELECT path, label_class_id FROM items WHERE status = 'labeled' ORDER BY id")
    ]


def export_imagefolder(
    project: Project,
    out: str | Path,
    *,
    link: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ExportReport:
    items = labeled_items(project)
    folders = class_folders([c.name for c in list_classes(project)], reserved=[MARKER])
    with StagedFolder(out, project, force=force) as stage:
        report = ExportReport("imagefolder", stage.out, unit="images", folders=folders)
        names = {folder: UniqueNames() for folder in folders.values()}
        for folder in folders.values():
            stage.path(folder).mkdir()

        def place(source: Path, label: str) -> Path:
            folder = folders[label]
            return stage.path(folder, names[folder].file(source.name))

        if _copy_all(items, place, link, report, progress, cancel):
            stage.write_marker(_manifest(project, "imagefolder", report))
            stage.commit()
    return report


def export_hf_imagefolder(
    project: Project,
    out: str | Path,
    *,
    link: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ExportReport:
    items = labeled_items(project)
    with StagedFolder(out, project, force=force) as stage:
        report = ExportReport("hf-imagefolder", stage.out, unit="images")
        stage.path(HF_IMAGES).mkdir()
        unique = UniqueNames()
        rows: list[tuple[str, str]] = []

        def place(source: Path, label: str) -> Path:
            name = unique.file(source.name)
            rows.append((f"{HF_IMAGES}/{name}", label))
            return stage.path(HF_IMAGES, name)

        if _copy_all(items, place, link, report, progress, cancel):
            kept = [row for row in rows if stage.path(row[0]).is_file()]  # missing images leave no row
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["file_name", "label"])
            writer.writerows(kept)
            stage.path(HF_METADATA).write_text(buffer.getvalue(), encoding="utf-8")
            stage.write_marker(_manifest(project, "hf-imagefolder", report))
            stage.commit()
    return report


def _copy_all(
    items: list[tuple[Path, str]],
    place: Callable[[Path, str], Path],
    link: bool,
    report: ExportReport,
    progress: Progress | None,
    cancel: Cancel | None,
) -> bool:
    """Copy or link every item to where ``place`` says; False when cancelled."""
    link_failure: str | None = None
    for done, (source, label) in enumerate(items):
        if cancel is not None and cancel():
            report.cancelled = True
            return False
        if source.is_file():
            refused = _place_one(source, place(source, label), link and link_failure is None, report)
            link_failure = link_failure or refused
        else:
            report.missing.append(str(source))
        if progress is not None:
            progress(done + 1, len(items))
    if link_failure is not None:
        report.notes.append(f"hard links were refused ({link_failure}); {report.copied} images were copied instead")
    if progress is not None and not items:
        progress(0, 0)
    return True


def _place_one(source: Path, target: Path, link: bool, report: ExportReport) -> str | None:
    """Link (if asked) or copy one image; returns why a link was refused, if it was."""
    refused = None
    try:
        if link:
            try:
                os.link(source, target)
                report.linked += 1
                report.written += 1
                return None
            except FileNotFoundError:
                raise
            except OSError as exc:
                # One refusal (another device, a file system without hard links) means the rest
                # would be refused too: the caller copies from here on and says so once.
                refused = exc.strerror or str(exc)
        shutil.copyfile(source, target)
        report.copied += 1
        report.written += 1
    except FileNotFoundError:
        report.missing.append(str(source))  # removed while we were exporting
    except OSError as exc:
        if is_no_space(exc):
            raise  # the staging folder turns it into DiskFullError, naming the export
        raise AldeskError(f"Exporting {source} to {target} failed: {exc.strerror or exc}") from exc
    return refused


def _manifest(project: Project, fmt: str, report: ExportReport) -> dict[str, Any]:
    return {
        "format": fmt,
        "project": str(project.path),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "aldesk_version": __version__,
        "images": report.written,
        "class_folders": report.folders,
        "missing": report.missing,
    }
