"""aldesk recover: every readable row of a damaged project reaches a new, intact project."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from aldesk.core import labels, settings
from aldesk.core.classes import add_classes, list_classes
from aldesk.core.errors import ProjectError
from aldesk.core.recover import RECOVERED, recover
from aldesk.core.store import create_project, open_project
from tests.conftest import add_bare_items
from tests.core.test_project_check import _damage_table


def _project(path: Path, n: int = 2000) -> dict[int, str]:
    """Items, labels, skips, an undo and a setting; returns item id -> current status."""
    with create_project(path) as project:
        cat, dog = add_classes(project, ["cat", "dog"])
        ids = add_bare_items(project, n)
        for i, item_id in enumerate(ids[: n // 2]):
            labels.record(project, item_id, "label" if i % 5 else "skip", (cat, dog)[i % 2].id if i % 5 else None)
        undo_of = labels.record(project, ids[-1], "label", cat.id)
        labels.undo(project, undo_of)
        settings.put(project, "audit_every", "7")
        return dict(project.conn.execute("SELECT id, status FROM items"))


def _state_agrees_with_history(project) -> None:
    from aldesk.core.labels import _effective_event

    for item_id, status, class_id in project.conn.execute("SELECT id, status, label_class_id FROM items"):
        effective = _effective_event(project.conn, item_id)
        if status == "unlabeled":
            assert effective is None, item_id
        else:
            assert effective is not None and {"label": "labeled", "skip": "skipped"}.get(effective[0], effective[0]) == status
            if status == "labeled":
                assert effective[1] == class_id


def test_an_intact_project_is_copied_whole(tmp_path):
    source = tmp_path / "a.aldesk"
    states = _project(source, n=300)
    report = recover(source, tmp_path / "b.aldesk")
    assert not report.anything_lost
    assert report.restored_states == 0
    with open_project(tmp_path / "b.aldesk", write=False) as copy:
        assert dict(copy.conn.execute("SELECT id, status FROM items")) == states
        assert [c.name for c in list_classes(copy)] == ["cat", "dog"]
        assert settings.get(copy, "audit_every") == 7
        events = copy.conn.execute("SELECT count(*) FROM label_events").fetchone()[0]
        assert events == 152  # 150 labels/skips, a label and its undo
        _state_agrees_with_history(copy)
        assert copy.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_damaged_history_keeps_every_readable_row_and_the_current_labels(tmp_path):
    source = tmp_path / "a.aldesk"
    states = _project(source)
    _damage_table(source, "label_events")  # its root page: every event is out of reach by scan
    report = recover(source, tmp_path / "b.aldesk")
    assert report.anything_lost
    assert report.tables["items"].copied == 2000 and report.tables["items"].unreadable == 0
    assert report.tables["label_events"].incomplete
    with open_project(tmp_path / "b.aldesk") as copy:  # intact: writable
        # The items table survived, so every current label did.
        assert dict(copy.conn.execute("SELECT id, status FROM items")) == states
        _state_agrees_with_history(copy)
        restored = copy.conn.execute("SELECT count(*) FROM label_events WHERE strategy = ?", (RECOVERED,)).fetchone()[0]
        assert restored == report.restored_states > 0
    text = "\n".join(report.lines())
    assert "unreadable" in text and "not copied" in text


def test_a_damaged_items_page_loses_only_its_rows(tmp_path):
    source = tmp_path / "a.aldesk"
    _project(source)
    conn = sqlite3.connect(source)
    # A leaf page in the middle of the items table (not its root).
    pages = (
        [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'items' AND pagetype = 'leaf'")]
        if conn.execute("SELECT count(*) FROM pragma_compile_options WHERE compile_options = 'ENABLE_DBSTAT_VTAB'").fetchone()[0]
        else []
    )
    conn.close()
    if not pages:
        pytest.skip("this SQLite has no dbstat table to find a leaf page")
    with open(source, "r+b") as handle:
        handle.seek((pages[len(pages) // 2] - 1) * 4096)
        handle.write(b"\x07" * 64)
    report = recover(source, tmp_path / "b.aldesk")
    items = report.tables["items"]
    assert 0 < items.unreadable < 200 and items.copied >= 2000 - items.unreadable
    with open_project(tmp_path / "b.aldesk", write=False) as copy:
        _state_agrees_with_history(copy)


def test_relative_image_paths_still_point_at_the_images(tmp_path):
    source = tmp_path / "a.aldesk"
    _project(source, n=10)
    (tmp_path / "elsewhere").mkdir()
    recover(source, tmp_path / "elsewhere" / "b.aldesk")
    with open_project(source, write=False) as a, open_project(tmp_path / "elsewhere" / "b.aldesk", write=False) as b:
        old = [a.resolve(p) for (p,) in a.conn.execute("SELECT path FROM items ORDER BY id")]
        new = [b.resolve(p) for (p,) in b.conn.execute("SELECT path FROM items ORDER BY id")]
    assert old == new


def test_recover_refuses_an_existing_target_and_itself(tmp_path):
    source = tmp_path / "a.aldesk"
    _project(source, n=5)
    (tmp_path / "b.aldesk").write_text("keep me")
    with pytest.raises(ProjectError, match="already exists"):
        recover(source, tmp_path / "b.aldesk")
    assert (tmp_path / "b.aldesk").read_text() == "keep me"
    with pytest.raises(ProjectError, match="new file"):
        recover(source, source)


def test_cli_recover_reports_and_exits_zero(tmp_path, capsys):
    from aldesk.cli import main

    source = tmp_path / "a.aldesk"
    _project(source, n=50)
    _damage_table(source, "label_events")
    assert main(["recover", str(source), "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert f"into {tmp_path / 'b.aldesk'}" in out and "label_events" in out
    assert main(["info", str(tmp_path / "b.aldesk")]) == 0


def test_values_of_a_damaged_type_are_converted_or_left_out(tmp_path):
    source = tmp_path / "a.aldesk"
    _project(source, n=10)
    conn = sqlite3.connect(source)
    # What a flipped bit in a record header does, and no SQLite check notices: text -> blob,
    # integer -> text.
    conn.execute("UPDATE items SET path = CAST(path AS BLOB) WHERE id = 3")
    conn.execute("UPDATE items SET bytes = 'x' WHERE id = 4")
    conn.commit()
    conn.close()
    report = recover(source, tmp_path / "b.aldesk")
    items = report.tables["items"]
    assert items.retyped == 1 and items.rejected == 1 and items.copied == 9
    with open_project(tmp_path / "b.aldesk", write=False) as copy:
        assert copy.conn.execute("SELECT typeof(path) FROM items WHERE id = 3").fetchone()[0] == "text"
        assert copy.conn.execute("SELECT count(*) FROM items WHERE id = 4").fetchone()[0] == 0


def test_a_text_project_keeps_its_texts_and_forgets_its_fine_tuning(tmp_path):
    from aldesk.core.importer import import_paths
    from aldesk.core.items import all_ids, texts_of
    from aldesk.core.kinds import kind_of, set_kind
    from aldesk.core.tuned_encoders import ACTIVE_KEY, TRIED_KEY

    table = tmp_path / "t.csv"
    table.write_text('text,label\n"The invoice is overdue",billing\n"Login fails on Firefox",bug\n"How do I export?",\n')
    source = tmp_path / "texts.aldesk"
    with create_project(source) as project:
        set_kind(project, "text")
        add_classes(project, ["billing", "bug"])
        import_paths(project, [table])
        project.set_meta(ACTIVE_KEY, "minilm-l6-abc-tuned-0123456789ab")  # its vectors and weights are not copied
        project.set_meta(TRIED_KEY, "75")
        before = texts_of(project, all_ids(project))
    recover(source, tmp_path / "r.aldesk")
    with open_project(tmp_path / "r.aldesk", write=False) as project:
        assert kind_of(project).name == "text"
        assert texts_of(project, all_ids(project)) == before and len(before) == 3  # the texts are the items
        assert project.meta(ACTIVE_KEY) is None and project.meta(TRIED_KEY) is None
