"""Exports of a text project: CSV and JSON Lines carry the texts, and load with datasets."""

import csv
import json

import pytest

from aldesk.core.errors import AldeskError
from aldesk.core.export import export
from aldesk.core.importer import import_paths
from aldesk.core.kinds import set_kind
from aldesk.core.store import create_project


@pytest.fixture
def texts(tmp_path):
    project = create_project(tmp_path / "t.aldesk")
    set_kind(project, "text")
    table = tmp_path / "in.csv"
    table.write_text('text,label\n"Disk full, again",ops\n"Line one\nline two, ""quoted""",\nCafé crème,food\n')
    import_paths(project, [table])
    yield project
    project.close()


def test_csv_has_the_texts_and_where_they_came_from(texts, tmp_path):
    report = export(texts, "csv", tmp_path / "out.csv")
    assert report.written == 3
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [r["text"] for r in rows] == ["Disk full, again", 'Line one\nline two, "quoted"', "Café crème"]
    assert [r["label"] for r in rows] == ["ops", "", "food"]
    assert rows[0]["source"] == f"{tmp_path / 'in.csv'}#2" and "path" not in rows[0]


def test_jsonl_is_one_object_a_line_with_the_history(texts, tmp_path):
    export(texts, "jsonl", tmp_path / "out.jsonl")
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 3 and records[2]["text"] == "Café crème" and records[2]["label"] == "food"
    assert records[0]["history"][0]["source"] == "import" and records[1]["history"] == []


def test_image_folder_formats_refuse_texts_and_say_what_to_use(texts, tmp_path):
    with pytest.raises(AldeskError, match="holds texts.*--format csv or --format jsonl"):
        export(texts, "imagefolder", tmp_path / "folder")


def test_both_load_with_hugging_face_datasets(texts, tmp_path):
    datasets = pytest.importorskip("datasets")
    export(texts, "csv", tmp_path / "out.csv")
    export(texts, "jsonl", tmp_path / "out.jsonl")
    from_csv = datasets.load_dataset("csv", data_files=str(tmp_path / "out.csv"), split="train")
    from_json = datasets.load_dataset("json", data_files=str(tmp_path / "out.jsonl"), split="train")
    assert from_csv["text"][1] == 'Line one\nline two, "quoted"' and from_json["label"][0] == "ops"
