"""The built-in demo project: 3,000 Fashion-MNIST images, labels held back as hidden truth.

The truth is stored in ``item_truth`` (never shown as labels) so simulations and accuracy checks
can use it later; the person starts from an unlabeled pool, as with their own data.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import zipfile
from pathlib import Path

import platformdirs

from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError
from aldesk.core.importer import ImportReport, Progress, import_paths
from aldesk.core.resources import resources_dir
from aldesk.core.store import Project, create_project, open_project

DEMO_NAME = "fashion-mnist-demo"
# Fashion-MNIST's label order (indices 0-9), as named in resources/demo/README.md.
DEMO_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")


def default_demo_dir() -> Path:
    return Path(platformdirs.user_data_dir("aldesk", appauthor=False)) / "demo"


def sample_archive() -> Path:
    archive = resources_dir() / "demo" / "fashion-mnist-sample.zip"
    if not archive.is_file():
        raise AldeskError(f"The demo sample {archive} is missing; reinstall aldesk.")
    return archive


def demo_project_path(out_dir: Path) -> Path:
    return out_dir / f"{DEMO_NAME}.aldesk"


def build_demo(out_dir: str | Path | None = None, progress: Progress | None = None) -> Path:
    """Build the demo project in ``out_dir`` (reused when already built); return its path."""
    out = Path(os.path.abspath(Path(out_dir).expanduser())) if out_dir else default_demo_dir()
    target = demo_project_path(out)
    if target.exists():
        return target
    out.mkdir(parents=True, exist_ok=True)
    images_dir = out / f"{DEMO_NAME}-images"
    truth = _extract_sample(sample_archive(), images_dir)
    # Build under a temporary name and rename at the end: an interrupted build never leaves a
    # half-made project that a later run would reuse.
    partial = out / f".{DEMO_NAME}.aldesk.partial"
    for stale in out.glob(f".{DEMO_NAME}.aldesk.partial*"):
        stale.unlink()
    project = create_project(partial)
    try:
        add_classes(project, list(DEMO_CLASSES))
        report = import_paths(project, [images_dir], progress=progress)
        _check_import(report)
        _store_truth(project, images_dir, truth)
    finally:
        project.close()
    os.replace(partial, target)
    return target


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
