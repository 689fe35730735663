"""Projects of texts for the window's tests: a CSV written beside the project and imported."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from aldesk.core.classes import add_classes, list_classes
from aldesk.core.importer import import_paths
from aldesk.core.kinds import set_kind
from aldesk.core.labels import QueryContext, record
from aldesk.core.store import create_project

TICKETS = [
    "The app crashes every time I press Save on a file larger than 2 GB.",
    "How do I export my labels as a CSV file?",
    "Login page shows a blank screen in Firefox since yesterday's update.",
    "Can I change the keyboard shortcut for skipping an item?",
    "Invoice 4411 was charged twice; please refund one of the payments.",
    "The progress bar stays at 99% and the import never finishes.",
]
# One report long enough to scroll on any screen: forty paragraphs.
LONG_REPORT = "\n\n".join(
    f"Paragraph {n}. The nightly sync job stopped at step {n} after the storage cluster was moved; "
    "the logs show repeated timeouts against the metadata service, each followed by a retry "
    "that succeeded only after several minutes, which pushed the whole run past its window."
    for n in range(1, 41)
)


def write_table(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([text] for text in texts)
    return path


def text_project(path: Path, texts: list[str], classes: list[str]) -> Path:
    """A closed project of texts at ``path`` with ``classes``, holding ``texts`` (from a CSV)."""
    table = write_table(path.with_name(path.stem + "-texts.csv"), texts)
    with create_project(path) as project:
        set_kind(project, "text")
        add_classes(project, classes)
        report = import_paths(project, [table])
    assert report.imported == len(texts), report.skipped
    return path


SUBJECTS = ["the river", "my neighbour", "the old bridge", "our team", "the museum", "a small village",
            "the harbour", "this road", "the library", "the market"]  # fmt: skip
FRAMES = {
    "weather": ["Heavy rain fell on {} all night", "Snow covered {} by morning", "A storm hit {} at noon"],
    "food": ["We cooked fresh pasta near {}", "The bakery by {} sells rye bread", "Soup was served at {}"],
    "sport": ["The match at {} ended in a draw", "Runners raced past {} today", "A goal was scored near {}"],
}


def labeled_text_project(path: Path, learning: int = 60, audits: int = 15) -> Path:
    """90 short texts of three classes, ``learning`` + ``audits`` of them labeled (every fifth an audit)."""
    rows = [(frame.format(subject), name) for name, frames in FRAMES.items() for frame in frames for subject in SUBJECTS]
    table = path.with_suffix(".csv")
    table.write_text("text\n" + "".join(f"{text}\n" for text, _ in rows))
    with create_project(path) as project:
        set_kind(project, "text")
        add_classes(project, list(FRAMES))
        assert import_paths(project, [table]).imported == len(rows)
        class_of = {c.name: c.id for c in list_classes(project)}
        ids = [i for (i,) in project.conn.execute("SELECT id FROM items ORDER BY id")]
        order = np.random.default_rng(0).permutation(len(rows))
        for n, pos in enumerate(order[: learning + audits]):
            context = QueryContext(strategy="audit" if n % 5 == 0 and n // 5 < audits else "margin")
            record(project, ids[pos], "label", class_of[rows[pos][1]], context=context)
    return path
