import pytest

from aldesk.core import settings
from aldesk.core.errors import AldeskError


def test_defaults_then_stored_values(project):
    assert settings.get(project, "audit_every") == 10
    assert settings.put(project, "audit_every", "20") == 20
    assert settings.get(project, "audit_every") == 20
    assert settings.put(project, "stop_gain_points", "0.25") == 0.25
    assert settings.all_settings(project)["stop_gain_points"] == 0.25


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("audit_every", "1", "0 (off) or 2..1000"),
        ("audit_every", "ten", "must be a int"),
        ("stop_kappa", "0", "above 0"),
        ("stop_gain_points", "-1", "0..100"),
        ("colour", "red", "Unknown setting 'colour'"),
    ],
)
def test_invalid_values_are_refused_and_nothing_is_written(project, name, text, words):
    with pytest.raises(AldeskError, match=words.replace("(", r"\(").replace(")", r"\)")):
        settings.put(project, name, text)
    assert project.meta("setting." + name) is None


def test_a_value_this_version_does_not_accept_falls_back_to_the_default(project):
    project.set_meta("setting.audit_every", "-5")  # as if written by another version
    assert settings.get(project, "audit_every") == 10
