"""Importing texts: .txt folders, CSV/TSV and JSON Lines tables, encodings, and every skip named."""

import codecs
import json
from pathlib import Path

import pytest

from aldesk.core import labels
from aldesk.core.errors import AldeskError
from aldesk.core.importer import import_paths
from aldesk.core.items import item_text, texts_of
from aldesk.core.kinds import kind_of, set_kind
from aldesk.core.store import create_project

TREC = Path(__file__).resolve().parents[3] / "shared" / "data" / "trec" / "train_5500.label"


@pytest.fixture
def texts(tmp_path):
    project = create_project(tmp_path / "t.aldesk")
    set_kind(project, "text")
    yield project
    project.close()


def stored_texts(project) -> list[str]:
    ids = [i for (i,) in project.conn.execute("SELECT id FROM items ORDER BY id")]
    return [texts_of(project, ids)[i] for i in ids]


def label_of(project, item_id):
    return project.conn.execute(
        "SELECT c.name FROM items i JOIN classes c ON c.id = i.label_class_id WHERE i.id = ?", (item_id,)
    ).fetchone()


def test_a_project_holds_one_kind(texts, tmp_path):
    assert kind_of(texts).name == "text"
    images = create_project(tmp_path / "i.aldesk")
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(AldeskError, match="holds images; a project holds one kind"):
        images.conn.execute("INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES ('x', 'y', 1, 1, 1, 0)")
        set_kind(images, "text")
    images.close()


def test_a_folder_of_txt_files_recursive_with_labels_from_folders(texts, tmp_path):
    root = tmp_path / "in"
    (root / "spam").mkdir(parents=True)
    (root / "ham" / "deeper").mkdir(parents=True)
    (root / "spam" / "1.txt").write_text("Win a prize now!\n")
    (root / "ham" / "deeper" / "2.txt").write_text("  Meeting moved to Tuesday.  ")
    (root / "ham" / "picture.png").write_bytes(b"\x89PNG")  # not a text: not taken from a folder
    (root / "ham" / ".hidden.txt").write_text("hidden")
    report = import_paths(texts, [root], labels_from_folders=True)
    assert report.imported == 2 and not report.skipped
    assert sorted(stored_texts(texts)) == ["Meeting moved to Tuesday.", "Win a prize now!"]
    by_text = {t: i for i, t in texts_of(texts, report.imported_ids).items()}
    assert label_of(texts, by_text["Win a prize now!"]) == ("spam",)
    assert label_of(texts, by_text["Meeting moved to Tuesday."]) == ("deeper",)  # the folder holding it


def test_a_csv_with_text_and_label_columns(texts, tmp_path):
    table = tmp_path / "tickets.csv"
    table.write_text(
        'id,Text,label\n1,"Printer, again, jammed",hardware\n2,"Cannot log in\nsince Monday",access\n3,No label here,\n'
    )
    report = import_paths(texts, [table])
    assert report.imported == 3 and report.labels_applied == 2 and report.new_classes == ["access", "hardware"]
    assert stored_texts(texts) == ["Printer, again, jammed", "Cannot log in\nsince Monday", "No label here"]
    paths = [p for (p,) in texts.conn.execute("SELECT path FROM items ORDER BY id")]
    assert paths == ["tickets.csv#2", "tickets.csv#3", "tickets.csv#5"]  # the line each row starts on
    again = import_paths(texts, [table])
    assert again.imported == 0 and again.already_present == 3


def test_named_columns_tsv_and_a_missing_column_said_with_the_way_out(texts, tmp_path):
    table = tmp_path / "notes.tsv"
    table.write_text("body\tkind\nfirst note\ta\nsecond note\tb\n")
    with pytest.raises(AldeskError, match=r"notes.tsv has no column 'text' \(its header: 'body', 'kind'\).*--text-column"):
        import_paths(texts, [table])
    report = import_paths(texts, [table], text_column="body", label_column="kind")
    assert report.imported == 2 and report.labels_applied == 2
    with pytest.raises(AldeskError, match="no column 'category'.*--label-column"):
        import_paths(texts, [table], text_column="body", label_column="category")


def test_ragged_rows_and_empty_rows_are_named_by_line(texts, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("text,label\ngood one,a\ntoo,many,fields\n   ,b\n\nlast one,b\n")
    report = import_paths(texts, [table])
    assert report.imported == 2
    assert (f"{table} line 3", "has 3 fields where the header has 2: check its quotes and delimiters") in report.skipped
    assert (f"{table} line 4", "no text") in report.skipped


def test_json_lines_with_bad_lines_named(texts, tmp_path):
    table = tmp_path / "t.jsonl"
    lines = [
        json.dumps({"text": "first", "label": "x"}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"body": "no text key"}),
        json.dumps({"text": "numbered label", "label": 3}),
        "",
        json.dumps({"text": "unlabeled"}),
    ]
    table.write_text("\n".join(lines) + "\n")
    report = import_paths(texts, [table])
    assert report.imported == 3 and report.labels_applied == 2
    reasons = dict(report.skipped)
    assert reasons[f"{table} line 2"].startswith("not valid JSON")
    assert "not an object" in reasons[f"{table} line 3"]
    assert reasons[f"{table} line 4"] == "has no 'text' text"
    assert stored_texts(texts) == ["first", "numbered label", "unlabeled"]


@pytest.mark.parametrize(
    ("data", "note"),
    [
        ("café déjà vu".encode("utf-8"), None),
        (codecs.BOM_UTF8 + "café déjà vu".encode("utf-8"), None),
        ("café déjà vu".encode("utf-16"), None),  # with its byte-order mark
        ("café déjà vu".encode("cp1252"), "not UTF-8: read as Windows-1252 (Latin-1)"),
    ],
)
def test_encodings_are_read_and_a_fallback_reported(texts, tmp_path, data, note):
    path = tmp_path / "one.txt"
    path.write_bytes(data)
    report = import_paths(texts, [path])
    assert report.imported == 1, report.skipped
    assert stored_texts(texts) == ["café déjà vu"]
    assert report.notes == ([(str(path), note)] if note else [])


def test_a_latin1_table_is_read_and_reported_once(texts, tmp_path):
    table = tmp_path / "old.csv"
    table.write_bytes("text\nsister\xadcity of Los Angeles\nna\xefve question\n".encode("latin-1"))
    report = import_paths(texts, [table])
    assert report.imported == 2
    assert report.notes == [(str(table), "not UTF-8: read as Windows-1252 (Latin-1)")]
    assert stored_texts(texts)[1] == "naïve question"


def test_empty_blank_and_binary_files_are_skipped_with_reasons(texts, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text(" \n\t\n")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "controls.txt").write_bytes(bytes(range(1, 9)) * 20)
    (tmp_path / "fine.txt").write_text("a real note")
    report = import_paths(texts, sorted(tmp_path.glob("*.txt")))
    assert report.imported == 1
    reasons = {Path(where).name: reason for where, reason in report.skipped}
    assert "empty" in reasons["empty.txt"]
    assert reasons["blank.txt"] == "only whitespace, no text"
    assert "binary" in reasons["binary.txt"] and "binary" in reasons["controls.txt"]


def test_duplicate_texts_fold_into_one_item(texts, tmp_path):
    (tmp_path / "a.txt").write_text("The same words.")
    (tmp_path / "b.txt").write_text("The same words.\n\n")
    table = tmp_path / "t.csv"
    table.write_text("text\nThe same words.\nother words\n")
    report = import_paths(texts, [tmp_path / "a.txt", tmp_path / "b.txt", table])
    assert report.imported == 2
    assert sorted(where for where, _ in report.duplicates) == [str(tmp_path / "b.txt"), f"{table} line 2"]
    assert dict(report.duplicates)[f"{table} line 2"] == str(tmp_path / "a.txt")


def test_a_huge_text_is_kept_whole_and_the_cut_said(texts, tmp_path):
    long_text = " ".join(f"word{i}" for i in range(20_000))
    (tmp_path / "long.txt").write_text(long_text)
    report = import_paths(texts, [tmp_path / "long.txt"])
    assert item_text(texts, report.imported_ids[0]) == long_text
    assert "kept whole for reading; the encoder reads its start" in report.notes[0][1]


def test_labels_of_a_table_never_override_a_persons_label(texts, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("text,label\nalpha,a\n")
    (item,) = import_paths(texts, [table]).imported_ids
    other = labels.record_many(texts, [(item, texts.conn.execute("SELECT id FROM classes").fetchone()[0])], source="human")
    assert other == 1
    table.write_text("text,label\nalpha,b\n")
    report = import_paths(texts, [table])
    assert report.already_present == 1 and label_of(texts, item) == ("a",)


@pytest.mark.skipif(not TREC.exists(), reason="the TREC questions are in ../shared/data/trec (absent here)")
def test_the_trec_questions_in_latin1_import_whole(texts, tmp_path):
    raw = TREC.read_bytes().split(b"\n")
    rows = [line.split(b" ", 1) for line in raw if line.strip()]
    table = tmp_path / "trec.tsv"
    table.write_bytes(b"label\ttext\n" + b"\n".join(tag.split(b":")[0] + b"\t" + text for tag, text in rows) + b"\n")
    report = import_paths(texts, [table])
    assert report.notes == [(str(table), "not UTF-8: read as Windows-1252 (Latin-1)")]
    assert report.imported + len(report.duplicates) == len(rows) and not report.skipped
    assert report.new_classes == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert any("sister\xf0city" in t for t in stored_texts(texts))  # byte 0xF0 of line 66
