"""What an export did: how much it wrote, what it skipped and why, in words for a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ExportReport:
    format: str
    out: Path
    written: int = 0  # rows, images or (model) files written
    unit: str = "items"
    linked: int = 0
    copied: int = 0
    missing: list[str] = field(default_factory=list)  # images gone since import (absolute paths)
    notes: list[str] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # class name -> folder (imagefolder)
    cancelled: bool = False

    def summary(self) -> str:
        if self.cancelled:
            return f"export cancelled; nothing was written to {self.out}"
        text = f"exported {self.written} {self.unit} to {self.out}"
        if self.linked:
            text += f" ({self.linked} hard-linked, {self.copied} copied)"
        return text

    def lines(self) -> list[str]:
        """The summary, then one line per note, renamed class folder and missing image."""
        out = [self.summary()]
        out += [f"note: {note}" for note in self.notes]
        out += [f"class {name!r} is in folder {folder!r}" for name, folder in self.folders.items() if name != folder]
        out += [f"skipped {path}: file not found (gone since import; see aldesk relocate)" for path in self.missing]
        return out
