"""Test data for bench_keypress.py: 12-megapixel JPEGs (cached) and a large project using them.

The JPEGs are photo-like (smooth colour fields, mid-scale texture and grain), 4000x3000 at
quality 90, about 4 MB each, so they decode like camera pictures, not like flat colour or noise.
They are generated once into ``~/.cache/aldesk/bench/jpeg-4000x3000`` and reused.

The project: the distinct JPEGs go through aldesk's real importer; the remaining items are hard
links to those files, inserted as item rows in bulk (the importer dedupes by SHA-256, so it would
refuse copies; each extra row gets a placeholder hash). Embeddings are synthetic (clustered
vectors with the default backbone's identity and width), so the real learning worker skips
embedding and trains and scores on every refresh as it would on a real 100,000-item project.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.harness import CACHE

WIDTH, HEIGHT = 4000, 3000
CLASSES = ["cat", "dog", "bird", "fish", "horse"]
HOTKEYS = ["1", "2", "3", "4", "5"]


def _make_jpeg(args: tuple[int, Path, tuple[int, int]]) -> None:
    seed, path, (width, height) = args
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    texture = Image.fromarray(rng.integers(0, 256, (height // 40, width // 40, 3), dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    pixels = np.asarray(Image.blend(base, texture, 0.35)).astype(np.int16)
    pixels += rng.integers(-12, 13, (height, width, 1), dtype=np.int16)  # grain
    tmp = path.with_suffix(".part")
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(tmp, format="JPEG", quality=90)
    tmp.replace(path)  # a killed run never leaves a half-written JPEG in the cache


def ensure_jpegs(count: int, *, size: tuple[int, int] = (WIDTH, HEIGHT), processes: int = 2, log=print) -> list[Path]:
    """``count`` distinct JPEGs of ``size`` (12 MP unless told) from the cache, generating the missing ones."""
    folder = CACHE / f"jpeg-{size[0]}x{size[1]}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo-{i:04d}.jpg" for i in range(count)]
    missing = [(i, p, size) for i, p in enumerate(paths) if not p.exists()]
    if missing:
        start = time.perf_counter()
        log(f"generating {len(missing)} JPEGs of {size[0]}x{size[1]} into {folder} (once) ...")
        with ProcessPoolExecutor(processes) as pool:
            list(pool.map(_make_jpeg, missing))
        log(f"  done in {time.perf_counter() - start:.0f} s")
    return paths


if __name__ == "__main__":
    import sys

    ensure_jpegs(int(sys.argv[1]) if len(sys.argv) > 1 else 300)


def build_project(
    folder: Path, jpegs: list[Path], items: int, labeled: int, *, backbone: str | None, seed: int = 0, log=print
) -> tuple[Path, dict[int, int]]:
    """A project of ``items`` items over ``jpegs``; returns its path and each item's true class.

    ``labeled`` items get their true label up front (source 'import'), so the worker trains a
    real model from the first refresh on.
    """
    from aldesk.core import labels, vectors
    from aldesk.core.classes import add_classes
    from aldesk.core.importer import import_paths
    from aldesk.core.store import create_project
    from aldesk.ml.encoders import load_backbone

    start = time.perf_counter()
    path = folder / "bench.aldesk"
    project = create_project(path)
    try:
        classes = add_classes(project, CLASSES, HOTKEYS)
        report = import_paths(project, jpegs)
        if report.skipped or report.imported != len(jpegs):
            raise RuntimeError(f"import of the bench JPEGs went wrong: {report.summary()} {report.skipped[:3]}")
        sources = project.conn.execute("SELECT path, bytes, width, height FROM items ORDER BY id").fetchall()
        links = folder / "links"
        rows = []
        now = time.time()
        for n in range(items - len(sources)):
            stored, size, width, height = sources[n % len(sources)]
            target = links / f"{n // 1000:03d}" / f"item-{n:06d}.jpg"
            if n % 1000 == 0:
                target.parent.mkdir(parents=True)
            os.link(project.resolve(stored), target)  # a hard link: a regular file, same page cache
            rows.append((project.stored_path(target), f"bench-copy-{n:08d}", size, width, height, now))
        with project.transaction() as conn:
            conn.executemany("INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, ?, ?, ?, ?)", rows)
        ids = np.array([r[0] for r in project.conn.execute("SELECT id FROM items ORDER BY id")], dtype=np.int64)

        # Clustered synthetic embeddings under the identity the worker's backbone will have.
        model = load_backbone(backbone)
        rng = np.random.default_rng(seed)
        truth = rng.integers(0, len(classes), len(ids))
        centres = rng.normal(0, 1, size=(len(classes), model.spec.dim)).astype(np.float32)
        eset = vectors.get_or_create_set(project, model.spec.name, model.identity, model.spec.dim)
        step = 5000
        for lo in range(0, len(ids), step):
            part = slice(lo, lo + step)
            noise = rng.standard_normal((len(ids[part]), model.spec.dim), dtype=np.float32) * 1.5
            vectors.add_chunk(project, eset.id, ids[part], (centres[truth[part]] + noise).astype(np.float16))
        del model
        chosen = rng.choice(len(ids), min(labeled, len(ids)), replace=False)
        labels.record_many(project, [(int(ids[i]), classes[truth[i]].id) for i in chosen])
        class_of = {int(i): classes[t].id for i, t in zip(ids, truth)}
    finally:
        project.close()
    log(f"project with {items:,} items built in {time.perf_counter() - start:.0f} s: {path}")
    return path, class_of
