"""Texts: ``.txt`` files (one item each) and rows of CSV/TSV/JSON Lines tables.

A text is stored whole in the project (table ``item_texts``), stripped of surrounding
whitespace; its digest is that of its UTF-8 bytes, so the same text from two files folds into one
item. Width and height are its characters and lines. Encoders read at most their own limit of a
text (the text encoder's first 256 tokens); the person always reads all of it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from aldesk.core import text_decode
from aldesk.core.errors import ItemError
from aldesk.core.imageio import open_regular
from aldesk.core.items import texts_of
from aldesk.core.kinds.base import Candidate, Examined, ImportOptions, Note, Skipped, Source, register
from aldesk.core.store import Project
from aldesk.core.text_tables import is_table, read_table

TEXT_SUFFIXES = (".txt", ".text")
MAX_TEXT_BYTES = 16 * 1024**2  # one item; a bigger file is a corpus, not a text to label
# Beyond about this many characters an encoder of 256 tokens reads only the start of a text.
LONG_TEXT = 1500


class TextKind:
    name = "text"
    noun = "text"
    needs_files = False

    def takes(self, path: str | os.PathLike[str]) -> bool:
        return os.fspath(path).lower().endswith(TEXT_SUFFIXES)

    def lists(self, path: Path) -> bool:
        return is_table(path)

    def listed(self, path: Path, options: ImportOptions) -> Iterator[Candidate | Skipped | Note]:
        return read_table(path, options)

    def examine(self, candidate: Candidate) -> Examined:
        note = None
        if candidate.text is not None:
            text = candidate.text
        else:
            text, note = _read_text_file(candidate.path)
        data = text.encode("utf-8")
        if len(text) > LONG_TEXT:
            cut = f"a long text ({len(text):,} characters): kept whole for reading; the encoder reads its start"
            note = f"{note}; {cut}" if note else cut
        return Examined(hashlib.sha256(data).hexdigest(), len(data), len(text), text.count("\n") + 1, text=text, note=note)

    def sources(self, project: Project, items: Sequence[tuple[int, Path]], short_side: int | None = None) -> list[Source]:
        texts = texts_of(project, [item_id for item_id, _ in items])
        return [_returning(texts[item_id]) if item_id in texts else _missing(path) for item_id, path in items]


def _returning(text: str) -> Source:
    return lambda: text


def _missing(path: Path) -> Source:
    """An item whose text the project lacks (a damaged file; recover keeps what is readable)."""

    def read() -> str:
        raise ItemError(path, "its text is missing from the project file (damaged? aldesk recover copies what is readable)")

    return read


def _read_text_file(path: Path) -> tuple[str, str | None]:
    with open_regular(path) as handle:  # refuses FIFOs and devices, names empty files
        data = handle.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise ItemError(path, f"larger than {MAX_TEXT_BYTES // 1024**2} MB: not one text to label; split it into files")
    try:
        decoded = text_decode.decode(data)
    except text_decode.NotText as exc:
        raise ItemError(path, str(exc)) from None
    text = decoded.text.strip()
    if not text:
        raise ItemError(path, "only whitespace, no text")
    if text_decode.looks_binary(text):
        raise ItemError(path, "binary data (control characters), not text")
    note = f"not UTF-8: read as {text_decode.FALLBACK}" if decoded.fell_back else None
    return text, note


register(TextKind())
