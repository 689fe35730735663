"""Random byte flips in a project file: no traceback, ever; a damaged file is never written.

For each seed a copy of a project (items, labels with history, embeddings, a queue, settings)
gets a few random bytes changed anywhere in the file, header included. Then the commands a
person would run: info, a label import (a write), export, recover. Each must end with exit 0 or
a one-line message naming the file; a write into a file SQLite's quick check finds damaged must
be refused with the file unchanged; a recovered project must be intact.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from aldesk.cli import main
from tests.faults.harness import record

SEEDS = range(60)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    from aldesk.core import labels, settings, vectors
    from aldesk.core.classes import add_classes
    from aldesk.core.queue import replace_queue
    from aldesk.core.session import QueuedItem
    from aldesk.core.store import create_project
    from tests.conftest import add_bare_items

    folder = tmp_path_factory.mktemp("flips")
    path = folder / "p.aldesk"
    with create_project(path) as project:
        classes = add_classes(project, ["cat", "dog", "bird"])
        ids = add_bare_items(project, 600)
        for n, item_id in enumerate(ids[:200]):
            labels.record(project, item_id, "label", classes[n % 3].id)
            if n % 7 == 0:
                labels.undo(project, labels.record(project, item_id, "skip"))
        eset = vectors.get_or_create_set(project, "pixels", "flip-test", 32)
        vectors.add_chunk(
            project, eset.id, np.array(ids), np.random.default_rng(0).random((600, 32), np.float32).astype(np.float16)
        )
        replace_queue(
            project,
            [QueuedItem(item_id=i, rank=r, model_version=None, strategy="margin", score=0.5) for r, i in enumerate(ids[200:260])],
        )
        settings.put(project, "audit_every", "5")
    rows = ["path,label"] + [f"f{i}.png,{('cat', 'dog')[i % 2]}" for i in range(300, 320)]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def _flip(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    data = bytearray(path.read_bytes())
    for _ in range(rng.randint(1, 24)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def _intact(path: Path) -> bool:
    """SQLite's integrity_check (what aldesk runs before writing a file this small) finds nothing."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        return False


def _run(capsys, args: list[str], path: Path, fault: str) -> int:
    try:
        code = main(args)  # an exception escaping main() fails the test with its traceback
    except BaseException:
        record(fault, f"aldesk {args[0]}", labels=0, lost=0, traceback=True)
        raise
    out = capsys.readouterr()
    record(fault, f"aldesk {args[0]}", labels=0, lost=0, traceback="Traceback" in out.err + out.out, refused=code == 1)
    assert code in (0, 1), (args, code, out.err)
    assert "Traceback" not in out.err + out.out
    if code == 1:
        assert path.name in out.err.strip().splitlines()[-1], out.err
    return code


@pytest.mark.parametrize("seed", SEEDS)
def test_flipped_bytes_never_give_a_traceback_nor_a_write_into_damage(base, tmp_path, capsys, seed):
    folder = tmp_path / "w"
    shutil.copytree(base, folder)
    path = folder / "p.aldesk"
    _flip(path, seed)
    damaged = not _intact(path)
    fault = f"random byte flips, {'damage SQLite finds' if damaged else 'no damage SQLite finds'}"
    _run(capsys, ["info", str(path)], path, fault)
    _run(capsys, ["info", str(path), "--json"], path, fault)
    before = path.read_bytes()
    wrote = _run(capsys, ["label", str(path), "--csv", str(folder / "labels.csv")], path, fault) == 0
    if damaged:
        assert not wrote, "a write into a damaged file was accepted"
        assert path.read_bytes() == before
    _run(capsys, ["export", str(path), "--format", "csv", "--out", str(folder / "out.csv")], path, fault)
    if _run(capsys, ["recover", str(path), "--out", str(folder / "new.aldesk")], path, fault) == 0:
        conn = sqlite3.connect(folder / "new.aldesk")
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()


def test_a_damaged_type_no_check_sees_ends_in_one_line(base, tmp_path, capsys):
    folder = tmp_path / "w"
    shutil.copytree(base, folder)
    path = folder / "p.aldesk"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE items SET path = CAST(path AS BLOB) WHERE id = 5")  # a text become a blob
    conn.commit()
    conn.close()
    code = _run(
        capsys, ["export", str(path), "--format", "json", "--out", str(folder / "o.json")], path, "a value of a damaged type"
    )
    assert code == 1
