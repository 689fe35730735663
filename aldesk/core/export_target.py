"""Where a folder export is written: a staging folder beside OUT, renamed into place at the end.

A folder export appears whole or not at all: the files are written into a hidden folder next to
OUT (same file system, so hard links and the final rename behave as they will for OUT) and the
folder is renamed to OUT when everything is written. Cancelling or an error removes the staging
folder. An existing OUT must be empty; ``force`` replaces it only when it is an earlier aldesk
export (it holds the marker file), so a mistyped path never deletes someone's own folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aldesk.core.errors import AldeskError
from aldesk.core.export_names import inside

# Written into every folder export; marks a folder aldesk may replace with --force.
MARKER = ".aldesk-export.json"


class StagedFolder:
    """Use as a context manager; call ``commit`` after writing everything under ``root``."""

    def __init__(self, out: str | Path, *, force: bool = False) -> None:
        self.out = Path(os.path.abspath(out))
        self.force = force
        _check_target(self.out, force)
        try:
            self.root = _make_folder(self.out.parent, f".{self.out.name}.partial-")
        except OSError as exc:
            raise AldeskError(f"Cannot write in {self.out.parent}: {exc.strerror or exc}") from exc
        self._committed = False

    def __enter__(self) -> "StagedFolder":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._committed:
            shutil.rmtree(self.root, ignore_errors=True)

    def path(self, *parts: str) -> Path:
        """A path under the staging root; refused if it would leave it."""
        return inside(self.root, self.root.joinpath(*parts))

    def write_marker(self, manifest: dict[str, Any]) -> None:
        self.path(MARKER).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    def commit(self) -> None:
        """Put the finished folder at OUT (replacing an empty folder or, with force, an earlier
        aldesk export)."""
        _check_target(self.out, self.force)  # it may have changed while we wrote
        old = None
        try:
            if self.out.is_dir():
                if any(self.out.iterdir()):
                    old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.out.parent))
                    os.replace(self.out, old / "previous")
                else:
                    self.out.rmdir()
            os.replace(self.root, self.out)
        except OSError as exc:
            raise AldeskError(f"Could not put the export in place at {self.out}: {exc.strerror or exc}") from exc
        self._committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _make_folder(parent: Path, prefix: str) -> Path:
    """A new uniquely named folder with the usual permissions (mkdtemp's are owner-only, which
    the finished export would keep)."""
    for _ in range(100):
        candidate = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {parent}")


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise AldeskError(f"{out} is a file; give a folder (new or empty) to export into.")
    if not out.parent.is_dir():
        raise AldeskError(f"Cannot export into {out}: the folder {out.parent} does not exist.")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise AldeskError(
                f"{out} is not empty and is not an earlier aldesk export; choose a new or empty folder."
            )
        if not force:
            raise AldeskError(
                f"{out} holds an earlier aldesk export; choose another folder, or replace it with --force."
            )
