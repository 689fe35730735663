import json

import pytest

from aldesk.gui.keymap import KeymapError, load_keymap, merge_keymap, save_keymap


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
