"""A million-item project for the scale benchmarks, built in about a minute and cached.

    PYTHONPATH=. python benchmarks/bench_scale_data.py --items 1000000

What it holds (under ~/.cache/aldesk/bench/scale-<items>/, reused by later runs):

- ``images/src*.png``: ``SOURCES`` small generated PNGs (64x64), and for every item a hard link
  ``images/<item // 1000>/<item>.png`` to one of them, so paths are unique per item while the
  disk holds only the few hundred files (ext4 allows 65,000 links per file).
- ``scale.aldesk``: the items written directly with the schema's columns in one transaction
  (the importer would hash and decode a million files: the import rate is measured on its own).
  Each item's ``sha256`` is the hash of its item number, not of the file, because the column is
  unique and the files are shared.
- Synthetic embeddings for the default backbone's identity (so the app finds everything
  embedded and never starts its backbone on these files): a mixture of ``CLASSES`` Gaussians in
  1,280-d float16, stored through the real API (``vectors.get_or_create_set`` + ``add_chunk``, in
  chunks of ``CHUNK`` items as the embedding job writes them).
- Labels through ``labels.record_many`` (source ``import``): every item of mixture component 0 as
  class 0 (~100,000: the review grid's big class) and ``--labels-per-class`` of each other class.

``reset_project`` brings the file back to that state (drops models, queue and later labels), so
benchmarks that open it in the app can run again without rebuilding.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np

from aldesk.core import labels, vectors
from aldesk.core.classes import add_classes
from aldesk.core.store import create_project, open_project
from benchmarks import harness
from benchmarks.harness import CACHE

SOURCES = 300
CLASSES = 10
CHUNK = 512
LABELS_PER_CLASS = 2_000
DONE = "built.txt"  # written last: a folder without it is a half-built one
# What the scripts on this project use in a smoke run (--smoke): ~30 items of class0 plus 3 per
# other class labeled, the rest not, so there is something to train and something to pick.
SMOKE_ITEMS, SMOKE_LABELS_PER_CLASS = 300, 3


def scale_folder(items: int, labels_per_class: int = LABELS_PER_CLASS) -> Path:
    return CACHE / (f"scale-{items}" if labels_per_class == LABELS_PER_CLASS else f"scale-{items}-{labels_per_class}")


def project_for(args: argparse.Namespace) -> Path:
    """The cached project of ``args.items`` items, with a smoke run's labels under --smoke."""
    return ensure_scale_project(args.items, labels_per_class=SMOKE_LABELS_PER_CLASS if args.smoke else LABELS_PER_CLASS)


def ensure_scale_project(items: int, *, labels_per_class: int = LABELS_PER_CLASS, seed: int = 0, log=print) -> Path:
    """The cached project's path, building it first when needed."""
    folder = scale_folder(items, labels_per_class)
    path = folder / "scale.aldesk"
    if (folder / DONE).exists():
        reset_project(path)
        return path
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    _write_images(folder, items)
    log(f"images: {time.perf_counter() - started:.1f} s")
    step = time.perf_counter()
    project = create_project(path)
    try:
        classes = add_classes(project, [f"class{k}" for k in range(CLASSES)], [str((k + 1) % 10) for k in range(CLASSES)])
        _write_items(project, items)
        log(f"items: {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()
        component = _write_embeddings(project, items, seed)
        log(f"embeddings: {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()
        _write_labels(project, component, [c.id for c in classes], labels_per_class, seed)
        log(f"labels: {time.perf_counter() - step:.1f} s")
        with project.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('bench_base_event', (SELECT coalesce(max(id), 0) FROM label_events))"
            )
        project.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        project.close()
    (folder / DONE).write_text(f"built in {time.perf_counter() - started:.0f} s\n")
    return path


def _write_images(folder: Path, items: int) -> None:
    from PIL import Image

    images = folder / "images"
    images.mkdir()
    rng = np.random.default_rng(1)
    for k in range(SOURCES):
        pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((64, 64), Image.Resampling.BILINEAR).save(images / f"src{k}.png")
    for i in range(items):
        if i % 1000 == 0:
            (images / f"{i // 1000:04d}").mkdir()
        os.link(images / f"src{i % SOURCES}.png", images / f"{i // 1000:04d}" / f"{i:07d}.png")


def _write_items(project, items: int) -> None:
    now = time.time()
    rows = (
        (f"images/{i // 1000:04d}/{i:07d}.png", hashlib.sha256(b"%d" % i).hexdigest(), 200, 64, 64, now) for i in range(items)
    )
    with project.transaction() as conn:
        conn.executemany("INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?,?,?,?,?,?)", rows)


def _write_embeddings(project, items: int, seed: int) -> np.ndarray:
    """Store the mixture's vectors; returns each item's mixture component (its true class)."""
    from aldesk.ml.encoders import load_backbone

    backbone = load_backbone(None)
    dim = backbone.spec.dim
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, size=(CLASSES, dim)).astype(np.float32)
    component = rng.integers(0, CLASSES, items)
    ids = np.array([row[0] for row in project.conn.execute("SELECT id FROM items ORDER BY id")], dtype=np.int64)
    eset = vectors.get_or_create_set(project, backbone.spec.name, backbone.identity, dim)
    for start in range(0, items, CHUNK):
        stop = min(start + CHUNK, items)
        noise = rng.standard_normal((stop - start, dim), dtype=np.float32) * 1.5
        vectors.add_chunk(project, eset.id, ids[start:stop], centres[component[start:stop]] + noise)
    return component


def _write_labels(project, component: np.ndarray, class_ids: list[int], per_class: int, seed: int) -> None:
    rng = np.random.default_rng(seed + 1)
    ids = np.array([row[0] for row in project.conn.execute("SELECT id FROM items ORDER BY id")], dtype=np.int64)
    chosen = [np.flatnonzero(component == 0)]
    for k in range(1, CLASSES):
        members = np.flatnonzero(component == k)
        chosen.append(rng.choice(members, min(per_class, len(members)), replace=False))
    pairs = [(int(ids[i]), class_ids[k]) for k, members in enumerate(chosen) for i in members]
    labels.record_many(project, pairs, source="import")


def reset_project(path: Path) -> None:
    """Back to the built state: no models, queue, suspects, or labels given after the build."""
    project = open_project(path)
    try:
        base = int(project.meta("bench_base_event", "0"))
        later = [row[0] for row in project.conn.execute("SELECT DISTINCT item_id FROM label_events WHERE id > ?", (base,))]
        with project.transaction() as conn:
            for table in ("suspect_runs", "queue", "prediction_chunks", "models"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM label_events WHERE id > ?", (base,))
            for item in later:  # back to the item's state from the build's labels
                row = conn.execute(
                    "SELECT class_id, created_at FROM label_events WHERE item_id = ? ORDER BY id DESC LIMIT 1", (item,)
                ).fetchone()
                conn.execute(
                    "UPDATE items SET status = ?, label_class_id = ?, labeled_at = ? WHERE id = ?",
                    ("labeled", row[0], row[1], item) if row else ("unlabeled", None, None, item),
                )
        project.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        project.close()


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--labels-per-class", type=int, default=LABELS_PER_CLASS)
    args = harness.parse(parser, smoke={"items": SMOKE_ITEMS, "labels_per_class": SMOKE_LABELS_PER_CLASS})
    if args.write_docs:
        parser.error("this script builds the data of the scale benchmarks; it writes no section")
    path = ensure_scale_project(args.items, labels_per_class=args.labels_per_class)
    print(path, f"{path.stat().st_size / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
