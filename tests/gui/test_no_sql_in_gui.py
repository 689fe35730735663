"""The GUI runs no SQL of its own: every query is a named function in core (aldesk/core/items.py
and the like), so the schema is known in one layer and each query has a test there."""

from __future__ import annotations

import ast
from pathlib import Path

import aldesk

GUI = Path(aldesk.__file__).parent / "gui"
SQL_CALLS = {"execute", "executemany", "executescript"}


def test_no_module_in_gui_runs_sql_or_touches_a_connection():
    offenders = []
    for source in sorted(GUI.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and (node.attr in SQL_CALLS or node.attr == "conn"):
                offenders.append(f"{source.relative_to(GUI)}:{node.lineno} .{node.attr}")
    assert offenders == []
