"""Applying labels from a ``path,label`` CSV to items already in the project."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aldesk.core import labels as labels_mod
from aldesk.core.classes import ensure_classes, list_classes
from aldesk.core.errors import AldeskError
from aldesk.core.importer import csv_rows
from aldesk.core.store import Project


@dataclass
class LabelCsvReport:
    applied: int = 0
    unchanged: int = 0
    new_classes: list[str] = field(default_factory=list)
    not_in_project: list[str] = field(default_factory=list)
    without_label: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"labeled {self.applied}, unchanged {self.unchanged}, "
            f"not in project {len(self.not_in_project)}, rows without a label {len(self.without_label)}"
        )


def apply_label_csv(project: Project, csv_path: str | Path) -> LabelCsvReport:
    """Label items named in the CSV; a label the item already has is left as it is."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise AldeskError(f"No such CSV file: {csv_path}")
    report = LabelCsvReport()
    items = {
        path: (item_id, class_id)
        for path, item_id, class_id in project.conn.execute(
            "SELECT path, id, label_class_id FROM items"
        )
    }
    wanted: list[tuple[int, str]] = []
    for _number, target, label in csv_rows(csv_path):
        known = items.get(project.stored_path(target))
        if known is None:
            report.not_in_project.append(str(target))
        elif label is None:
            report.without_label.append(str(target))
        else:
            wanted.append((known[0], label))
    before = {c.name for c in list_classes(project)}
    class_ids = ensure_classes(project, sorted({label for _, label in wanted}))
    report.new_classes = [c.name for c in list_classes(project) if c.name not in before]
    current = {item_id: class_id for item_id, class_id in items.values()}
    todo = []
    for item_id, label in wanted:
        if current.get(item_id) == class_ids[label]:
            report.unchanged += 1
        else:
            todo.append((item_id, class_ids[label]))
            current[item_id] = class_ids[label]
    report.applied = labels_mod.record_many(project, todo, source="import")
    return report
