"""Class and file names become safe, unique names inside the export folder."""

import pytest

from aldesk.core.errors import AldeskError
from aldesk.core.export_names import MAX_NAME_BYTES, UniqueNames, class_folders, inside, safe_name

UNSAFE = [
    "../evil",
    "..",
    ".",
    "",
    "con",
    "CON",
    "Aux.txt",
    "lpt1",
    "a/b",
    "a\\b",
    "a:b",
    "trail. ",
    "trail...",
    " spaced ",
    ".hidden",
    "x" * 400,
    "ü" * 200,
    "tab\there",
    "Cat",
    "cat",
]
WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


@pytest.mark.parametrize("name", UNSAFE)
def test_every_unsafe_name_becomes_one_plain_path_component(name):
    safe = safe_name(name)
    assert safe and safe not in (".", "..")
    assert not set(safe) & set('/\\:*?"<>|\t')
    assert not safe.startswith(".") and not safe.endswith((".", " "))
    assert safe.split(".")[0].casefold() not in WINDOWS_DEVICES
    assert len(safe.encode("utf-8")) <= MAX_NAME_BYTES


def test_class_folders_are_unique_ignoring_case_and_after_cleaning():
    names = ["Cat", "cat", "a/b", "a_b", "a:b", "x" * 300, "x" * 301, "", "unnamed", "con", "con_"]
    folders = class_folders(names)
    assert list(folders) == names
    assert len({f.casefold() for f in folders.values()}) == len(names)
    assert folders["Cat"] == "Cat"  # a safe name is kept as it is
    assert folders["x" * 300] != folders["x" * 301]  # long names keep a hash of the original


def test_reserved_names_are_never_handed_out():
    folders = class_folders(["metadata.csv", "Images"], reserved=["metadata.csv", "images"])
    assert folders == {"metadata.csv": "metadata.csv_2", "Images": "Images_2"}


def test_file_names_keep_their_extension_and_get_numbered_on_clashes():
    unique = UniqueNames()
    names = [unique.file(n) for n in ["a.png", "A.PNG", "a.png", "nul.jpg", ".png", "../x.jpg", "noext"]]
    assert names == ["a.png", "A_2.PNG", "a_3.png", "nul_.jpg", "_png", "_._x.jpg", "noext"]


def test_a_path_outside_the_root_is_refused(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    assert inside(root, root / "a" / "b.png") == root / "a" / "b.png"
    with pytest.raises(AldeskError, match="outside the export folder"):
        inside(root, root / ".." / "evil.png")
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(AldeskError, match="outside the export folder"):
        inside(root, root / "link" / "evil.png")
