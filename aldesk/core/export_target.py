"""Where a folder export is written: a staging folder beside OUT, renamed into place at the end.

A folder export appears whole or not at all: the files are written into a hidden folder next to
OUT (same file system, so hard links and the final rename behave as they will for OUT) and the
folder is renamed to OUT when everything is written. Cancelling or an error removes the staging
folder; one a killed export left is removed by the next export (export_partial.py). An existing
OUT must be empty; ``force`` replaces it only when it is an earlier aldesk export (it holds the
marker file), so a mistyped path never deletes someone's own folder, and never when it holds the
project or any item's source image (export_guard.py): an export of a project imported from an
earlier export's folder must not delete its own images.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

from aldesk.core.disk import disk_full_error, is_no_space
from aldesk.core.errors import AldeskError
from aldesk.core.export_guard import check_folder_holds_nothing_of, check_not_project_file
from aldesk.core.export_names import inside
from aldesk.core.export_partial import create_partial_folder, remove_stale_partials
from aldesk.core.store import Project

# Written into every folder export; marks a folder aldesk may replace with --force.
MARKER = ".aldesk-export.json"


class StagedFolder:
    """Use as a context manager; call ``commit`` after writing everything under ``root``."""

    def __init__(self, out: str | Path, project: Project, *, force: bool = False) -> None:
        self.out = Path(os.path.abspath(out))
        self.force = force
        remove_stale_partials(self.out.parent)
        check_not_project_file(project, self.out)
        self._project = project
        self._checked = _check_target(self.out, force)
        if self._checked:
            check_folder_holds_nothing_of(project, self.out)  # before --force may delete it
        try:
            self.root = create_partial_folder(self.out)
        except OSError as exc:
            raise _write_error(self.out, exc) from exc
        self._committed = False

    def __enter__(self) -> "StagedFolder":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if not self._committed:
            shutil.rmtree(self.root, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, AldeskError):
            raise _write_error(self.out, exc) from exc  # one line for a person, not a traceback

    def path(self, *parts: str) -> Path:
        """A path under the staging root; refused if it would leave it."""
        return inside(self.root, self.root.joinpath(*parts))

    def write_marker(self, manifest: dict[str, Any]) -> None:
        self.path(MARKER).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    def commit(self) -> None:
        """Put the finished folder at OUT (replacing an empty folder or, with force, an earlier
        aldesk export)."""
        # OUT may have changed while we wrote.
        if _check_target(self.out, self.force) and not self._checked:
            check_folder_holds_nothing_of(self._project, self.out)
        old = None
        try:
            if self.out.is_dir():
                if any(self.out.iterdir()):
                    # A partial too: a kill before the rmtree below leaves nothing for long.
                    old = create_partial_folder(self.out)
                    os.replace(self.out, old / "previous")
                else:
                    self.out.rmdir()
            try:
                os.replace(self.root, self.out)
            except OSError:
                if old is not None:  # put the earlier export back
                    os.replace(old / "previous", self.out)
                    old.rmdir()
                    old = None
                raise
        except OSError as exc:
            if old is not None:
                with contextlib.suppress(OSError):
                    old.rmdir()  # only if empty: never delete an earlier export not put back
            if is_no_space(exc):
                raise _write_error(self.out, exc) from exc
            raise AldeskError(f"Could not put the export in place at {self.out}: {exc.strerror or exc}") from exc
        self._committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _write_error(out: Path, exc: OSError) -> AldeskError:
    if is_no_space(exc):
        return disk_full_error(out, what="the export", limit=exc.errno == errno.EFBIG)
    return AldeskError(f"Cannot write the export {out}: {exc.strerror or exc}")


def _check_target(out: Path, force: bool) -> bool:
    """Refuse OUT unless new, empty or (with force) an earlier export; True if it will be replaced."""
    if out.exists() and not out.is_dir():
        raise AldeskError(f"{out} is a file; give a folder (new or empty) to export into.")
    if not out.parent.is_dir():
        raise AldeskError(f"Cannot export into {out}: the folder {out.parent} does not exist.")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise AldeskError(f"{out} is not empty and is not an earlier aldesk export; choose a new or empty folder.")
        if not force:
            raise AldeskError(f"{out} holds an earlier aldesk export; choose another folder, or replace it with --force.")
        return True
    return False
