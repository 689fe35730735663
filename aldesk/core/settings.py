"""Per-project settings a person may change, stored in the project's ``meta`` table.

Each setting has a type, a default and a valid range; an invalid value is refused with a message
naming the setting and what is allowed, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aldesk.core.errors import AldeskError
from aldesk.core.store import Project

_PREFIX = "setting."


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type
    default: Any
    valid: Callable[[Any], bool]
    allowed: str  # says in words what ``valid`` accepts
    help: str


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "audit_every",
            int,
            10,
            lambda v: v == 0 or 2 <= v <= 1000,
            "0 (off) or 2..1000",
            "one item in this many is a uniformly random audit item (the accuracy estimate rests on them)",
        ),
        Setting(
            "stop_gain_points",
            float,
            0.5,
            lambda v: 0.0 <= v <= 100.0,
            "0..100",
            "advise stopping when the estimated accuracy gain per 100 labels is below this many points",
        ),
        Setting(
            "stop_kappa",
            float,
            0.99,
            lambda v: 0.0 < v <= 1.0,
            "above 0, at most 1",
            "... and when successive models agree on the pool's predictions at least this well (Cohen's kappa)",
        ),
    )
}


def _spec(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise AldeskError(f"Unknown setting {name!r}; settings are: {', '.join(SETTINGS)}.") from None


def parse(name: str, text: str) -> Any:
    """The typed value of ``text`` for setting ``name``; AldeskError if it is not allowed."""
    spec = _spec(name)
    try:
        value = spec.kind(text)
    except (TypeError, ValueError):
        raise AldeskError(f"Setting {name} must be a {spec.kind.__name__} ({spec.allowed}), not {text!r}.") from None
    if not spec.valid(value):
        raise AldeskError(f"Setting {name} must be {spec.allowed}, not {text!r}.")
    return value


def get(project: Project, name: str) -> Any:
    spec = _spec(name)
    stored = project.meta(_PREFIX + name)
    if stored is None:
        return spec.default
    try:
        return parse(name, stored)
    except AldeskError:
        return spec.default  # a value written by a newer version with other rules


def put(project: Project, name: str, text: str) -> Any:
    value = parse(name, text)
    project.set_meta(_PREFIX + name, str(value))
    return value


def all_settings(project: Project) -> dict[str, Any]:
    return {name: get(project, name) for name in SETTINGS}
