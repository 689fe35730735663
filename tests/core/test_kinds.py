"""The item-kind seam: a project's kind decides what an import takes and how it is checked."""

import pytest

from aldesk.core.errors import AldeskError
from aldesk.core.kinds.base import Examined
from aldesk.core.importer import import_paths
from aldesk.core.kinds import base, get_kind, kind_of
from tests.conftest import write_image


def test_a_project_without_a_kind_holds_images(project):
    assert project.meta(base.KIND_KEY) is None
    assert kind_of(project).name == "image"
    assert get_kind("image").takes("photo.JPG") and not get_kind("image").takes("notes.txt")


def test_an_unknown_kind_names_itself_and_what_to_do(project):
    project.set_meta(base.KIND_KEY, "hologram")
    with pytest.raises(AldeskError, match="'hologram'.*open the project with the aldesk that made it"):
        kind_of(project)


class NotesKind:
    """A stand-in second kind: takes .note files, records them as 1 x 1."""

    name = "note"
    noun = "note"
    needs_files = True

    def takes(self, path) -> bool:
        return str(path).endswith(".note")

    def lists(self, path) -> bool:
        return False

    def listed(self, path, options):
        return iter(())

    def examine(self, candidate) -> Examined:
        data = candidate.path.read_bytes()
        return Examined(data.hex(), len(data), 1, 1)

    def sources(self, project, items, max_side=None):
        return [lambda path=path: path.read_text() for _, path in items]


def test_the_import_takes_the_files_of_the_projects_kind(project, tmp_path, monkeypatch):
    monkeypatch.setitem(base._KINDS, "note", NotesKind())
    folder = tmp_path / "in"
    write_image(folder / "a.png")
    (folder / "b.note").write_text("first")
    (folder / "c.note").write_text("second")
    project.set_meta(base.KIND_KEY, "note")
    report = import_paths(project, [folder])
    assert report.imported == 2
    stored = sorted(p for (p,) in project.conn.execute("SELECT path FROM items"))
    assert [s.rsplit("/", 1)[-1] for s in stored] == ["b.note", "c.note"]  # the image is not this kind
