"""The built-in demo projects: 3,000 Fashion-MNIST images, or (``--text``) 600 SpamAssassin
mails to sort into ham and spam; labels held back as hidden truth.

The truth is stored in ``item_truth`` (never shown as labels) so simulations and accuracy checks
can use it later; the person starts from an unlabeled pool, as with their own data.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import platformdirs

from aldesk.core.classes import add_classes
from aldesk.core.disk import disk_full_error
from aldesk.core.errors import AldeskError
from aldesk.core.importer import ImportReport, Progress, import_paths
from aldesk.core.items import texts_of
from aldesk.core.kinds import set_kind
from aldesk.core.resources import resources_dir
from aldesk.core.store import Project, create_project, open_project

DEMO_NAME = "fashion-mnist-demo"
# Fashion-MNIST's label order (indices 0-9), as named in resources/demo/README.md.
DEMO_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")


TEXT_DEMO_NAME = "spam-demo"
TEXT_DEMO_CLASSES = ("ham", "spam")


def default_demo_dir() -> Path:
    return Path(platformdirs.user_data_dir("aldesk", appauthor=False)) / "demo"


def sample_archive() -> Path:
    archive = resources_dir() / "demo" / "fashion-mnist-sample.zip"
    if not archive.is_file():
        raise AldeskError(f"The demo sample {archive} is missing; reinstall aldesk.")
    return archive


def text_sample() -> Path:
    sample = resources_dir() / "demo" / "spam-assassin-sample.jsonl"
    if not sample.is_file():
        raise AldeskError(f"The text demo sample {sample} is missing; reinstall aldesk.")
    return sample


def demo_project_path(out_dir: Path, *, text: bool = False) -> Path:
    return out_dir / f"{TEXT_DEMO_NAME if text else DEMO_NAME}.aldesk"


def build_demo(out_dir: str | Path | None = None, progress: Progress | None = None, *, text: bool = False) -> Path:
    """Build the demo project (``text``: the text one) in ``out_dir`` (reused when already
    built); return its path."""
    out = Path(os.path.abspath(Path(out_dir).expanduser())) if out_dir else default_demo_dir()
    target = demo_project_path(out, text=text)
    if target.exists():
        return target
    out.mkdir(parents=True, exist_ok=True)
    if text:
        return _build_text_demo(out, target, progress)
    images_dir = out / f"{DEMO_NAME}-images"
    truth = _extract_sample(sample_archive(), images_dir)

    def fill(project: Project) -> None:
        add_classes(project, list(DEMO_CLASSES))
        report = import_paths(project, [images_dir], progress=progress)
        _check_import(report)
        _store_truth(project, images_dir, truth)

    return _build_as(out, target, fill)


def _build_as(out: Path, target: Path, fill: Callable[[Project], None]) -> Path:
    """Build the project at ``target`` under a temporary name and rename it at the end: an
    interrupted build never leaves a half-made project that a later run would reuse, and a
    failed one (a full disk) leaves nothing behind, not even SQLite's side files."""
    partial = out / f".{target.name}.partial"
    _remove_partial(out, partial.name)
    try:
        project = create_project(partial)
        try:
            fill(project)
        finally:
            project.close()
        wal = Path(f"{partial}-wal")
        if wal.exists() and wal.stat().st_size:  # the checkpoint at close failed: not all in the one file
            raise disk_full_error(target, outcome="the demo project could not be completed")
        os.replace(partial, target)  # closed and checkpointed: the one file is the project
    except BaseException:
        _remove_partial(out, partial.name)
        raise
    _remove_partial(out, partial.name)  # an empty -wal or -shm a failing disk kept from removal
    return target


def _remove_partial(out: Path, name: str) -> None:
    for stale in out.glob(f"{name}*"):  # the file, its -wal and -shm, its lock
        try:
            stale.unlink()
        except OSError:
            pass  # removed at the next build


def _build_text_demo(out: Path, target: Path, progress: Progress | None) -> Path:
    sample = text_sample()
    truth: dict[str, str] = {}
    for line in sample.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            truth[record["text"].strip()] = record["class"]

    def fill(project: Project) -> None:
        set_kind(project, "text")
        add_classes(project, list(TEXT_DEMO_CLASSES))
        # The sample's key is "class", not "label": imported unlabeled, the classes kept as truth.
        report = import_paths(project, [sample], progress=progress)
        _check_import(report)
        ids = [item_id for (item_id,) in project.conn.execute("SELECT id FROM items")]
        rows = [(item_id, truth[text]) for item_id, text in texts_of(project, ids).items()]
        with project.transaction() as conn:
            conn.executemany("INSERT INTO item_truth(item_id, class_name) VALUES (?, ?)", rows)

    return _build_as(out, target, fill)


def _extract_sample(archive: Path, images_dir: Path) -> dict[str, str]:
    """Unpack the images; return the true label of each image file name."""
    with zipfile.ZipFile(archive) as bundle:
        labels_text = bundle.read("labels.csv").decode("utf-8")
        truth = {Path(row["file"]).name: row["label"] for row in csv.DictReader(io.StringIO(labels_text))}
        if images_dir.exists():
            shutil.rmtree(images_dir)
        images_dir.mkdir(parents=True)
        for member in bundle.infolist():
            name = Path(member.filename)
            if name.parent.name != "images" or member.is_dir() or name.name not in truth:
                continue
            (images_dir / name.name).write_bytes(bundle.read(member))
    return truth


def _check_import(report: ImportReport) -> None:
    if report.skipped:
        path, reason = report.skipped[0]
        raise AldeskError(f"The demo sample is damaged ({path}: {reason}); reinstall aldesk.")


def _store_truth(project: Project, images_dir: Path, truth: dict[str, str]) -> None:
    rows = []
    for item_id, stored in project.conn.execute("SELECT id, path FROM items"):
        name = project.resolve(stored).name
        rows.append((item_id, truth[name]))
    with project.transaction() as conn:
        conn.executemany("INSERT INTO item_truth(item_id, class_name) VALUES (?, ?)", rows)


def open_demo(out_dir: str | Path | None = None) -> Project:
    return open_project(build_demo(out_dir))
