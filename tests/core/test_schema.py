"""Migrations: an old file upgrades to exactly the schema a new file has."""

import shutil
import sqlite3
from pathlib import Path

from aldesk.core import schema
from aldesk.core.labels import history
from aldesk.core.store import create_project, open_project

FIXTURE = Path(__file__).parent / "fixtures" / "schema-v1.aldesk"


def _schema_of(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return [("user_version", version)] + rows


def test_fixture_is_version_1():
    assert _schema_of(FIXTURE)[0] == ("user_version", 1)


def test_v1_fixture_upgrades_to_the_schema_of_a_fresh_file(tmp_path):
    old = tmp_path / "old.aldesk"
    shutil.copy(FIXTURE, old)
    with open_project(old) as project:
        assert project.schema_version == schema.SCHEMA_VERSION
        # the data written by v1 survives the upgrade
        (item_id,) = project.conn.execute("SELECT id FROM items").fetchone()
        assert [e.kind for e in history(project, item_id)] == ["label"]
    create_project(tmp_path / "fresh.aldesk").close()
    assert _schema_of(old) == _schema_of(tmp_path / "fresh.aldesk")


def test_reading_an_old_file_does_not_upgrade_it(tmp_path):
    old = tmp_path / "old.aldesk"
    shutil.copy(FIXTURE, old)
    with open_project(old, write=False) as project:
        assert project.schema_version == 1
    assert _schema_of(old)[0] == ("user_version", 1)


def test_a_failing_step_leaves_the_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "f.aldesk"
    conn = sqlite3.connect(path, isolation_level=None)
    broken = (schema.MIGRATIONS[0], "CREATE TABLE item_truth(x);\nCREATE TABLE item_truth(y);\n")
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    try:
        schema.migrate(conn, target=2)
    except sqlite3.OperationalError:
        pass
    else:
        raise AssertionError("the broken step should have failed")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'item_truth'").fetchone()[0] == 0
    conn.close()
