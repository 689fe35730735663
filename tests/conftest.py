"""Shared fixtures: projects and small generated images (nothing is downloaded)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# One torch thread in tests: on a machine busy with other work, two intra-op threads on two
# cores made small fits up to 8x slower (spinning threads waiting for each other), and the
# suite's timing-free checks gain nothing from threads. The app keeps one per physical core.
os.environ.setdefault("ALDESK_THREADS", "1")
torch.set_num_threads(1)
from PIL import Image

from aldesk.core.store import Project, create_project


def write_image(path: Path, colour: tuple[int, int, int] = (10, 20, 30), size=(16, 12), fmt=None) -> Path:
    """Write a small solid image; distinct colours give distinct content hashes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format=fmt)
    return path


def distinct_colour(index: int) -> tuple[int, int, int]:
    return (index % 256, (index // 256) % 256, (index * 7 + 3) % 256)


def image_project(
    path: Path, images: Path, classes: list[str], count: int, *, step: int = 40, size=(20, 16), name: str = "{:02}.png"
) -> Path:
    """A closed project at ``path`` with ``classes`` and ``count`` distinct solid-colour PNGs
    written under ``images`` and imported (colour ``i * step``, file ``name.format(i)``)."""
    from aldesk.core.classes import add_classes
    from aldesk.core.importer import import_paths

    with create_project(path) as project:
        add_classes(project, classes)
        for i in range(count):
            write_image(images / name.format(i), distinct_colour(i * step), size=size)
        import_paths(project, [images])
    return path


def add_bare_items(project: Project, n: int) -> list[int]:
    """``n`` item rows with no image behind them (for storage-level tests); their ids, ascending."""
    with project.transaction() as conn:
        conn.executemany(
            "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, 1, 1, 1, 0)",
            [(f"f{i}.png", f"h{i}") for i in range(n)],
        )
    return [row[0] for row in project.conn.execute("SELECT id FROM items ORDER BY id")]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    opened = create_project(tmp_path / "p.aldesk")
    yield opened
    opened.close()


def train_round(snapshot, pool, head: str = "default", *, evaluate: bool = False):
    """The model of one learning round that picks nothing (as ``aldesk train`` runs it)."""
    from aldesk.ml.loop.round import RoundSettings, run_round

    settings = RoundSettings(head=head, queue_length=0, evaluate=evaluate)
    return run_round(snapshot, pool, settings).train


def refresh_round(
    pool,
    labeled,
    y,
    eligible,
    n_classes: int,
    *,
    n: int = 20,
    head: str = "default",
    strategy: str = "default",
    init=None,
    rng=None,
):
    """One learning round on labels held in memory: train, score, pick ``n`` (a RoundResult)."""
    from aldesk.ml.loop.round import RoundSettings, run_round
    from aldesk.ml.loop.snapshot import Snapshot

    snapshot = Snapshot.in_memory(pool.size, labeled, y, eligible, n_classes, previous=init)
    return run_round(snapshot, pool, RoundSettings(head=head, strategy=strategy, queue_length=n), rng=rng)
