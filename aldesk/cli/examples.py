"""One worked example (or a few) at the end of every verb's ``--help``.

Kept apart from the option definitions so the examples read as one page and a new verb without
an example fails its test (tests/cli/test_help.py) instead of shipping a bare ``--help``.
"""

from __future__ import annotations

import argparse

EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "new": (
        ("aldesk new cells.aldesk --classes healthy,infected", "an image project with two classes (keys 1 and 2)"),
        ("aldesk new tickets.aldesk --kind text --classes bug,question --hotkeys b,q", "texts, labeled with b and q"),
    ),
    "import": (
        ("aldesk import cells.aldesk ~/scans", "every image under ~/scans"),
        ("aldesk import cells.aldesk train/ --labels-from-folders", "train/<class>/<image>: labels from the folders"),
        ("aldesk import tickets.aldesk tickets.csv --text-column body", "one text per row of a table"),
    ),
    "label": (("aldesk label cells.aldesk --csv known.csv", "labels for imported items from a path,label CSV"),),
    "classes": (
        ("aldesk classes cells.aldesk", "list the classes and their keys"),
        ("aldesk classes cells.aldesk --add debris --hotkeys d", "add a class with its key"),
    ),
    "info": (("aldesk info cells.aldesk --json", "counts, classes and the model's estimate, as JSON"),),
    "export": (
        ("aldesk export cells.aldesk --format csv --out labels.csv", "every item and its label"),
        ("aldesk export cells.aldesk --format imagefolder --out labeled/ --link", "labeled/<class>/<image>"),
        ("aldesk export cells.aldesk --format model --out cells-model/", "the model, to predict without aldesk"),
    ),
    "settings": (
        ("aldesk settings cells.aldesk", "every setting, its value and what it does"),
        ("aldesk settings cells.aldesk audit_every 5", "one item in five an audit item"),
    ),
    "relocate": (("aldesk relocate cells.aldesk /mnt/old/scans /data/scans", "the images moved to /data/scans"),),
    "recover": (("aldesk recover cells.aldesk --out cells-recovered.aldesk", "copy what is readable of a damaged file"),),
    "demo": (
        ("aldesk demo", "build the image demo (3,000 small pictures) and open it"),
        ("aldesk demo --text --no-gui", "build the text demo and print where it is"),
    ),
    "embed": (
        ("aldesk embed cells.aldesk", "embed every item (stop any time; it resumes)"),
        ("aldesk embed cells.aldesk --backbone resnet18", "with another backbone (aldesk weights list)"),
    ),
    "train": (("aldesk train cells.aldesk", "train a model version on the labels so far"),),
    "query": (
        ("aldesk query cells.aldesk -n 10", "the next ten items to label, from the latest model"),
        ("aldesk query cells.aldesk --json --store", "as JSON, and store them as the window's queue"),
    ),
    "simulate": (
        ("aldesk simulate --dataset digits --out sim/ --budget 300", "replay labeling on a known data set"),
        ("aldesk simulate --dataset labeled/ --test held-out/ --out sim/", "your own class folders, your test set"),
    ),
    "weights": (
        ("aldesk weights list", "the backbones and whether their weights are here"),
        ("aldesk weights fetch resnet18", "get one backbone's weights (needs a network)"),
    ),
    "suspects": (("aldesk suspects cells.aldesk -n 20 --recompute", "the 20 labels the model doubts most, ranked anew"),),
}


def attach_examples(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Give every verb's parser its examples as the epilog (the verb's own epilog, if any, first)."""
    for name, parser in verbs.choices.items():
        lines = [f"  {command:<56} {what}" for command, what in EXAMPLES.get(name, ())]
        if not lines:
            continue
        parts = [parser.epilog] if parser.epilog else []
        parts.append("examples:\n" + "\n".join(lines))
        parser.epilog = "\n\n".join(parts)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
