"""Safe, unique file and folder names for exports.

Class names and image file names come from people and from other file systems: ``../evil``,
``a/b``, ``con`` (a device on Windows), ``.`` or a name ending in a dot or space (which Windows
silently strips) must never make an export write outside its folder, fail on another system, or
let two classes share a folder. Names are compared case-insensitively, because macOS and Windows
file systems are, so ``Cat`` and ``cat`` get two folders everywhere.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from aldesk.core.errors import AldeskError

# Names Windows reserves for devices, with or without an extension ("con", "con.txt").
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}
# Characters that separate paths or are refused by Windows file systems.
_FORBIDDEN = set('/\\:*?"<>|')
# Most file systems allow 255 bytes per name; keep room for a "_12" suffix and an extension.
MAX_NAME_BYTES = 120


def safe_name(name: str, fallback: str = "unnamed") -> str:
    """One path component that is valid on Linux, macOS and Windows and never special.

    Separators, control and reserved characters become ``_``; a leading dot (hidden files, ``.``
    and ``..``) and trailing dots and spaces are replaced; Windows device names get a ``_``
    suffix; an over-long name is shortened and keeps a hash of the original so it stays distinct.
    """
    text = unicodedata.normalize("NFC", name)
    text = "".join("_" if ch in _FORBIDDEN or unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = text.strip(" ")
    if text.startswith("."):
        text = "_" + text[1:]
    stripped = text.rstrip(". ")
    if stripped != text:
        text = stripped + "_"
    if not text:
        text = fallback
    if text.split(".")[0].casefold() in _WINDOWS_DEVICES:
        stem, dot, rest = text.partition(".")
        text = f"{stem}_{dot}{rest}"
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        text = _truncate_utf8(text, MAX_NAME_BYTES - 9).rstrip(". ") + "~" + digest
    return text


def _truncate_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


class UniqueNames:
    """Hands out names that differ from every name given before, ignoring case.

    A clash gets ``_2``, ``_3``, ... before the extension (for files) or at the end (folders).
    ``reserved`` names (e.g. the export's own files) are never handed out.
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._taken = {r.casefold() for r in reserved}

    def folder(self, name: str) -> str:
        return self._claim(safe_name(name), "")

    def file(self, name: str) -> str:
        stem, ext = os.path.splitext(name)
        ext = ext if ext and len(ext) <= 10 and safe_name(ext[1:]) == ext[1:] else ""
        if not ext:
            stem = name
        return self._claim(safe_name(stem, fallback="image"), ext)

    def _claim(self, stem: str, ext: str) -> str:
        candidate = stem + ext
        number = 1
        while candidate.casefold() in self._taken:
            number += 1
            candidate = f"{stem}_{number}{ext}"
        self._taken.add(candidate.casefold())
        return candidate


def class_folders(names: list[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """Each class name's folder name: safe, and unique among the classes (in the given order)."""
    unique = UniqueNames(reserved)
    return {name: unique.folder(name) for name in names}


def inside(root: Path, path: Path) -> Path:
    """``path`` made absolute, refused unless it lies within ``root`` (a last line of defence:
    the names above should never let it happen)."""
    resolved_root = Path(os.path.realpath(root))
    resolved = Path(os.path.realpath(path))
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise AldeskError(f"Refusing to write {path}: it is outside the export folder {root}.")
    return resolved
