"""Exports never destroy the project, its images or an unrelated file, and clean up after a kill."""

import errno
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aldesk.core import export_partial
from aldesk.core.classes import add_classes
from aldesk.core.errors import AldeskError, DiskFullError
from aldesk.core.export import export
from aldesk.core.export_partial import partial_path, remove_stale_partials
from aldesk.core.export_target import MARKER
from aldesk.core.importer import import_paths
from aldesk.core.labels import record
from tests.conftest import distinct_colour, write_image

FILE_FORMATS = ("csv", "json")


@pytest.fixture
def labeled(project, tmp_path):
    add_classes(project, ["cat", "dog"])
    for i in range(4):
        write_image(tmp_path / "imgs" / f"{i}.png", distinct_colour(i))
    import_paths(project, [tmp_path / "imgs"])
    for item in (1, 2, 3):
        record(project, item, "label", 1 + item % 2)
    return project


def _digests(paths) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _identities(paths) -> dict[Path, tuple[int, int]]:
    """Which file is there and how big: SQLite itself updates -shm's bytes as it reads."""
    return {p: (p.stat().st_ino, p.stat().st_size) for p in paths}


def _project_files(project) -> list[Path]:
    files = [project.path.with_name(project.path.name + s) for s in ("", "-wal", "-shm", "-lock")]
    assert all(f.exists() for f in files)  # open for writing: every one of them is there
    return files


def _spellings(path: Path, tmp_path: Path) -> list[Path]:
    """The same file by another name: itself, a ``..`` detour, a symlink, a hard link."""
    (tmp_path / "detour").mkdir(exist_ok=True)
    symlink = tmp_path / f"sym-{path.name}"
    symlink.symlink_to(path)
    hard = tmp_path / f"hard-{path.name}"
    os.link(path, hard)
    return [path, tmp_path / "detour" / ".." / path.relative_to(tmp_path), symlink, hard]


def test_the_projects_own_files_are_never_export_targets(labeled, tmp_path):
    own = _project_files(labeled)
    before = _identities(own)
    for target in own:
        for spelling in _spellings(target, tmp_path):
            for fmt in FILE_FORMATS + ("imagefolder",):
                for force in (False, True):
                    with pytest.raises(AldeskError, match=rf"{spelling.name} is the project.*Choose another --out"):
                        export(labeled, fmt, spelling, force=force)
    assert _identities(own) == before
    assert not [n for n in os.listdir(tmp_path) if ".partial-" in n]


def test_a_missing_sidecar_name_is_refused_too(labeled, tmp_path):
    journal = labeled.path.with_name(labeled.path.name + "-journal")
    assert not journal.exists()
    with pytest.raises(AldeskError, match="project's journal"):
        export(labeled, "csv", journal, force=True)
    with pytest.raises(AldeskError, match="project's journal"):
        export(labeled, "hf-imagefolder", journal)
    assert not journal.exists()


def test_source_images_are_never_export_targets(labeled, tmp_path):
    sources = sorted((tmp_path / "imgs").iterdir())
    before = _digests(sources)
    for source in sources[:2]:
        for spelling in _spellings(source, tmp_path):
            for force in (False, True):
                expected = rf"{spelling.name} is the source image of item .*Choose another --out"
                with pytest.raises(AldeskError, match=expected):
                    export(labeled, "json", spelling, force=force)
    assert _digests(sources) == before


def test_a_copy_of_a_source_image_is_an_ordinary_file(labeled, tmp_path):
    copy = tmp_path / "copy.png"
    copy.write_bytes((tmp_path / "imgs" / "0.png").read_bytes())  # same bytes, another file
    with pytest.raises(AldeskError, match=rf"{copy} exists; add --force to replace it"):
        export(labeled, "csv", copy)
    export(labeled, "csv", copy, force=True)
    assert copy.read_text().startswith("path,label")


def test_an_existing_file_is_replaced_only_with_force(labeled, tmp_path):
    target = tmp_path / "thesis.csv"
    target.write_text("precious")
    for fmt in FILE_FORMATS:
        with pytest.raises(AldeskError, match=rf"{target} exists; add --force to replace it"):
            export(labeled, fmt, target)
        assert target.read_text() == "precious"
    export(labeled, "csv", target, force=True)
    assert target.read_text().startswith("path,label")


def test_exported_files_get_the_usual_permissions(labeled, tmp_path):
    for umask in (0o022, 0o077, 0o002):
        old = os.umask(umask)
        try:
            export(labeled, "csv", tmp_path / f"out-{umask:o}.csv")
        finally:
            os.umask(old)
        assert (tmp_path / f"out-{umask:o}.csv").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_a_full_disk_is_a_disk_full_error_and_leaves_nothing(labeled, tmp_path, monkeypatch, code):
    target = tmp_path / "out.json"
    target.write_text("the previous export")
    real_write = os.write
    calls = []

    def write_then_fail(fd, data):
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, data[:10])  # part of it reaches the disk
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "write", write_then_fail)
    with pytest.raises(DiskFullError, match=rf"{target}.*the export was not saved"):
        export(labeled, "json", target, force=True)
    monkeypatch.undo()
    assert len(calls) == 2
    assert target.read_text() == "the previous export"
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["imgs", "out.json", "p.aldesk", "p.aldesk-lock", "p.aldesk-shm", "p.aldesk-wal"]
    )


def test_a_full_disk_during_a_folder_export_is_a_disk_full_error(labeled, tmp_path, monkeypatch):
    def no_room(src, dst, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("shutil.copyfile", no_room)
    with pytest.raises(DiskFullError, match=r"out.*the export was not saved"):
        export(labeled, "imagefolder", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not [n for n in os.listdir(tmp_path) if ".partial-" in n]


def _earlier_export(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(json.dumps({"format": "imagefolder"}))


def test_force_never_replaces_a_folder_holding_source_images(project, tmp_path):
    out = tmp_path / "exported"
    _earlier_export(out)
    add_classes(project, ["cat"])
    write_image(out / "cat" / "a.png", distinct_colour(1))  # imported from an earlier export
    write_image(tmp_path / "elsewhere" / "b.png", distinct_colour(2))
    import_paths(project, [out, tmp_path / "elsewhere"])
    record(project, 1, "label", 1)
    before = _digests([out / "cat" / "a.png"])
    link = tmp_path / "link-to-exported"
    link.symlink_to(out)
    for target in (out, link, tmp_path / "x" / ".." / "exported"):
        for fmt in ("imagefolder", "hf-imagefolder"):
            with pytest.raises(AldeskError, match=r"holds source images of .*a\.png.*Choose another --out"):
                export(project, fmt, target, force=True)
    assert _digests([out / "cat" / "a.png"]) == before


def test_force_never_replaces_a_folder_holding_sources_through_a_symlink(project, tmp_path):
    out = tmp_path / "exported"
    _earlier_export(out)
    write_image(out / "cat" / "a.png", distinct_colour(1))
    (tmp_path / "via").symlink_to(out / "cat")  # imported through a link into the export
    import_paths(project, [tmp_path / "via"])
    assert project.conn.execute("SELECT path FROM items").fetchone()[0] == "via/a.png"
    with pytest.raises(AldeskError, match=r"holds source images"):
        export(project, "imagefolder", out, force=True)
    assert (out / "cat" / "a.png").is_file()


def test_force_never_replaces_a_folder_holding_the_project(labeled, tmp_path):
    _earlier_export(tmp_path)  # the project sits inside an earlier export's folder
    for target in (tmp_path, tmp_path / "imgs" / ".."):
        with pytest.raises(AldeskError, match=rf"holds the project {labeled.path}.*Choose another --out"):
            export(labeled, "imagefolder", target, force=True)
    assert labeled.path.is_file() and len(os.listdir(tmp_path / "imgs")) == 4


def test_force_still_replaces_an_earlier_export_of_copies(labeled, tmp_path):
    export(labeled, "imagefolder", tmp_path / "out", link=True)  # hard links are not sources
    export(labeled, "hf-imagefolder", tmp_path / "out", force=True)
    assert (tmp_path / "out" / "metadata.csv").is_file()
    assert len(os.listdir(tmp_path / "imgs")) == 4


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _partial(folder: Path, name: str, host: str, pid: int, is_dir: bool = False) -> Path:
    path = folder / f".{name}.partial-{host}-{pid}-0123abcd"
    if is_dir:
        path.mkdir()
        (path / "half.png").write_bytes(b"x")
    else:
        path.write_text("half")
    return path


def test_stale_partials_are_removed_and_live_ones_kept(tmp_path):
    host = export_partial._host()
    dead = _dead_pid()
    stale_file = _partial(tmp_path, "out.csv", host, dead)
    stale_folder = _partial(tmp_path, "out", host, dead, is_dir=True)
    live = _partial(tmp_path, "mine.csv", host, os.getpid())
    other_host_young = _partial(tmp_path, "a.csv", "otherhost", 12345)
    other_host_old = _partial(tmp_path, "b.csv", "otherhost", 12345)
    old_style_old = tmp_path / ".out2.partial-89abcdef"
    old_style_old.mkdir()
    week_ago = time.time() - 7 * 24 * 3600
    for path in (other_host_old, old_style_old):
        os.utime(path, (week_ago, week_ago))
    unrelated = tmp_path / "notes.partial-x.txt"
    unrelated.write_text("mine")
    removed = remove_stale_partials(tmp_path)
    assert sorted(removed) == sorted([stale_file, stale_folder, other_host_old, old_style_old])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, other_host_young, unrelated))
    assert remove_stale_partials(tmp_path / "missing") == []


def test_every_export_starts_by_removing_stale_partials(labeled, tmp_path):
    host = export_partial._host()
    leftovers = [_partial(tmp_path, "out.csv", host, _dead_pid()), _partial(tmp_path, "out", host, _dead_pid(), True)]
    export(labeled, "csv", tmp_path / "out.csv")
    assert not any(p.exists() for p in leftovers)
    leftover = _partial(tmp_path, "out", host, _dead_pid(), True)
    export(labeled, "imagefolder", tmp_path / "out")
    assert not leftover.exists()
    assert not [n for n in os.listdir(tmp_path) if ".partial-" in n]


def test_partials_name_their_writer(tmp_path):
    path = partial_path(tmp_path / "out.csv")
    assert path.parent == tmp_path and path.name.startswith(".out.csv.partial-")
    assert f"-{os.getpid()}-" in path.name and not export_partial.is_stale(path)
