"""aldesk.core.label_csv: CSV labels never silently replace a person's label or invent classes."""

from pathlib import Path

import pytest

from aldesk.core import labels
from aldesk.core.classes import add_classes, list_classes
from aldesk.core.errors import AldeskError
from aldesk.core.importer import import_paths
from aldesk.core.label_csv import LabelCsvRefused, apply_label_csv
from tests.conftest import distinct_colour, write_image


@pytest.fixture
def setup(project, tmp_path):
    """cat, dog; a.png labeled cat by a person, b.png cat by an import, c.png and d.png unlabeled."""
    add_classes(project, ["cat", "dog"])
    for i, name in enumerate("abcd"):
        write_image(tmp_path / "imgs" / f"{name}.png", distinct_colour(i))
    import_paths(project, [tmp_path / "imgs"])
    ids = dict(project.conn.execute("SELECT path, id FROM items"))
    labels.record(project, ids["imgs/a.png"], "label", 1)
    labels.record_many(project, [(ids["imgs/b.png"], 1)], source="import")
    return project, tmp_path, ids


def sheet(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.csv"
    path.write_text("path,label\n" + text, encoding="utf-8")
    return path


def state(project) -> tuple:
    return (
        project.conn.execute("SELECT path, label_class_id FROM items ORDER BY path").fetchall(),
        project.conn.execute("SELECT count(*) FROM label_events").fetchone()[0],
        [c.name for c in list_classes(project)],
    )


def test_a_persons_label_is_not_replaced_without_overwrite(setup):
    project, tmp_path, ids = setup
    before = state(project)
    csv_path = sheet(tmp_path, "imgs/a.png,dog\nimgs/c.png,cat\n")
    with pytest.raises(LabelCsvRefused) as caught:
        apply_label_csv(project, csv_path)
    message = str(caught.value)
    assert "Nothing was written" in message and "--overwrite" in message
    assert f"{tmp_path / 'imgs' / 'a.png'}: now 'cat', in the CSV 'dog'" in message
    assert "c.png" not in message
    assert state(project) == before  # all or nothing: c.png was not labeled either
    report = apply_label_csv(project, csv_path, overwrite=True)
    assert (report.applied, report.replaced) == (2, 1)
    assert project.conn.execute("SELECT label_class_id FROM items WHERE id = ?", (ids["imgs/a.png"],)).fetchone() == (2,)


def test_a_label_from_an_earlier_import_is_replaced_and_counted(setup):
    project, tmp_path, ids = setup
    report = apply_label_csv(project, sheet(tmp_path, "imgs/b.png,dog\nimgs/a.png,cat\n"))
    assert (report.applied, report.replaced, report.unchanged) == (1, 1, 1)
    assert "1 of them replaced an earlier label" in report.summary()


def test_unknown_classes_are_refused_unless_add_classes_and_never_made_for_skipped_rows(setup):
    project, tmp_path, ids = setup
    before = state(project)
    csv_path = sheet(tmp_path, "imgs/c.png,bird\nimgs/d.png,bird\nimgs/zz.png,owl\nimgs/b.png\n")
    with pytest.raises(LabelCsvRefused) as caught:
        apply_label_csv(project, csv_path)
    message = str(caught.value)
    assert "--add-classes" in message and "'bird' (2 rows)" in message
    assert "owl" not in message  # zz.png is not in the project: its row is skipped
    assert state(project) == before
    report = apply_label_csv(project, csv_path, add_classes=True)
    assert report.new_classes == ["bird"] and report.applied == 2
    assert [c.name for c in list_classes(project)] == ["cat", "dog", "bird"]


def test_both_refusals_are_listed_with_both_flags_and_long_lists_are_cut(project, tmp_path):
    add_classes(project, ["cat", "dog"])
    for i in range(26):
        write_image(tmp_path / "imgs" / f"{i:02}.png", distinct_colour(i))
    import_paths(project, [tmp_path / "imgs"])
    for item_id in range(1, 26):
        labels.record(project, item_id, "label", 1)
    rows = "".join(f"imgs/{i:02}.png,dog\n" for i in range(25))
    with pytest.raises(LabelCsvRefused) as caught:
        apply_label_csv(project, sheet(tmp_path, rows + "imgs/25.png,fox\n"))
    message = str(caught.value)
    assert "25 rows would replace a label a person gave" in message
    assert message.count(": now 'cat', in the CSV 'dog'") == 20 and "... and 5 more" in message
    assert "--overwrite" in message and "--add-classes" in message and "'fox' (1 row)" in message


def test_a_class_name_differing_only_by_case_is_refused_even_with_add_classes(setup):
    project, tmp_path, ids = setup
    before = state(project)
    with pytest.raises(AldeskError, match=r"labels.csv row 2: Class name 'Cat' differs only by case"):
        apply_label_csv(project, sheet(tmp_path, "imgs/c.png,Cat\n"), add_classes=True)
    with pytest.raises(AldeskError, match=r"'Fox' and 'fox' differ only by case"):
        apply_label_csv(project, sheet(tmp_path, "imgs/c.png,Fox\nimgs/d.png,fox\n"), add_classes=True)
    with pytest.raises(AldeskError, match=r"row 2: Class name 'a\\nb' contains a control character"):
        apply_label_csv(project, sheet(tmp_path, 'imgs/c.png,"a\nb"\n'), add_classes=True)
    assert state(project) == before


def test_an_item_listed_twice_with_different_labels_is_refused(setup):
    project, tmp_path, ids = setup
    before = state(project)
    with pytest.raises(LabelCsvRefused, match=r"c.png: row 2 says 'cat', row 3 says 'dog'"):
        apply_label_csv(project, sheet(tmp_path, "imgs/c.png,cat\nimgs/c.png,dog\n"), overwrite=True)
    assert state(project) == before
