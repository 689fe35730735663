"""Applying labels from a ``path,label`` CSV to items already in the project.

All or nothing: a CSV that would replace a label a person gave (without ``overwrite``) or name a
class the project lacks (without ``add_classes``) is refused with the rows listed, and nothing is
written. Otherwise the new classes and every label are written in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from aldesk.core import labels as labels_mod
from aldesk.core.classes import check_new_names, clean_class_name, insert_classes, list_classes, plan_classes
from aldesk.core.errors import AldeskError
from aldesk.core.kinds.base import shown
from aldesk.core.path_list import csv_rows
from aldesk.core.store import Project

_LISTED = 20  # rows shown per refusal; the rest are counted


class LabelCsvRefused(AldeskError):
    """The CSV conflicts with the project; the message lists why and which flag allows it."""


@dataclass
class LabelCsvReport:
    applied: int = 0
    unchanged: int = 0
    replaced: int = 0  # of applied: items that had another label before
    new_classes: list[str] = field(default_factory=list)
    not_in_project: list[str] = field(default_factory=list)
    without_label: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"labeled {self.applied}, unchanged {self.unchanged}, "
            f"not in project {len(self.not_in_project)}, rows without a label {len(self.without_label)}"
        )
        return text + (f"; {self.replaced} of them replaced an earlier label" if self.replaced else "")


@dataclass(frozen=True)
class _Row:
    number: int
    path: str  # as shown to a person
    item_id: int
    label: str  # cleaned class name


def apply_label_csv(
    project: Project, csv_path: str | Path, *, overwrite: bool = False, add_classes: bool = False
) -> LabelCsvReport:
    """Label items named in the CSV; see the module docstring for what is refused."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise AldeskError(f"No such CSV file: {csv_path}")
    report = LabelCsvReport()
    rows = _read_rows(project, csv_path, report)
    classes = {c.name: c.id for c in list_classes(project)}
    new_names = _check_names(csv_path, rows, list(classes))
    current = dict(project.conn.execute("SELECT id, label_class_id FROM items"))
    by_person = {i for i, source in labels_mod.label_sources(project).items() if source == "human"}
    names = {class_id: name for name, class_id in classes.items()}

    conflicts = [
        f"{row.path}: now {names[current[row.item_id]]!r}, in the CSV {row.label!r}"
        for row in rows
        if row.item_id in by_person and names[current[row.item_id]] != row.label
    ]
    refusals = []
    if conflicts and not overwrite:
        refusals.append(
            (f"{len(conflicts)} rows would replace a label a person gave (add --overwrite to replace them):", conflicts)
        )
    if new_names and not add_classes:
        counts = [(name, sum(row.label == name for row in rows)) for name in new_names]
        refusals.append(
            (
                f"{len(new_names)} class names are not classes of the project (add --add-classes to create them):",
                [f"{name!r} ({n} row{'s' if n != 1 else ''})" for name, n in counts],
            )
        )
    if refusals:
        raise LabelCsvRefused(_refusal(csv_path, refusals))

    plan = plan_classes(project, new_names) if new_names else []
    now = time.time()
    with project.transaction() as conn:
        classes.update(insert_classes(conn, plan))
        todo = []
        for row in rows:
            class_id = classes[row.label]
            if current[row.item_id] == class_id:
                report.unchanged += 1
                continue
            report.replaced += current[row.item_id] is not None
            todo.append((row.item_id, class_id))
        labels_mod.insert_labels(conn, todo, source="import", at=now)
    report.applied = len(todo)
    report.new_classes = [name for name, *_ in plan]
    return report


def _read_rows(project: Project, csv_path: Path, report: LabelCsvReport) -> list[_Row]:
    """The rows that would label an item; an item listed twice with two labels is refused."""
    items = dict(project.conn.execute("SELECT path, id FROM items"))
    rows: dict[int, _Row] = {}
    for number, target, label in csv_rows(csv_path):
        item_id = items.get(project.stored_path(target))
        if item_id is None:
            report.not_in_project.append(shown(target))
        elif label is None:
            report.without_label.append(shown(target))
        else:
            try:
                row = _Row(number, shown(target), item_id, clean_class_name(label))
            except AldeskError as exc:
                raise AldeskError(f"{csv_path.name} row {number}: {exc} Nothing was written.") from None
            first = rows.setdefault(item_id, row)
            if first.label != row.label:
                raise LabelCsvRefused(
                    f"Nothing was written from {csv_path.name}: {row.path}: row {first.number} says "
                    f"{first.label!r}, row {number} says {row.label!r}. Keep one of them."
                )
    return list(rows.values())


def _check_names(csv_path: Path, rows: list[_Row], existing: list[str]) -> list[str]:
    """The CSV's class names the project lacks, in order of first use; bad ones are refused."""
    new_names: list[str] = []
    for row in rows:
        if row.label in existing or row.label in new_names:
            continue
        try:  # one at a time, so the message can name the row that brings the name in
            check_new_names(new_names + [row.label], existing)
        except AldeskError as exc:
            raise AldeskError(f"{csv_path.name} row {row.number}: {exc} Nothing was written.") from None
        new_names.append(row.label)
    return new_names


def _refusal(csv_path: Path, refusals: list[tuple[str, list[str]]]) -> str:
    lines = [f"Nothing was written from {csv_path.name}:"]
    for heading, entries in refusals:
        lines.append(heading)
        lines += [f"  {entry}" for entry in entries[:_LISTED]]
        if len(entries) > _LISTED:
            lines.append(f"  ... and {len(entries) - _LISTED} more")
    return "\n".join(lines)
