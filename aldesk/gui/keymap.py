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
from PySide6.QtGui import QAction, QKeySequence


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
    Command("export", "&Export…", ("Ctrl+E",), "File"),
    Command("quit", "&Quit", ("Ctrl+Q",), "File"),
    Command("skip", "&Skip", ("Space",), "Label"),
    Command("unsure", "Mark &unsure", ("U",), "Label"),
    Command("undo", "&Undo", ("Backspace", "Ctrl+Z"), "Label"),
    Command("redo", "&Redo", ("Ctrl+Shift+Z",), "Label"),
    Command("retrain", "Retrain &now", ("Ctrl+R",), "Label"),
    # For a project of texts the zoom commands change the text size (gui/labeling/screens.py).
    Command("zoom_in", "Zoom &in", ("+", "=", "Ctrl++", "Ctrl+="), "View"),
    Command("zoom_out", "Zoom &out", ("-", "Ctrl+-"), "View"),
    Command("zoom_fit", "&Fit to window", ("0", "Ctrl+0"), "View"),
    Command("zoom_actual", "&Actual pixels (1:1)", ("Ctrl+1",), "View"),
    Command("full_screen", "F&ull screen", ("F11",), "View"),
    Command("show_curve", "&Learning curve", ("Ctrl+L",), "View"),
    Command("review_unsure", "Review &unsure items", ("Ctrl+U",), "Review"),
    Command("review_suspects", "Review &suspected wrong labels", ("Ctrl+Shift+R",), "Review"),
    Command("review_grid", "Browse labels by &class", ("Ctrl+B",), "Review"),
    Command("end_review", "&Back to labeling", ("Esc",), "Review"),
    # One dialog shows every key and edits the command keys (the old read-only list and
    # "Edit keyboard shortcuts…" pointing at the JSON file are merged into it).
    Command("shortcuts", "&Keyboard shortcuts…", ("F1", "Ctrl+/"), "Help"),
)
COMMANDS = {c.name: c for c in DEFAULT_COMMANDS}


class KeymapError(ValueError):
    """The user's keymap file cannot be used as it is; the message says why and where."""


def keymap_path() -> Path:
    return Path(platformdirs.user_config_dir("aldesk", appauthor=False)) / "keymap.json"


def normalise(key: str) -> str:
    """Qt's portable spelling of a key sequence ("" when Qt cannot parse it)."""
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)


def read_overrides(path: Path | None = None) -> dict[str, object]:
    """The user's file as written (``{}`` when there is none); only its form is checked here."""
    path = path or keymap_path()
    if not path.is_file():
        return {}
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeymapError(f"{path} is not valid JSON ({exc}); fix or delete it.") from exc
    if not isinstance(overrides, dict):
        raise KeymapError(f"{path} must hold an object of command: key(s).")
    return overrides


def load_keymap(path: Path | None = None, reserved: dict[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """Defaults merged with the user's file. ``reserved`` maps keys to what else uses them
    (class hotkeys), which commands may not take."""
    path = path or keymap_path()
    return merge_keymap(read_overrides(path), reserved or {}, source=str(path))


def keymap_for_project(reserved: dict[str, str], path: Path | None = None) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """The keymap to use with a project whose classes hold the ``reserved`` keys, and what had to
    give way. The file is shared by all projects, so a user key that one project's class hotkey
    needs is dropped for that project only (and said so); a broken file gives the defaults."""
    path = path or keymap_path()
    try:
        overrides = read_overrides(path)
        merge_keymap(overrides, {}, source=str(path))  # names, forms and clashes among commands
    except KeymapError as exc:
        return merge_keymap({}, reserved), [f"{exc} Using the default shortcuts."]
    class_keys = {normalise(k): v for k, v in reserved.items()}
    notes, kept = [], {}
    for name, value in overrides.items():
        keys = (value,) if isinstance(value, str) else tuple(value)
        clashes = [k for k in keys if normalise(k) in class_keys]
        for key in clashes:
            notes.append(
                f'Key {key} of "{command_title(name)}" is the hotkey of class '
                f"{class_keys[normalise(key)]!r} in this project, so the class keeps it."
            )
        kept[name] = [k for k in keys if normalise(k) not in class_keys]
    return merge_keymap(kept, reserved, source=str(path)), notes


def command_title(name: str) -> str:
    """A command's menu text without mnemonics or the trailing ellipsis: "Open project"."""
    return COMMANDS[name].text.replace("&", "").rstrip("…")


def find_conflict(keymap: dict[str, tuple[str, ...]], reserved: dict[str, str], name: str, key: str) -> str | None:
    """Who else uses ``key`` if ``name`` took it: 'the command "Quit"', 'the class "cat"', or None."""
    wanted = normalise(key)
    for hotkey, class_name in reserved.items():
        if normalise(hotkey) == wanted:
            return f'the class "{class_name}" (its hotkey)'
    for other, keys in keymap.items():
        if other != name and any(normalise(k) == wanted for k in keys):
            return f'the command "{command_title(other)}"'
    return None


def overrides_for(keymap: dict[str, tuple[str, ...]], reserved: dict[str, str]) -> dict[str, object]:
    """What the user's file must hold to give ``keymap``: only commands that differ from the
    defaults (as this project has them), one key as a string, several as a list."""
    defaults = merge_keymap({}, reserved)
    changed = {}
    for name, keys in keymap.items():
        if [normalise(k) for k in keys] != [normalise(k) for k in defaults.get(name, ())]:
            changed[name] = keys[0] if len(keys) == 1 else list(keys)
    return changed


def current_keymap(actions: dict[str, QAction]) -> dict[str, tuple[str, ...]]:
    """The keys the window's actions have now, in portable text."""
    return {
        name: tuple(k.toString(QKeySequence.SequenceFormat.PortableText) for k in action.shortcuts())
        for name, action in actions.items()
    }


def apply_keymap(actions: dict[str, QAction], keymap: dict[str, tuple[str, ...]]) -> None:
    """Give the running window's actions their new keys; menus show them at once."""
    for name, action in actions.items():
        if name in keymap:
            action.setShortcuts([QKeySequence(k) for k in keymap[name]])


def merge_keymap(overrides: dict[str, object], reserved: dict[str, str], source: str = "keymap") -> dict[str, tuple[str, ...]]:
    """Defaults, minus default keys a class hotkey needs (e.g. "0" for the tenth class: fit then
    stays on Ctrl+0), overridden by the user's keys, which may not clash with anything."""
    class_keys = {normalise(k): f"class {v!r}" for k, v in reserved.items()}
    keymap = {c.name: tuple(k for k in c.keys if normalise(k) not in class_keys) for c in DEFAULT_COMMANDS}
    for name, value in overrides.items():
        if name not in COMMANDS:
            raise KeymapError(f"{source}: unknown command {name!r}; known: {', '.join(COMMANDS)}.")
        keys = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else None
        if keys is None or not all(isinstance(k, str) and normalise(k) for k in keys):
            raise KeymapError(f'{source}: {name!r} needs a key such as "Ctrl+K" or a list of them.')
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
