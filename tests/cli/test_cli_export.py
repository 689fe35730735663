"""`aldesk export` for every format, as a person runs it."""

import csv
import json

import pytest

from aldesk.cli import main
from tests.conftest import distinct_colour, write_image


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def labeled_project(capsys, tmp_path):
    project = tmp_path / "p.aldesk"
    for i in range(12):
        write_image(tmp_path / "imgs" / f"d{i % 2}" / f"img{i // 2}.png", distinct_colour(i * 20))
    run(capsys, "new", project, "--classes", "../evil,con")
    run(capsys, "import", project, tmp_path / "imgs")
    sheet = tmp_path / "labels.csv"
    sheet.write_text("path,label\n" + "".join(
        f"imgs/d{i % 2}/img{i // 2}.png,{'../evil' if i % 2 else 'con'}\n" for i in range(8)))
    assert run(capsys, "label", project, "--csv", sheet)[0] == 0
    return project


def test_imagefolder_and_hf_imagefolder(capsys, labeled_project, tmp_path):
    code, out, _ = run(capsys, "export", labeled_project, "--format", "imagefolder", "--out", tmp_path / "out", "--link")
    assert code == 0 and "exported 8 images" in out and "8 hard-linked" in out
    assert "class '../evil' is in folder '_._evil'" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["_._evil", "con_"]
    code, _, err = run(capsys, "export", labeled_project, "--format", "hf-imagefolder", "--out", tmp_path / "out")
    assert code == 1 and "--force" in err
    code, out, _ = run(capsys, "export", labeled_project, "--format", "hf-imagefolder", "--out", tmp_path / "out", "--force")
    assert code == 0 and "exported 8 images" in out
    rows = list(csv.DictReader((tmp_path / "out" / "metadata.csv").open(encoding="utf-8")))
    assert {r["label"] for r in rows} == {"../evil", "con"} and len(rows) == 8


def test_json_predictions_and_model(capsys, labeled_project, tmp_path):
    code, out, _ = run(capsys, "export", labeled_project, "--format", "json", "--out", tmp_path / "a.json")
    assert code == 0 and "exported 12 items" in out
    items = json.loads((tmp_path / "a.json").read_text())["items"]
    assert sum(len(item["history"]) for item in items) == 8
    assert all(e["source"] == "import" for item in items for e in item["history"])

    code, _, err = run(capsys, "export", labeled_project, "--format", "predictions", "--out", tmp_path / "p.csv")
    assert code == 1 and "no trained model yet" in err
    code, _, err = run(capsys, "export", labeled_project, "--format", "model", "--out", tmp_path / "bundle")
    assert code == 1 and "no trained model yet" in err and not (tmp_path / "bundle").exists()

    assert run(capsys, "embed", labeled_project, "--backbone", "pixels")[0] == 0
    assert run(capsys, "train", labeled_project, "--head", "plain")[0] == 0
    code, out, _ = run(capsys, "export", labeled_project, "--format", "predictions", "--out", tmp_path / "p.csv")
    assert code == 0 and "exported 4 predictions" in out
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert {r["predicted"] for r in rows} <= {"../evil", "con"} and all(0.5 <= float(r["confidence"]) <= 1 for r in rows)
    code, out, _ = run(capsys, "export", labeled_project, "--format", "model", "--out", tmp_path / "bundle")
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == [
        ".aldesk-export.json", "MODEL_CARD.md", "bundle.json", "classes.json", "model.pt2"]


def test_options_that_do_not_apply_are_refused(capsys, labeled_project, tmp_path):
    code, _, err = run(capsys, "export", labeled_project, "--format", "csv", "--out", tmp_path / "a.csv", "--link")
    assert code == 1 and "--link applies to --format imagefolder or hf-imagefolder only, not csv" in err
    code, _, err = run(capsys, "export", labeled_project, "--format", "json", "--out", tmp_path / "a.json", "--force")
    assert code == 1 and "--force applies" in err and not (tmp_path / "a.json").exists()
