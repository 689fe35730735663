"""Images: files Pillow opens (JPEG, PNG, TIFF, WebP, ...), checked at import by decoding their
header, loaded upright (EXIF orientation) and reduced to the size asked (aldesk/core/imageio.py).
A CSV given to an import lists image files (``path[,label]``)."""

from __future__ import annotations

import hashlib
import os
from functools import partial
from collections.abc import Iterator, Sequence
from pathlib import Path

from aldesk.core import imageio
from aldesk.core.kinds.base import Candidate, Examined, ImportOptions, Note, Skipped, Source, register, shown
from aldesk.core.path_list import csv_rows
from aldesk.core.store import Project


class ImageKind:
    name = "image"
    noun = "image"
    needs_files = True

    def takes(self, path: str | os.PathLike[str]) -> bool:
        return imageio.is_image_name(path)

    def lists(self, path: Path) -> bool:
        return path.suffix.lower() == ".csv"

    def listed(self, path: Path, options: ImportOptions) -> Iterator[Candidate | Skipped | Note]:
        for number, target, label in csv_rows(path):
            if not os.path.lexists(target):
                yield Skipped(shown(target), f"listed in {path.name} row {number}, but no such file")
            else:
                yield Candidate(target, label)

    def examine(self, candidate: Candidate) -> Examined:
        with imageio.open_regular(candidate.path) as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
            size = handle.tell()
        info = imageio.probe_image(candidate.path)
        return Examined(digest, size, info.width, info.height)

    def sources(self, project: Project, items: Sequence[tuple[int, Path]], short_side: int | None = None) -> list[Source]:
        return [partial(imageio.load_image, path, short_side=short_side) for _, path in items]


register(ImageKind())
