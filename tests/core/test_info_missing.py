"""The moved-file check of ``aldesk info``: relative, nested and absolute stored paths."""

from aldesk.core.info import missing_items
from tests.conftest import write_image


def test_missing_items_finds_exactly_the_gone_files(project, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    present = [
        write_image(project.root / "top.png"),
        write_image(project.root / "a" / "b" / "nested.png"),
        write_image(outside / "far.png"),
    ]
    stored = [project.stored_path(p) for p in present]
    gone = ["gone.png", "a/b/gone.png", "a/nowhere/x.png", str(outside / "gone.png")]
    assert stored[2].startswith("/")  # outside the project folder: kept absolute
    (project.root / "a" / "b" / "adir.png").mkdir()  # a folder with an image's name is no file
    assert missing_items(project, stored + gone + ["a/b/adir.png"]) == sorted(gone + ["a/b/adir.png"])
