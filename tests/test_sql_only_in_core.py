"""Only core runs SQL: the window, the learning engine and the command line call named functions
in core (aldesk/core/items.py and the like), so the schema is known in one layer and each query
has a test there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import aldesk

PACKAGE = Path(aldesk.__file__).parent
SQL_CALLS = {"execute", "executemany", "executescript"}


@pytest.mark.parametrize("layer", ["gui", "ml", "cli"])
def test_no_module_outside_core_runs_sql_or_touches_a_connection(layer):
    offenders = []
    for source in sorted((PACKAGE / layer).rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and (node.attr in SQL_CALLS or node.attr == "conn"):
                offenders.append(f"{source.relative_to(PACKAGE)}:{node.lineno} .{node.attr}")
    assert offenders == []
