import pytest

from aldesk.core.classes import DEFAULT_HOTKEYS, add_classes, ensure_classes, list_classes, split_names
from aldesk.core.errors import AldeskError


def test_default_hotkeys_are_digits_then_letters_without_reserved(project):
    made = add_classes(project, [f"c{i}" for i in range(12)])
    assert [c.hotkey for c in made] == list("1234567890ab")
    assert "u" not in DEFAULT_HOTKEYS
    assert [c.position for c in made] == list(range(12))
    assert len({c.colour for c in made[:10]}) == 10


def test_given_hotkeys_and_classes_added_later(project):
    add_classes(project, ["cat", "dog"], ["c", "d"])
    add_classes(project, ["bird"])
    assert [(c.name, c.hotkey) for c in list_classes(project)] == [("cat", "c"), ("dog", "d"), ("bird", "1")]


@pytest.mark.parametrize(
    "names, keys, message",
    [
        (["a", "b"], ["1"], "2 classes but 1 hotkeys"),
        (["a"], ["u"], "reserved"),
        (["a"], ["F1"], "not a single letter or digit"),
        (["a", "b"], ["1", "1"], "already used"),
        ([""], None, "is empty or only whitespace"),
        (["  "], None, "Class name '  ' is empty or only whitespace"),
        (["a\tb"], None, "contains a control character"),
        (["a\nb"], None, r"'a\\nb' contains a control character \('\\n'\)"),
        (["a\u2028b"], None, "contains a line break"),
        (["caf\udce9"], None, "not UTF-8"),
        (["Cat", "cat"], None, "'Cat' and 'cat' differ only by case"),
        (["cat", "cat"], None, "given twice"),
    ],
)
def test_bad_classes_and_hotkeys_are_refused_and_nothing_is_added(project, names, keys, message):
    with pytest.raises(AldeskError, match=message):
        add_classes(project, names, keys)
    assert list_classes(project) == []


def test_ensure_classes_creates_only_what_is_missing(project):
    add_classes(project, ["cat"])
    ids = ensure_classes(project, ["dog", "cat", " dog "])
    assert [c.name for c in list_classes(project)] == ["cat", "dog"]
    assert ids["dog"] == ids[" dog "] != ids["cat"]


@pytest.mark.parametrize("make", [add_classes, ensure_classes])
def test_a_name_differing_only_by_case_from_an_existing_class_is_refused(project, make):
    add_classes(project, ["cat"])
    with pytest.raises(AldeskError, match="'Cat' differs only by case from the existing class 'cat'"):
        make(project, ["dog", "Cat"])
    assert [c.name for c in list_classes(project)] == ["cat"]


def test_ensure_classes_refuses_new_names_differing_only_by_case(project):
    with pytest.raises(AldeskError, match="differ only by case"):
        ensure_classes(project, ["Cat", "cat"])
    assert list_classes(project) == []


def test_split_names_refuses_empty_entries_naming_them():
    assert split_names("") == [] and split_names(" cat , dog") == ["cat", "dog"]
    with pytest.raises(AldeskError, match=r"Class name ' ' \(entry 2 of 'cat, ,dog'\) is empty"):
        split_names("cat, ,dog")
