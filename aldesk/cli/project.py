"""The project verbs of ``aldesk``: new, import, label, classes, info, settings, export,
relocate, recover, demo. They call into core only (no torch), so they start quickly."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aldesk.cli.progress import TerminalProgress
from aldesk.core import classes as classes_mod
from aldesk.core.errors import AldeskError, ProjectError
from aldesk.core.kinds import kind_names, kind_of, set_kind
from aldesk.core.store import PROJECT_SUFFIX, Project, create_project, open_project


def add_project_commands(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    new = verbs.add_parser("new", help="create a project file")
    new.add_argument("project", type=Path, help="the project file to create (PROJECT.aldesk)")
    new.add_argument("--classes", default="", help='comma-separated class names, e.g. "cat,dog,bird"')
    new.add_argument("--hotkeys", default=None, help='one key per class, e.g. "c,d,b" (default 1-9, 0, letters)')
    new.add_argument(
        "--kind", default="image", choices=kind_names(), help="what the items are: image (default) or text; one kind per project"
    )
    new.set_defaults(run=cmd_new)

    imp = verbs.add_parser(
        "import",
        help="add items: folders (recursive), files, lists",
        description="Image projects take folders, image files and CSV lists (path[,label]); text projects take "
        "folders of .txt files, .txt files, CSV/TSV tables with a header (a text column, and a label column when "
        "present) and JSON Lines (text and optional label keys).",
    )
    imp.add_argument("project", type=Path)
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folder, file, CSV list, or table of texts")
    imp.add_argument(
        "--labels-from-folders", action="store_true", help="label each item with its parent folder's name (ImageFolder layout)"
    )
    imp.add_argument("--text-column", default=None, metavar="NAME", help="tables of texts: the column holding the text (text)")
    imp.add_argument("--label-column", default=None, metavar="NAME", help="tables of texts: the column holding a label (label)")
    imp.set_defaults(run=cmd_import)

    lab = verbs.add_parser("label", help="apply labels from a CSV (path,label) to imported items")
    lab.add_argument("project", type=Path)
    lab.add_argument("--csv", required=True, type=Path, help="CSV file with columns path,label")
    lab.add_argument("--overwrite", action="store_true", help="replace labels a person gave (else refused)")
    lab.add_argument("--add-classes", action="store_true", help="create classes the project lacks (else refused)")
    lab.set_defaults(run=cmd_label)

    cls = verbs.add_parser("classes", help="list the classes, or add some")
    cls.add_argument("project", type=Path)
    cls.add_argument("--add", default="", help="comma-separated names of classes to add")
    cls.add_argument("--hotkeys", default=None, help="one key per added class")
    cls.set_defaults(run=cmd_classes)

    info = verbs.add_parser("info", help="counts, classes, missing files")
    info.add_argument("project", type=Path)
    info.add_argument("--json", action="store_true", help="print JSON (keys documented in the README)")
    info.set_defaults(run=cmd_info)

    exp = verbs.add_parser("export", help="write labels, labeled images, predictions or the model")
    exp.add_argument("project", type=Path)
    exp.add_argument(
        "--format",
        required=True,
        choices=("csv", "json", "jsonl", "imagefolder", "hf-imagefolder", "predictions", "model"),
        help="csv/json/jsonl: every item (texts: its text) and its label (json and jsonl, one object a line, "
        "with the label history); "
        "imagefolder: OUT/<class>/<image>; hf-imagefolder: images + metadata.csv for "
        "Hugging Face datasets; predictions: CSV of the latest model's guesses for "
        "unlabeled items; model: a folder with the model as a torch.export program (texts: with its tokenizer and a predict.py)",
    )
    exp.add_argument(
        "--out",
        required=True,
        type=Path,
        help="file (csv, json, jsonl, predictions) or new/empty folder (imagefolder, hf-imagefolder, model)",
    )
    exp.add_argument(
        "--link", action="store_true", help="hard-link images instead of copying them (copies where linking is refused)"
    )
    exp.add_argument(
        "--force",
        action="store_true",
        help="replace an existing OUT file, or an OUT folder holding an earlier aldesk export "
        "(never another folder, the project's own files or its images)",
    )
    exp.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="model: the backbone weights file (texts: the encoder's model folder) the embeddings were made with, "
        "if not the default",
    )
    exp.set_defaults(run=cmd_export)

    from aldesk.core.settings import SETTINGS

    cfg = verbs.add_parser(
        "settings",
        help="show or change the project's settings (audit rate, stopping rule)",
        epilog="settings:\n"
        + "\n".join(f"  {s.name:<17} {s.help} ({s.allowed}; default {s.default})" for s in SETTINGS.values()),
    )
    cfg.add_argument("project", type=Path)
    cfg.add_argument("name", nargs="?", help="one setting to show or change")
    cfg.add_argument("value", nargs="?", help="its new value")
    cfg.set_defaults(run=cmd_settings)

    rel = verbs.add_parser("relocate", help="repair paths after images were moved")
    rel.add_argument("project", type=Path)
    rel.add_argument("old_root", type=Path, metavar="OLD_ROOT")
    rel.add_argument("new_root", type=Path, metavar="NEW_ROOT")
    rel.set_defaults(run=cmd_relocate)

    rec = verbs.add_parser("recover", help="copy every readable row of a damaged project into a new one")
    rec.add_argument("project", type=Path)
    rec.add_argument("--out", required=True, type=Path, help="the new project file to create")
    rec.set_defaults(run=cmd_recover)

    demo = verbs.add_parser("demo", help="build the built-in demo project and open it")
    demo.add_argument("--out", type=Path, default=None, help="folder for the demo (default: aldesk's data folder)")
    demo.add_argument("--no-gui", action="store_true", help="only build it and print where it is")
    demo.add_argument("--text", action="store_true", help="the text demo: 600 mails to sort into ham and spam")
    demo.set_defaults(run=cmd_demo)


def cmd_new(args: argparse.Namespace) -> int:
    path = args.project if args.project.suffix else args.project.with_suffix(PROJECT_SUFFIX)
    names = classes_mod.split_names(args.classes)
    hotkeys = classes_mod.split_list(args.hotkeys) if args.hotkeys is not None else None
    if hotkeys is not None and not names:
        raise AldeskError("--hotkeys needs --classes: give one hotkey per class.")
    # Validate everything before the file exists, so a bad argument leaves nothing behind.
    classes_mod.check_new_names(names, [])
    for key in hotkeys or []:
        classes_mod.clean_hotkey(key)
    project = create_project(path)
    try:
        set_kind(project, args.kind)
        made = classes_mod.add_classes(project, names, hotkeys) if names else []
    except AldeskError:
        project.close()
        path.unlink(missing_ok=True)
        raise
    with project:
        print(f"created {project.path} (a project of {args.kind}s)")
        for c in made:
            print(f"  [{c.hotkey or '-'}] {c.name}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from aldesk.core.importer import ImportInterrupted, import_paths

    stopped = False
    try:
        with open_project(args.project) as project:
            noun = kind_of(project).noun
            report = import_paths(
                project,
                args.paths,
                labels_from_folders=args.labels_from_folders,
                text_column=args.text_column,
                label_column=args.label_column,
                progress=TerminalProgress("importing"),
            )
    except ImportInterrupted as stop:  # Ctrl+C: the finished batches are committed
        report, stopped = stop.report, True
    print(report.summary())
    if report.new_classes:
        print(f"new classes: {', '.join(report.new_classes)}")
    if report.labels_applied:
        print(f"labels applied: {report.labels_applied}")
    for path, same_as in report.duplicates:
        print(f"duplicate {path}: same content as {same_as}")
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}")
    for path, note in report.notes:
        print(f"note {path}: {note}")
    if stopped:
        print(
            f"\naldesk: interrupted: {report.imported} {noun}s imported before the stop were kept; "
            "run the same import again to continue.",
            file=sys.stderr,
        )
        return 130
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from aldesk.core.label_csv import apply_label_csv

    with open_project(args.project) as project:
        report = apply_label_csv(project, args.csv, overwrite=args.overwrite, add_classes=args.add_classes)
    print(report.summary())
    if report.new_classes:
        print(f"new classes: {', '.join(report.new_classes)}")
    for path in report.not_in_project:
        print(f"not in project (import it first): {path}")
    for path in report.without_label:
        print(f"no label given: {path}")
    return 0


def cmd_classes(args: argparse.Namespace) -> int:
    names = classes_mod.split_names(args.add)
    if args.hotkeys is not None and not names:
        raise AldeskError("--hotkeys needs --add: give one hotkey per added class.")
    with open_project(args.project, write=bool(names)) as project:
        if names:
            hotkeys = classes_mod.split_list(args.hotkeys) if args.hotkeys is not None else None
            classes_mod.add_classes(project, names, hotkeys)
        for c in classes_mod.list_classes(project):
            print(f"[{c.hotkey or '-'}] {c.name}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from aldesk.core.info import format_info, project_info

    with open_project(args.project, write=False) as project, reading_what_is_readable(project):
        warn_if_damaged(project)
        info = project_info(project)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
    else:
        print(format_info(info))
    return 0


def warn_if_damaged(project: Project) -> None:
    """Reading a damaged project works as far as it goes; say so before the output."""
    if project.damage:
        from aldesk.core.project_check import damaged_error_text

        print(f"aldesk: warning: {damaged_error_text(project.path, project.damage)}", file=sys.stderr)


# What a value of the wrong type (bytes for a text, text for a number) raises when it is used.
VALUE_ERRORS = (TypeError, ValueError, UnicodeDecodeError, AttributeError, KeyError, IndexError)


@contextmanager
def reading_what_is_readable(project: Project) -> Iterator[None]:
    """Read a project that may be damaged: values SQLite hands back from a damaged file can be
    of any type, so on a file its check found damaged, any error ends the read with one line
    saying so; on a file that passes the check, only the errors a value of a damaged type raises
    do (other errors are bugs and keep their traceback)."""
    try:
        yield
    except (AldeskError, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        if not project.damage and (os.environ.get("ALDESK_DEBUG") or not isinstance(exc, VALUE_ERRORS)):
            raise
        if not project.damage:
            # A value of the wrong type (a flipped bit in a record's header) passes every check
            # SQLite has; or this is a bug. Either way one line, the details on request.
            raise ProjectError(
                f"reading {project.path} failed ({type(exc).__name__}: {exc}). The file may be damaged in a way "
                f"SQLite's check cannot see: 'aldesk recover {project.path.name} --out NEW.aldesk' copies what is "
                "readable into a new project. If the file is fine, this is a bug in aldesk: run again with "
                "ALDESK_DEBUG=1 for the details and report them."
            ) from exc
        raise ProjectError(
            f"{project.path} is damaged and reading it stopped ({type(exc).__name__}: {exc}). "
            f"'aldesk recover {project.path.name} --out NEW.aldesk' copies what is readable into a new project."
        ) from exc


def cmd_settings(args: argparse.Namespace) -> int:
    from aldesk.core import settings

    with open_project(args.project, write=args.value is not None) as project:
        if args.value is not None:
            settings.put(project, args.name, args.value)
        names = [args.name] if args.name else list(settings.SETTINGS)
        for name in names:
            value = settings.get(project, name)
            print(f"{name} = {value}    # {settings.SETTINGS[name].help}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from aldesk.core.export import export

    for option, value, formats in (
        ("--link", args.link, ("imagefolder", "hf-imagefolder")),
        ("--weights", args.weights, ("model",)),
    ):
        if value and args.format not in formats:
            raise AldeskError(f"{option} applies to --format {' or '.join(formats)} only, not {args.format}.")
    progress = TerminalProgress(f"exporting {args.format}")
    with open_project(args.project, write=False) as project, reading_what_is_readable(project):
        warn_if_damaged(project)
        if args.format == "model":
            from aldesk.ml.bundle import export_model

            report = export_model(project, args.out, force=args.force, weights=args.weights, progress=progress)
        else:
            report = export(project, args.format, args.out, link=args.link, force=args.force, progress=progress)
    for line in report.lines():
        print(line)
    return 0


def cmd_relocate(args: argparse.Namespace) -> int:
    from aldesk.core.relocate import relocate

    with open_project(args.project) as project:
        report = relocate(project, args.old_root, args.new_root)
    print(f"relocated {report.moved} items; {report.found} of them found at the new place")
    for path in report.conflicts:
        print(f"not relocated, another item already has this path: {path}")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from aldesk.core.recover import recover

    out = args.out if args.out.suffix else args.out.with_suffix(PROJECT_SUFFIX)
    report = recover(args.project, out, progress=TerminalProgress("recovering"))
    for line in report.lines():
        print(line)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from aldesk.core.demo import build_demo

    path = build_demo(args.out, progress=TerminalProgress("building the demo"), text=args.text)
    print(f"demo project: {path}")
    if args.no_gui:
        return 0
    from aldesk.gui.app import run_app

    return run_app(path)
