"""The ``aldesk`` command line: the parser, and one place that turns errors into messages.

The verbs live in one module per group (project.py: files, labels and exports; learning.py:
embedding, training, querying, simulation; suspects.py; cluster.py). Errors a person can act on
are printed as one message without a traceback (exit 1); Ctrl-C exits 130 after saying that
finished work was kept.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from aldesk import __version__
from aldesk.core.errors import AldeskError
from aldesk.core.store import PROJECT_SUFFIX


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aldesk",
        description=(
            "Active-learning labeling of images or texts on your own workstation.\n\n"
            "  aldesk                    open the window (its start screen)\n"
            "  aldesk PROJECT.aldesk     open that project in the window\n"
            "  aldesk COMMAND ...        work on a project without the window (below)"
        ),
        epilog=(
            "examples:\n"
            "  aldesk demo                        build the image demo and open it (aldesk demo --text: texts)\n"
            "  aldesk photos.aldesk               open a project in the window\n"
            "  aldesk new photos.aldesk --classes cat,dog && aldesk import photos.aldesk ~/Pictures\n"
            "  aldesk COMMAND --help              what a command does and its options"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aldesk {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")

    from aldesk.cli.learning import add_ml_commands
    from aldesk.cli.project import add_project_commands

    from aldesk.cli.examples import attach_examples

    add_project_commands(verbs)
    add_ml_commands(verbs)
    attach_examples(verbs)
    parser.set_defaults(verb_names=frozenset(verbs.choices))
    return parser


def _open_without_verb(project: Path | None) -> int:
    """``aldesk`` (start screen) or ``aldesk PROJECT.aldesk``: the desktop window."""
    from aldesk.core.store import check_project_file
    from aldesk.gui.app import run_app

    if project is not None:
        check_project_file(project.absolute())  # a clear message in the terminal, before any window
    return run_app(project)


def main(argv: Sequence[str] | None = None) -> int:
    # In a frozen app (PyInstaller) the learning worker's child process starts this same
    # executable; freeze_support makes it run the child's code instead of the command line.
    multiprocessing.freeze_support()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args: argparse.Namespace | None = None
    try:
        verb_names = parser.get_default("verb_names")
        if argv and not argv[0].startswith("-") and argv[0] not in verb_names:
            if len(argv) == 1 and (argv[0].endswith(PROJECT_SUFFIX) or Path(argv[0]).is_file()):
                return _open_without_verb(Path(argv[0]))
        args = parser.parse_args(argv)
        if args.verb is None:
            return _open_without_verb(None)
        return int(args.run(args))
    except AldeskError as exc:
        print(f"aldesk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\naldesk: interrupted; everything finished before was saved.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into a command that stopped reading (e.g. head): not an error.
        sys.stderr.close()
        return 0
    except (sqlite3.Error, OSError) as exc:
        # The last line of defence: an error that no layer below named (a damaged page met
        # while reading, a failing disk). One line naming the file, never a traceback.
        print(f"aldesk: {_unexpected_io_error(exc, args)}", file=sys.stderr)
        return 1


def _unexpected_io_error(exc: sqlite3.Error | OSError, args: argparse.Namespace | None) -> str:
    from aldesk.core.disk import disk_full_error, is_no_space
    from aldesk.core.sqlite_errors import project_error

    project = getattr(args, "project", None)
    verb = getattr(args, "verb", None) or "aldesk"
    if isinstance(exc, sqlite3.Error):
        if project is None:
            return f"a database error stopped '{verb}': {' '.join(str(exc).split())}"
        return str(project_error(Path(project).absolute(), exc, what=f"the result of 'aldesk {verb}'"))
    if is_no_space(exc):
        return str(disk_full_error(exc.filename or project or Path.cwd(), what=f"the output of 'aldesk {verb}'"))
    where = exc.filename or project or "a file"
    return f"{where}: {exc.strerror or exc}; 'aldesk {verb}' stopped (what was saved before is kept)."
