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
