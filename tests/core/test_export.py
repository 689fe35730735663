"""csv, json (with label history) and predictions exports."""

import csv
import json

import numpy as np
import pytest

from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError
from aldesk.core.export import export
from aldesk.core.importer import import_paths
from aldesk.core.labels import QueryContext, record, undo
from aldesk.core.model_store import save_model
from aldesk.core.vectors import get_or_create_set
from tests.conftest import distinct_colour, write_image


@pytest.fixture
def items(project, tmp_path):
    add_classes(project, ["cat", "dog"])
    for i in range(5):
        write_image(tmp_path / "imgs" / f"{i}.png", distinct_colour(i))
    import_paths(project, [tmp_path / "imgs"])
    return project


def test_json_has_each_items_full_label_history(items, tmp_path):
    context = QueryContext(model_version=3, strategy="margin-diverse", score=0.125, rank=2)
    first = record(items, 1, "label", 1, shown_ms=850, context=context)
    undo(items, first)
    record(items, 1, "label", 2, shown_ms=400)
    record(items, 2, "unsure")
    report = export(items, "json", tmp_path / "out.json")
    assert report.written == 5
    document = json.loads((tmp_path / "out.json").read_text())
    by_name = {row["path"].rsplit("/", 1)[-1]: row for row in document["items"]}
    history = by_name["0.png"]["history"]
    assert [e["kind"] for e in history] == ["label", "undo", "label"]
    asked, undone, final = history
    assert (asked["class"], asked["source"], asked["shown_ms"]) == ("cat", "human", 850)
    assert (asked["model_version"], asked["strategy"], asked["score"], asked["rank"]) == (3, "margin-diverse", 0.125, 2)
    assert asked["undone"] is True and undone["undoes"] == asked["event"] and undone["class"] is None
    assert final["class"] == "dog" and final["undone"] is False and final["time"].endswith("+00:00")
    assert by_name["0.png"]["label"] == "dog"
    assert [e["kind"] for e in by_name["1.png"]["history"]] == ["unsure"]
    assert by_name["4.png"]["history"] == []


def test_csv_keeps_its_columns(items, tmp_path):
    record(items, 1, "label", 1)
    export(items, "csv", tmp_path / "out.csv")
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert list(rows[0]) == ["path", "label", "status", "labeled_at"] and len(rows) == 5


def test_predictions_need_a_model(items, tmp_path):
    with pytest.raises(AldeskError, match="no trained model yet.*aldesk train"):
        export(items, "predictions", tmp_path / "pred.csv")
    assert not (tmp_path / "pred.csv").exists()


def test_predictions_list_unlabeled_items_with_the_latest_models_guess(items, tmp_path):
    record(items, 1, "label", 1)
    record(items, 2, "skip")
    eset = get_or_create_set(items, "pixels", "pixels:test", 4)
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.45, 0.55], [0.2, 0.8]], dtype=np.float32)
    save_model(
        items,
        set_id=eset.id,
        head="default",
        n_labels=1,
        class_ids=[1, 2],
        params=b"",
        metrics={},
        item_ids=np.array([1, 2, 3, 4]),
        probs=probs,
    )  # item 5 came later
    report = export(items, "predictions", tmp_path / "pred.csv")
    rows = list(csv.DictReader((tmp_path / "pred.csv").open()))
    assert list(rows[0]) == ["path", "status", "predicted", "confidence", "model_version"]
    got = {r["path"].rsplit("/", 1)[-1]: (r["status"], r["predicted"], float(r["confidence"])) for r in rows}
    assert got == {
        "1.png": ("skipped", "dog", pytest.approx(0.7, abs=1e-3)),
        "2.png": ("unlabeled", "dog", pytest.approx(0.55, abs=1e-3)),
        "3.png": ("unlabeled", "dog", pytest.approx(0.8, abs=1e-3)),
    }
    assert report.written == 3 and "1 items without a label have no prediction" in report.notes[0]


def test_unknown_format_is_refused(items, tmp_path):
    with pytest.raises(AldeskError, match="Unknown export format 'xml'"):
        export(items, "xml", tmp_path / "x")
