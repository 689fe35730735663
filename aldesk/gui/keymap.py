"""Shortcuts are data: built-in defaults, merged with the user's file, conflicts refused.

The user's keymap lives in ``keymap.json`` in aldesk's config folder (platformdirs), as
``{"command": "Ctrl+Shift+X", ...}`` or a list of key sequences per command. Unknown commands and
keys that two commands (or a class hotkey) would share are reported, never silently applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from PySide6.QtGui import QKeySequence


@dataclass(frozen=True)
class Command:
    name: str
    text: str  # menu text
    keys: tuple[str, ...]  # default key sequences, in QKeySequence portable text
    menu: str


DEFAULT_COMMANDS: tuple[Command, ...] = (
    Command("new_project", "&New project…", ("Ctrl+N",), "File"),
    Command("open_project", "&Open project…", ("Ctrl+O",), "File"),
    Command("open_demo", "Open the &demo project", (), "File"),
    Command("close_project", "&Close project", ("Ctrl+W",), "File"),
    Command("quit", "&Quit", ("Ctrl+Q",), "File"),
    Command("skip", "&Skip", ("Space",), "Label"),
    Command("unsure", "Mark &unsure", ("U",), "Label"),
    Command("undo", "&Undo", ("Backspace", "Ctrl+Z"), "Label"),
    Command("redo", "&Redo", ("Ctrl+Shift+Z",), "Label"),
    Command("retrain", "Retrain &now", ("Ctrl+R",), "Label"),
    Command("zoom_in", "Zoom &in", ("+", "="), "View"),
    Command("zoom_out", "Zoom &out", ("-",), "View"),
    Command("zoom_fit", "&Fit to window", ("0", "Ctrl+0"), "View"),
    Command("full_screen", "F&ull screen", ("F11",), "View"),
    Command("show_curve", "&Learning curve", ("Ctrl+L",), "View"),
    Command("shortcuts", "&Keyboard shortcuts", ("F1", "Ctrl+/"), "Help"),
    Command("edit_keymap", "&Edit keyboard shortcuts…", (), "Help"),
)
COMMANDS = {c.name: c for c in DEFAULT_COMMANDS}


class KeymapError(ValueError):
    """The user's keymap file cannot be used as it is; the message says why and where."""


def keymap_path() -> Path:
    return Path(platformdirs.user_config_dir("aldesk", appauthor=False)) / "keymap.json"


def normalise(key: str) -> str:
    """Qt's portable spelling of a key sequence ("" when Qt cannot parse it)."""
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)


def load_keymap(path: Path | None = None, reserved: dict[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """Defaults merged with the user's file. ``reserved`` maps keys to what else uses them
    (class hotkeys), which commands may not take."""
    path = path or keymap_path()
    overrides: dict[str, object] = {}
    if path.is_file():
        try:
            overrides = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeymapError(f"{path} is not valid JSON ({exc}); fix or delete it.") from exc
        if not isinstance(overrides, dict):
            raise KeymapError(f"{path} must hold an object of command: key(s).")
    return merge_keymap(overrides, reserved or {}, source=str(path))


def merge_keymap(
    overrides: dict[str, object], reserved: dict[str, str], source: str = "keymap"
) -> dict[str, tuple[str, ...]]:
    """Defaults, minus default keys a class hotkey needs (e.g. "0" for the tenth class: fit then
    stays on Ctrl+0), overridden by the user's keys, which may not clash with anything."""
    class_keys = {normalise(k): f"class {v!r}" for k, v in reserved.items()}
    keymap = {c.name: tuple(k for k in c.keys if normalise(k) not in class_keys) for c in DEFAULT_COMMANDS}
    for name, value in overrides.items():
        if name not in COMMANDS:
            raise KeymapError(f"{source}: unknown command {name!r}; known: {', '.join(COMMANDS)}.")
        keys = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else None
        if keys is None or not all(isinstance(k, str) and normalise(k) for k in keys):
            raise KeymapError(f"{source}: {name!r} needs a key such as \"Ctrl+K\" or a list of them.")
        keymap[name] = tuple(k.strip() for k in keys)
    owners = dict(class_keys)
    for name, keys in keymap.items():
        for key in keys:
            other = owners.get(normalise(key))
            if other is not None:
                raise KeymapError(f"{source}: key {key!r} of {name!r} is already used by {other}.")
            owners[normalise(key)] = f"command {name!r}"
    return keymap


def save_keymap(overrides: dict[str, object], path: Path | None = None) -> Path:
    path = path or keymap_path()
    merge_keymap(overrides, {}, source=str(path))  # refuse a bad map before writing it
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(overrides, indent=2) + "\n", encoding="utf-8")
    return path
