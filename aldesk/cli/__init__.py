"""The ``aldesk`` command: one module per group of verbs; ``main`` parses and dispatches."""

from aldesk.cli.entry import main

__all__ = ["main"]
