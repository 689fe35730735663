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
    sheet.write_text(
        "path,label\n" + "".join(f"imgs/d{i % 2}/img{i // 2}.png,{'../evil' if i % 2 else 'con'}\n" for i in range(8))
    )
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
        ".aldesk-export.json",
        "MODEL_CARD.md",
        "bundle.json",
        "classes.json",
        "model.pt2",
    ]


def test_options_that_do_not_apply_are_refused(capsys, labeled_project, tmp_path):
    code, _, err = run(capsys, "export", labeled_project, "--format", "csv", "--out", tmp_path / "a.csv", "--link")
    assert code == 1 and "--link applies to --format imagefolder or hf-imagefolder only, not csv" in err
    code, _, err = run(
        capsys, "export", labeled_project, "--format", "csv", "--out", tmp_path / "a.csv", "--weights", tmp_path / "w.pth"
    )
    assert code == 1 and "--weights applies to --format model only, not csv" in err
    assert not (tmp_path / "a.csv").exists()


def test_an_existing_file_needs_force_and_the_projects_files_are_refused_even_with_it(capsys, labeled_project, tmp_path):
    target = tmp_path / "a.json"
    target.write_text("precious")
    code, _, err = run(capsys, "export", labeled_project, "--format", "json", "--out", target)
    assert code == 1 and err.strip() == f"aldesk: {target} exists; add --force to replace it, or choose another --out."
    assert target.read_text() == "precious"
    code, out, _ = run(capsys, "export", labeled_project, "--format", "json", "--out", target, "--force")
    assert code == 0 and "exported 12 items" in out and json.loads(target.read_text())["items"]
    project_bytes = labeled_project.read_bytes()
    image = tmp_path / "imgs" / "d0" / "img0.png"
    image_bytes = image.read_bytes()
    for fmt in ("csv", "json", "predictions"):
        for force in ([], ["--force"]):
            code, _, err = run(capsys, "export", labeled_project, "--format", fmt, "--out", labeled_project, *force)
            assert code == 1 and "is the project file itself" in err and "Choose another --out" in err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
            code, _, err = run(capsys, "export", labeled_project, "--format", fmt, "--out", image, *force)
            assert code == 1 and f"{image} is the source image of item 1" in err
    assert labeled_project.read_bytes() == project_bytes and image.read_bytes() == image_bytes


def test_force_refuses_a_folder_holding_the_projects_images(capsys, tmp_path):
    export_dir = tmp_path / "export"
    for i in range(4):
        write_image(export_dir / "cat" / f"{i}.png", distinct_colour(i * 30))
    (export_dir / ".aldesk-export.json").write_text("{}")  # an earlier export, imported as a dataset
    project = tmp_path / "q.aldesk"
    run(capsys, "new", project, "--classes", "cat")
    run(capsys, "import", project, export_dir, "--labels-from-folders")
    for fmt in ("imagefolder", "hf-imagefolder", "model"):
        code, _, err = run(capsys, "export", project, "--format", fmt, "--out", export_dir, "--force")
        assert code == 1 and f"{export_dir} holds source images of {project}" in err, err
    assert len(list((export_dir / "cat").iterdir())) == 4
