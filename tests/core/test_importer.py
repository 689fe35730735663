import os
import socket
import sys
from pathlib import Path

import pytest
from PIL import Image

from aldesk.core.classes import add_classes, list_classes
from aldesk.core import importer
from aldesk.core.importer import import_paths
from aldesk.core.info import project_info
from aldesk.core import labels
from tests.conftest import distinct_colour, write_image


def _make_folder(root: Path, count: int = 5) -> list[Path]:
    return [write_image(root / f"img{i}.png", distinct_colour(i)) for i in range(count)]


def test_folder_import_is_recursive_and_reports(project, tmp_path):
    src = tmp_path / "src"
    _make_folder(src, 3)
    write_image(src / "deeper" / "more" / "x.jpg", (200, 0, 0))
    (src / "notes.txt").write_text("ignored silently")
    (src / "fake.jpg").write_text("this is text, not a JPEG")
    write_image(src / ".hidden" / "h.png", (1, 2, 250))
    report = import_paths(project, [src])
    assert report.imported == 4
    assert report.already_present == 0
    assert [(Path(p).name, r) for p, r in report.skipped] == [("fake.jpg", report.skipped[0][1])]
    assert "not an image" in report.skipped[0][1]
    assert report.summary() == "imported 4, already present 0, skipped 1"
    rows = project.conn.execute("SELECT path, width, height, bytes, status FROM items ORDER BY path").fetchall()
    assert rows[0][1:3] == (16, 12) and rows[0][3] > 0 and rows[0][4] == "unlabeled"


def test_reimport_adds_nothing_and_copies_are_duplicates(project, tmp_path):
    src = tmp_path / "src"
    files = _make_folder(src, 4)
    import_paths(project, [src])
    again = import_paths(project, [src])
    assert (again.imported, again.already_present, again.skipped) == (0, 4, [])
    copy = tmp_path / "copy" / "same.png"
    copy.parent.mkdir()
    copy.write_bytes(files[0].read_bytes())
    dup = import_paths(project, [copy])
    assert (dup.imported, dup.already_present) == (0, 1)
    assert dup.duplicates == [(str(copy), str(files[0]))]
    assert project.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 4


def test_duplicates_within_one_import_are_stored_once(project, tmp_path):
    a = write_image(tmp_path / "a.png", (5, 5, 5))
    b = tmp_path / "b.png"
    b.write_bytes(a.read_bytes())
    report = import_paths(project, [tmp_path])
    assert (report.imported, report.already_present, len(report.duplicates)) == (1, 1, 1)


def test_labels_from_folders_create_classes(project, tmp_path):
    root = tmp_path / "train"
    write_image(root / "cat" / "1.png", (1, 0, 0))
    write_image(root / "cat" / "2.png", (2, 0, 0))
    write_image(root / "dog" / "1.png", (3, 0, 0))
    report = import_paths(project, [root], labels_from_folders=True)
    assert report.new_classes == ["cat", "dog"]
    assert report.labels_applied == 3
    info = project_info(project)
    assert info["per_class"] == {"cat": 2, "dog": 1}
    assert info["labeled"] == 3
    event = labels.history(project, 1)[0]
    assert (event.kind, event.source) == ("label", "import")


def test_csv_list_with_relative_paths_labels_and_missing_rows(project, tmp_path):
    write_image(tmp_path / "data" / "a.png", (1, 1, 1))
    write_image(tmp_path / "data" / "b b.png", (2, 2, 2))
    sheet = tmp_path / "data" / "list.csv"
    sheet.write_text("path,label\na.png,cat\nb b.png,\ngone.png,dog\n", encoding="utf-8")
    report = import_paths(project, [sheet])
    assert report.imported == 2
    assert report.labels_applied == 1
    assert len(report.skipped) == 1 and "row 4" in report.skipped[0][1]
    assert [c.name for c in list_classes(project)] == ["cat"]


def test_import_labels_never_override_a_persons_label(project, tmp_path):
    add_classes(project, ["cat", "dog"])
    write_image(tmp_path / "d" / "a.png", (9, 9, 9))
    import_paths(project, [tmp_path / "d"])
    labels.record(project, 1, "label", 2)  # a person says dog
    sheet = tmp_path / "l.csv"
    sheet.write_text(f"{tmp_path / 'd' / 'a.png'},cat\n")
    report = import_paths(project, [sheet])
    assert report.labels_applied == 0
    assert project_info(project)["per_class"] == {"cat": 0, "dog": 1}


def test_missing_path_is_reported_not_fatal(project, tmp_path):
    write_image(tmp_path / "ok.png")
    report = import_paths(project, [tmp_path / "nope", tmp_path / "ok.png"])
    assert report.imported == 1
    assert report.skipped == [(str(tmp_path / "nope"), "no such file or folder")]


def test_unicode_and_spaces_in_paths(project, tmp_path):
    path = write_image(tmp_path / "Bilder ñ" / "été 1.png", (3, 4, 5))
    report = import_paths(project, [tmp_path / "Bilder ñ"])
    assert report.imported == 1
    assert project.resolve(project.conn.execute("SELECT path FROM items").fetchone()[0]) == path


def test_progress_and_cancel(project, tmp_path):
    _make_folder(tmp_path / "s", 3)
    calls = []
    report = import_paths(project, [tmp_path / "s"], progress=lambda d, t: calls.append((d, t)), cancel=lambda: True)
    assert report.cancelled and report.imported == 0
    assert calls == [(0, 3)]
    report = import_paths(project, [tmp_path / "s"], progress=lambda d, t: calls.append((d, t)))
    assert report.imported == 3 and calls[-1] == (3, 3)


def test_truncated_images_are_skipped_with_reasons(project, tmp_path):
    write_image(tmp_path / "big.png", (1, 2, 3), size=(300, 300))
    data = (tmp_path / "big.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    Image.effect_noise((300, 200), 60).convert("RGB").save(tmp_path / "photo.jpg", quality=90)
    jpeg = (tmp_path / "photo.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    report = import_paths(project, [tmp_path])
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert report.imported == 2
    assert set(reasons) == {"cut.png", "cut.jpg"}
    assert "truncat" in reasons["cut.png"] and "truncat" in reasons["cut.jpg"]


def test_decompression_bomb_is_skipped_with_reason(project, tmp_path, monkeypatch):
    write_image(tmp_path / "huge.png", (1, 2, 3), size=(300, 300))
    write_image(tmp_path / "small.png", (1, 2, 4), size=(20, 20))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 90,000 pixels > 2 x 1,000: a bomb
    report = import_paths(project, [tmp_path])
    assert report.imported == 1
    assert report.skipped == [(str(tmp_path / "huge.png"), "0.09 MP is over the 0.002 MP limit")]


# --- files that are not regular, names that are not UTF-8, Ctrl+C -------------------------


def _special_files(folder: Path) -> dict[str, str]:
    """A FIFO, a symlink to /dev/zero and a socket named like images; name -> expected reason."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "pipe.png")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    expected = {"pipe.png": "not a regular file (FIFO)", "zero.jpg": "not a regular file (character device)"}
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(folder / "sock.png"))
        expected["sock.png"] = "not a regular file (socket)"
    except OSError:  # a path too long for AF_UNIX: the other two still count
        pass
    finally:
        sock.close()
    return expected


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
def test_fifo_socket_and_device_are_skipped_never_opened(project, tmp_path):
    src = tmp_path / "src"
    write_image(src / "ok.png", (1, 2, 3))
    expected = _special_files(src)
    report = import_paths(project, [src])  # before the fix: hangs forever on pipe.png
    assert report.imported == 1
    assert {Path(p).name: r for p, r in report.skipped} == expected


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_given_directly_or_in_a_csv_list_is_skipped(project, tmp_path):
    os.mkfifo(tmp_path / "direct.png")
    os.mkfifo(tmp_path / "listed.png")
    os.mkfifo(tmp_path / "list.csv")  # a FIFO named like a CSV list is not read either
    sheet = tmp_path / "real.csv"
    sheet.write_text("listed.png\n")
    report = import_paths(project, [tmp_path / "direct.png", sheet, tmp_path / "list.csv"])
    assert sorted((Path(p).name, r) for p, r in report.skipped) == [
        ("direct.png", "not a regular file (FIFO)"),
        ("list.csv", "not a regular file (FIFO)"),
        ("listed.png", "not a regular file (FIFO)"),
    ]


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="file names there are always Unicode")
def test_name_that_is_not_utf8_is_skipped_and_the_rest_imported(project, tmp_path):
    src = tmp_path / "src"
    bad = os.fsdecode(os.fsencode(src) + b"/caf\xe9.png")
    write_image(Path(bad), (7, 7, 7))
    write_image(Path(os.fsdecode(os.fsencode(src) + b"/f\xf6lder/x.png")), (8, 8, 8))
    _make_folder(src, 3)
    report = import_paths(project, [src], labels_from_folders=True)  # before: UnicodeEncodeError
    assert report.imported == 3
    shown = sorted(p for p, _ in report.skipped)
    assert shown == [str(src / "caf\\xe9.png"), str(src / "f\\xf6lder" / "x.png")]
    assert all("not valid UTF-8" in r and "rename it to a UTF-8 name" in r for _, r in report.skipped)
    for text in shown:
        text.encode("utf-8")  # printable: no lone surrogates reach the report
    assert list_classes(project) == []


def test_ctrl_c_keeps_finished_batches_and_says_how_many(project, tmp_path, monkeypatch):
    _make_folder(tmp_path / "s", 5)
    monkeypatch.setattr(importer, "_BATCH", 2)

    def progress(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(importer.ImportInterrupted) as caught:
        import_paths(project, [tmp_path / "s"], progress=progress)
    assert isinstance(caught.value, KeyboardInterrupt)
    assert caught.value.report.imported == 2 and caught.value.report.cancelled
    assert project.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2
    again = import_paths(project, [tmp_path / "s"])
    assert (again.imported, again.already_present) == (3, 2)


def test_ctrl_c_while_files_are_examined_counts_only_what_was_stored(project, tmp_path, monkeypatch):
    _make_folder(tmp_path / "s", 5)
    monkeypatch.setattr(importer, "_BATCH", 2)
    real = importer._examine

    def examine(cand, kind):
        if cand.path.name == "img3.png":
            raise KeyboardInterrupt  # arrives in the main thread through future.result()
        return real(cand, kind)

    monkeypatch.setattr(importer, "_examine", examine)
    with pytest.raises(importer.ImportInterrupted) as caught:
        import_paths(project, [tmp_path / "s"])
    assert caught.value.report.imported == 2
    assert project.conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2
