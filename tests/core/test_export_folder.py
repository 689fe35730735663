"""imagefolder and hf-imagefolder exports: layout, unsafe class names, links, refusals, cancel."""

import csv
import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError
from aldesk.core.export import export
from aldesk.core.export_target import MARKER
from aldesk.core.importer import import_paths
from aldesk.core.labels import record
from tests.conftest import distinct_colour, write_image

CLASSES = ["../evil", "con", "a/b", "a_b", ".", "trailing.", "é" * 190, "Cat", "cat"]


@pytest.fixture
def labeled(project, tmp_path):
    """Two images per class with the same base names in two folders; one unlabeled, one skipped."""
    add_classes(project, CLASSES[:-1])
    with project.transaction() as conn:  # aldesk refuses names differing only by case; other tools may not
        conn.execute("INSERT INTO classes(name, position, colour) VALUES ('cat', 99, '#000000')")
    for i in range(2 * len(CLASSES) + 2):
        write_image(tmp_path / "imgs" / f"d{i % 2}" / f"same{i // 2}.png", distinct_colour(i))
    import_paths(project, [tmp_path / "imgs"])
    ids = [row[0] for row in project.conn.execute("SELECT id FROM items ORDER BY id")]
    class_ids = [row[0] for row in project.conn.execute("SELECT id FROM classes ORDER BY position")]
    for n, item in enumerate(ids[: 2 * len(CLASSES)]):
        record(project, item, "label", class_ids[n % len(CLASSES)])
    record(project, ids[-1], "skip")
    return project


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _labeled_files(project) -> dict[str, str]:
    """sha256 of each labeled image -> its class name."""
    return {
        _sha(project.resolve(path)): name
        for path, name in project.conn.execute("SELECT i.path, c.name FROM items i JOIN classes c ON c.id = i.label_class_id")
    }


def _all_files(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


def test_imagefolder_puts_every_labeled_image_in_its_class_folder_and_nowhere_else(labeled, tmp_path):
    out = tmp_path / "export" / "out"
    out.parent.mkdir()
    (tmp_path / "export" / "keep.txt").write_text("untouched")
    before = sorted(os.listdir(tmp_path))
    report = export(labeled, "imagefolder", out)
    assert report.written == 2 * len(CLASSES) and not report.missing
    assert sorted(os.listdir(tmp_path)) == before  # nothing new beside the project or the export
    assert sorted(os.listdir(out.parent)) == ["keep.txt", "out"]  # the staging folder is gone
    files = [f for f in _all_files(out) if f.name != MARKER]
    assert len(files) == 2 * len(CLASSES)  # same base names did not overwrite each other
    for f in files:
        assert Path(os.path.realpath(f)).is_relative_to(os.path.realpath(out))
        assert f.parent.parent == out  # exactly OUT/<class>/<image>
    expected = _labeled_files(labeled)
    folder_of = report.folders
    assert len({f.casefold() for f in folder_of.values()}) == len(CLASSES)  # Cat and cat too
    assert {_sha(f): f.parent.name for f in files} == {sha: folder_of[name] for sha, name in expected.items()}
    manifest = json.loads((out / MARKER).read_text())
    assert manifest["format"] == "imagefolder" and manifest["class_folders"] == folder_of


def test_hf_imagefolder_writes_a_metadata_csv_with_relative_file_names(labeled, tmp_path):
    out = tmp_path / "hf"
    progress = []
    report = export(labeled, "hf-imagefolder", out, progress=lambda d, t: progress.append((d, t)))
    rows = list(csv.DictReader((out / "metadata.csv").open(encoding="utf-8")))
    assert list(rows[0]) == ["file_name", "label"]
    assert len(rows) == report.written == 2 * len(CLASSES)
    assert len({r["file_name"] for r in rows}) == len(rows)
    expected = _labeled_files(labeled)
    for row in rows:
        assert row["file_name"].startswith("images/") and "\\" not in row["file_name"]
        assert expected[_sha(out / row["file_name"])] == row["label"]  # the real class name
    assert progress[-1] == (len(expected) + 0, len(expected))


def test_missing_images_are_skipped_and_named(labeled, tmp_path):
    gone = tmp_path / "imgs" / "d0" / "same0.png"
    gone.unlink()
    report = export(labeled, "hf-imagefolder", tmp_path / "hf")
    assert report.missing == [str(gone)]
    assert report.written == 2 * len(CLASSES) - 1
    assert any(str(gone) in line and "not found" in line for line in report.lines())
    rows = list(csv.DictReader((tmp_path / "hf" / "metadata.csv").open(encoding="utf-8")))
    assert len(rows) == report.written and all((tmp_path / "hf" / r["file_name"]).is_file() for r in rows)


def test_link_makes_hard_links(labeled, tmp_path):
    report = export(labeled, "imagefolder", tmp_path / "out", link=True)
    assert report.linked == report.written == 2 * len(CLASSES) and report.copied == 0
    sources = {
        os.stat(labeled.resolve(p)).st_ino for (p,) in labeled.conn.execute("SELECT path FROM items WHERE status = 'labeled'")
    }
    assert {os.stat(f).st_ino for f in _all_files(tmp_path / "out") if f.name != MARKER} == sources


def test_refused_links_fall_back_to_copies_with_a_note(labeled, tmp_path, monkeypatch):
    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    report = export(labeled, "imagefolder", tmp_path / "out", link=True)
    assert report.copied == report.written == 2 * len(CLASSES) and report.linked == 0
    assert report.notes == [f"hard links were refused (Invalid cross-device link); {report.copied} images were copied instead"]


def test_a_non_empty_folder_is_refused_and_force_replaces_only_an_earlier_export(labeled, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    for force in (False, True):
        with pytest.raises(AldeskError, match="not empty and is not an earlier aldesk export"):
            export(labeled, "imagefolder", mine, force=force)
    assert os.listdir(mine) == ["thesis.tex"]
    out = tmp_path / "out"
    out.mkdir()  # an empty folder is fine
    export(labeled, "imagefolder", out)
    with pytest.raises(AldeskError, match="--force"):
        export(labeled, "hf-imagefolder", out)
    export(labeled, "hf-imagefolder", out, force=True)
    assert sorted(os.listdir(out)) == [MARKER, "images", "metadata.csv"]  # the old export is gone
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # and so are the temporary folders


def test_cancel_leaves_nothing_behind(labeled, tmp_path):
    calls = []
    report = export(labeled, "imagefolder", tmp_path / "out", cancel=lambda: calls.append(1) or len(calls) > 3)
    assert report.cancelled and "nothing was written" in report.summary()
    assert not (tmp_path / "out").exists()
    assert not [n for n in os.listdir(tmp_path) if "partial" in n]


def test_a_file_as_out_is_refused(labeled, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(AldeskError, match="is a file"):
        export(labeled, "imagefolder", target)


def test_the_export_folder_gets_the_usual_permissions(labeled, tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    export(labeled, "imagefolder", tmp_path / "out")
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~umask


def test_hugging_face_datasets_reads_the_hf_imagefolder_export(labeled, tmp_path):
    datasets = pytest.importorskip("datasets")  # not an aldesk dependency; checked where installed
    export(labeled, "hf-imagefolder", tmp_path / "hf")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "hf"), split="train")
    assert sorted(loaded["label"]) == sorted(_labeled_files(labeled).values())
    assert loaded[0]["image"].size == (16, 12)
