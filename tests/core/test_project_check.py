"""Opening checks: read-only places, damaged files, and a clean close that leaves one file."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from aldesk.core import labels, project_check
from aldesk.core.classes import add_classes
from aldesk.core.errors import DamagedProjectError, ProjectLockedError, ReadOnlyProjectError
from aldesk.core.lock import ProjectLock, lock_path_for
from aldesk.core.store import create_project, open_project
from tests.conftest import add_bare_items

PAGE = 4096


def _labeled_project(path: Path, n: int = 300) -> list[int]:
    """A closed project with ``n`` items, every other one labeled; the labeled ids."""
    with create_project(path) as project:
        cat, dog = add_classes(project, ["cat", "dog"])
        ids = add_bare_items(project, n)
        done = []
        for i, item_id in enumerate(ids[::2]):
            labels.record(project, item_id, "label", (cat, dog)[i % 2].id)
            done.append(item_id)
    return done


def _labeled_ids(path: Path) -> set[int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM items WHERE status = 'labeled'")}
    finally:
        conn.close()


def _damage_table(path: Path, table: str) -> None:
    """Overwrite the b-tree header of ``table``'s root page (a real, local kind of damage)."""
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * PAGE)
        handle.write(b"\x07" * 64)


def test_close_leaves_everything_in_the_project_file_alone(tmp_path):
    path = tmp_path / "p.aldesk"
    done = _labeled_project(path)
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()
    # A person copies just the .aldesk file: every label is in it.
    copy = tmp_path / "copy" / "p.aldesk"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    assert _labeled_ids(copy) == set(done)


def test_close_checkpoints_even_while_a_reader_is_open(tmp_path):
    path = tmp_path / "p.aldesk"
    _labeled_project(path, n=10)
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    reader.execute("SELECT count(*) FROM items").fetchone()  # holds the WAL open, between reads
    with open_project(path) as project:
        item = project.conn.execute("SELECT id FROM items WHERE status = 'unlabeled'").fetchone()[0]
        cls = project.conn.execute("SELECT id FROM classes LIMIT 1").fetchone()[0]
        labels.record(project, item, "label", cls)
    copy = tmp_path / "copy.aldesk"
    shutil.copy(path, copy)  # the WAL stays for the reader, but the project file has the label
    assert item in _labeled_ids(copy)
    reader.close()


def test_reading_leaves_no_empty_wal_or_shm_behind(tmp_path):
    path = tmp_path / "p.aldesk"
    _labeled_project(path, n=10)
    with open_project(path, write=False) as project:
        assert project.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.aldesk"]


def test_reading_while_another_writes_leaves_its_files_alone(tmp_path):
    path = tmp_path / "p.aldesk"
    _labeled_project(path, n=10)
    with open_project(path) as writer:
        with open_project(path, write=False) as reader:
            reader.conn.execute("SELECT count(*) FROM items").fetchone()
        assert Path(f"{path}-wal").exists()  # still the writer's
        assert lock_path_for(path).exists()
        cls = writer.conn.execute("SELECT id FROM classes LIMIT 1").fetchone()[0]
        labels.record(writer, 1, "label", cls)  # and the writer goes on writing
    assert 1 in _labeled_ids(path)


def test_read_only_place_opens_read_only_with_the_reason(tmp_path, monkeypatch):
    path = tmp_path / "p.aldesk"
    done = _labeled_project(path, n=10)
    before = path.read_bytes()
    monkeypatch.setattr(project_check, "read_only_reason", lambda p: "it is on a read-only disk or mount (/media/x)")
    monkeypatch.setattr("aldesk.core.store.read_only_reason", project_check.read_only_reason)
    with pytest.raises(ReadOnlyProjectError) as info:
        open_project(path)
    message = str(info.value)
    assert str(path) in message and "read-only disk or mount (/media/x)" in message
    assert "damaged" not in message and "backup" not in message
    with open_project(path, write=False) as project:
        assert project.read_only_reason.startswith("it is on a read-only disk")
        assert {r[0] for r in project.conn.execute("SELECT id FROM items WHERE status='labeled'")} == set(done)
        with pytest.raises(ReadOnlyProjectError, match="read-only because it is on a read-only disk"):
            labels.record(project, 2, "skip", None)
    assert path.read_bytes() == before
    assert not lock_path_for(path).exists()


def test_read_only_reason_names_a_read_only_file(tmp_path, monkeypatch):
    path = tmp_path / "p.aldesk"
    create_project(path).close()
    monkeypatch.setattr(project_check.os, "access", lambda p, mode: Path(p) != path)
    assert project_check.read_only_reason(path) == "the file is read-only (no write permission)"
    monkeypatch.setattr(project_check.os, "access", lambda p, mode: Path(p) != tmp_path)
    assert "its folder" in project_check.read_only_reason(path)


def test_damaged_project_is_never_written_and_opens_read_only(tmp_path):
    path = tmp_path / "p.aldesk"
    _labeled_project(path)
    _damage_table(path, "label_events")
    before = path.read_bytes()
    with pytest.raises(DamagedProjectError) as info:
        open_project(path)
    message = str(info.value)
    assert str(path) in message and "aldesk recover" in message
    assert path.read_bytes() == before
    assert not lock_path_for(path).exists()
    with open_project(path, write=False) as project:
        assert project.damage
        # What is readable can be read: the items table is intact.
        assert project.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 300
        with pytest.raises(DamagedProjectError):
            project.set_meta("x", "y")
    assert path.read_bytes() == before


def test_damage_met_while_writing_stops_later_writes(tmp_path):
    path = tmp_path / "p.aldesk"
    _labeled_project(path)
    project = open_project(path)
    try:
        error = sqlite3.DatabaseError("database disk image is malformed")
        error.sqlite_errorname = "SQLITE_CORRUPT"
        with pytest.raises(DamagedProjectError):
            with project.transaction():
                raise error
        with pytest.raises(DamagedProjectError):
            project.set_meta("x", "y")
    finally:
        project.close()


def test_intact_project_has_no_damage(tmp_path):
    path = tmp_path / "p.aldesk"
    _labeled_project(path, n=20)
    with open_project(path, write=False) as project:
        assert project.damage == []
        assert project_check.find_damage(project.conn) == []


def test_lock_message_names_the_holder_and_never_says_delete(tmp_path):
    path = tmp_path / "p.aldesk"
    create_project(path).close()
    with ProjectLock(path):
        with pytest.raises(ProjectLockedError) as info:
            ProjectLock(path).acquire()
    message = str(info.value)
    assert "pid" in message and "since" in message
    assert "delete" not in message.lower()


def test_full_disk_while_writing_the_lock_info_still_locks(tmp_path, monkeypatch):
    import errno
    import os

    path = tmp_path / "p.aldesk"
    create_project(path).close()
    real_write = os.write

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("aldesk.core.lock.os.write", no_space)
    lock = ProjectLock(path)
    lock.acquire()
    monkeypatch.setattr("aldesk.core.lock.os.write", real_write)
    try:
        with pytest.raises(ProjectLockedError):
            ProjectLock(path).acquire()
    finally:
        lock.release()
    assert not lock_path_for(path).exists()
