import sqlite3
from pathlib import Path

import pytest

from aldesk import __version__
from aldesk.core import schema
from aldesk.core.errors import NewerProjectError, NotAProjectError, ProjectError
from aldesk.core.store import create_project, open_project


def _bytes_and_mtime(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_new_project_is_wal_with_foreign_keys_and_current_schema(tmp_path):
    with create_project(tmp_path / "a.aldesk") as project:
        conn = project.conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert project.schema_version == schema.SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
        assert project.meta("created_by").startswith("aldesk ")


def test_create_refuses_existing_file(tmp_path):
    path = tmp_path / "a.aldesk"
    path.write_text("precious")
    with pytest.raises(ProjectError, match="already exists"):
        create_project(path)
    assert path.read_text() == "precious"


def test_missing_project_names_the_file(tmp_path):
    with pytest.raises(ProjectError, match=r"No such project: .*nope\.aldesk"):
        open_project(tmp_path / "nope.aldesk")


def test_text_file_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.aldesk"
    path.write_text("hello, this is not a database\n" * 10)
    before = _bytes_and_mtime(path)
    with pytest.raises(NotAProjectError, match="not a SQLite database"):
        open_project(path)
    assert _bytes_and_mtime(path) == before


def test_other_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.aldesk"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    before = _bytes_and_mtime(path)
    with pytest.raises(NotAProjectError, match="not an aldesk project"):
        open_project(path)
    assert _bytes_and_mtime(path) == before


def test_corrupt_project_is_refused_untouched(tmp_path):
    path = tmp_path / "c.aldesk"
    create_project(path).close()
    data = bytearray(path.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)  # keep the header, destroy the pages
    path.write_bytes(bytes(data))
    before = _bytes_and_mtime(path)
    with pytest.raises(NotAProjectError, match="damaged"):
        open_project(path)
    assert _bytes_and_mtime(path) == before


def test_newer_project_is_refused_naming_both_versions(tmp_path):
    path = tmp_path / "n.aldesk"
    create_project(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 5}")
    conn.close()
    before = _bytes_and_mtime(path)
    for write in (True, False):
        with pytest.raises(NewerProjectError) as info:
            open_project(path, write=write)
        message = str(info.value)
        assert f"schema version {schema.SCHEMA_VERSION + 5}" in message
        assert f"up to {schema.SCHEMA_VERSION}" in message
    assert _bytes_and_mtime(path) == before


def test_read_only_open_cannot_write(tmp_path):
    path = tmp_path / "r.aldesk"
    create_project(path).close()
    with open_project(path, write=False) as project:
        with pytest.raises(ProjectError, match="read-only"):
            project.set_meta("x", "y")


def test_read_only_file_cannot_be_opened_for_writing(tmp_path):
    path = tmp_path / "ro.aldesk"
    create_project(path).close()
    path.chmod(0o444)
    try:
        import os

        if os.access(path, os.W_OK):
            pytest.skip("running as a user who can write read-only files (root)")
        with pytest.raises(ProjectError, match="cannot be written"):
            open_project(path)
    finally:
        path.chmod(0o644)


def test_paths_inside_root_are_relative_and_outside_absolute(tmp_path, project):
    inside = project.root / "imgs" / "a b.png"
    outside = tmp_path.parent / "elsewhere" / "x.png"
    assert project.stored_path(inside) == "imgs/a b.png"
    assert project.stored_path(outside) == str(outside)
    assert project.resolve("imgs/a b.png") == inside
    assert project.resolve(str(outside)) == outside


def test_disk_full_becomes_a_clear_message(project, monkeypatch):
    # SQLite reports SQLITE_FULL when it cannot grow the file; max_page_count forces that here.
    project.conn.execute("PRAGMA max_page_count = 1")
    with pytest.raises(ProjectError, match="full"):
        with project.transaction() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES ('big', ?)", ("x" * 100_000,))
    assert project.meta("big") is None
    assert project.meta("created_by") == f"aldesk {__version__}"  # what was there before is intact
