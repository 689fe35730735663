"""Bytes to text the way people's files are actually encoded.

UTF-8 (with or without a byte-order mark) and UTF-16 with a mark are read as they say; bytes
that are not UTF-8 are read as Windows-1252, the superset of Latin-1 that Windows programs write
(the TREC questions, old exports), and the caller says so. Bytes with NULs and no UTF-16 mark
are a binary file, not text.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

UTF8 = "UTF-8"
FALLBACK = "Windows-1252 (Latin-1)"  # what reports call the fallback


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # UTF8, "UTF-8 with BOM", "UTF-16", or FALLBACK

    @property
    def fell_back(self) -> bool:
        return self.encoding == FALLBACK


class NotText(ValueError):
    """The bytes are not text in any encoding aldesk reads (a binary file)."""


def decode(data: bytes) -> Decoded:
    """``data`` as text; NotText for binary data. Line endings become ``\\n``."""
    if data.startswith(codecs.BOM_UTF8):
        return Decoded(_lines(data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")), "UTF-8 with BOM")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(_lines(data.decode("utf-16")), "UTF-16")
        except UnicodeDecodeError as exc:
            raise NotText(f"starts as UTF-16 but is not valid UTF-16 ({exc.reason})") from None
    if b"\x00" in data:
        raise NotText("binary data (NUL bytes), not text")
    try:
        return Decoded(_lines(data.decode("utf-8")), UTF8)
    except UnicodeDecodeError:
        pass
    # Five byte values are undefined in Windows-1252; Latin-1 maps them to control characters.
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return Decoded(_lines(text), FALLBACK)


def looks_binary(text: str) -> bool:
    """Control characters other than tab/newline in more than 1 of 100 characters: a decoded
    binary file (an image renamed .txt), not prose."""
    if not text:
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls * 100 > len(text)


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
