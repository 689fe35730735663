import json

import pytest

from aldesk.gui.keymap import (
    KeymapError,
    apply_keymap,
    current_keymap,
    find_conflict,
    keymap_for_project,
    load_keymap,
    merge_keymap,
    overrides_for,
    save_keymap,
)


def test_defaults_have_the_documented_shortcuts():
    keymap = merge_keymap({}, {})
    assert keymap["quit"] == ("Ctrl+Q",) and keymap["open_project"] == ("Ctrl+O",)
    assert keymap["full_screen"] == ("F11",) and keymap["skip"] == ("Space",)
    assert keymap["undo"] == ("Backspace", "Ctrl+Z") and keymap["redo"] == ("Ctrl+Shift+Z",)
    assert keymap["unsure"] == ("U",)


def test_user_keys_override_and_conflicts_are_refused(tmp_path):
    path = tmp_path / "keymap.json"
    path.write_text(json.dumps({"skip": "S", "retrain": ["Ctrl+T", "F5"]}))
    keymap = load_keymap(path)
    assert keymap["skip"] == ("S",) and keymap["retrain"] == ("Ctrl+T", "F5")
    with pytest.raises(KeymapError, match="already used by command 'quit'"):
        merge_keymap({"skip": "Ctrl+Q"}, {})
    with pytest.raises(KeymapError, match="unknown command 'fly'"):
        merge_keymap({"fly": "F"}, {})
    with pytest.raises(KeymapError, match="already used by class 'cat'"):
        merge_keymap({"skip": "C"}, {"c": "cat"})
    path.write_text("{not json")
    with pytest.raises(KeymapError, match="not valid JSON"):
        load_keymap(path)


def test_a_tenth_class_takes_0_and_fit_keeps_ctrl_0():
    keymap = merge_keymap({}, {"0": "tenth"})
    assert keymap["zoom_fit"] == ("Ctrl+0",)


def test_save_refuses_a_bad_map_and_writes_a_good_one(tmp_path):
    path = tmp_path / "k.json"
    with pytest.raises(KeymapError):
        save_keymap({"skip": "Ctrl+Q"}, path)
    assert not path.exists()
    save_keymap({"skip": "S"}, path)
    assert load_keymap(path)["skip"] == ("S",)


def test_a_project_class_hotkey_wins_over_a_user_key_for_that_project_only(tmp_path):
    path = tmp_path / "keymap.json"
    save_keymap({"skip": "S", "retrain": ["Ctrl+T", "F5"]}, path)
    keymap, notes = keymap_for_project({"s": "sandal"}, path)
    assert keymap["skip"] == () and keymap["retrain"] == ("Ctrl+T", "F5")
    assert len(notes) == 1 and "'sandal'" in notes[0] and "Skip" in notes[0]
    keymap, notes = keymap_for_project({"1": "cat"}, path)
    assert keymap["skip"] == ("S",) and notes == []


def test_a_broken_file_gives_the_defaults_and_says_so(tmp_path):
    path = tmp_path / "keymap.json"
    path.write_text('{"skip": "Ctrl+Q"}')
    keymap, notes = keymap_for_project({}, path)
    assert keymap == merge_keymap({}, {})
    assert "already used by command 'quit'" in notes[0] and "default shortcuts" in notes[0]


def test_find_conflict_names_the_other_command_or_class():
    keymap = merge_keymap({}, {"c": "cat"})
    assert find_conflict(keymap, {"c": "cat"}, "skip", "Ctrl+Q") == 'the command "Quit"'
    assert find_conflict(keymap, {"c": "cat"}, "skip", "c") == 'the class "cat" (its hotkey)'
    assert find_conflict(keymap, {"c": "cat"}, "undo", "Ctrl+Z") is None  # its own key
    assert find_conflict(keymap, {}, "skip", "Ctrl+K") is None


def test_overrides_hold_only_what_differs_from_the_project_defaults():
    reserved = {"0": "tenth"}
    keymap = merge_keymap({}, reserved)
    assert overrides_for(keymap, reserved) == {}
    keymap["skip"] = ("S",)
    keymap["undo"] = ("Backspace", "Ctrl+Z", "Alt+Left")
    keymap["retrain"] = ()
    assert overrides_for(keymap, reserved) == {"skip": "S", "undo": ["Backspace", "Ctrl+Z", "Alt+Left"], "retrain": []}


def test_apply_keymap_changes_live_actions(qtbot):
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QWidget

    owner = QWidget()
    qtbot.addWidget(owner)
    actions = {"skip": QAction("Skip", owner), "undo": QAction("Undo", owner)}
    apply_keymap(actions, {"skip": ("S",), "undo": ("Backspace", "Ctrl+Z")})
    assert actions["skip"].shortcuts() == [QKeySequence("S")]
    assert current_keymap(actions) == {"skip": ("S",), "undo": ("Backspace", "Ctrl+Z")}
