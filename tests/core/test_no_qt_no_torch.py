"""core/ (and ml/) must never import Qt; core/ must never import torch."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import aldesk

PACKAGE = Path(aldesk.__file__).parent
FORBIDDEN_IN_CORE = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "torch", "torchvision")
FORBIDDEN_IN_ML = ("PySide6", "PyQt5", "PyQt6", "shiboken6")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for source in sorted((PACKAGE / folder).rglob("*.py")):
        for name in _imported_modules(source):
            if name.split(".")[0] in forbidden:
                bad.append(f"{source.relative_to(PACKAGE)} imports {name}")
    return bad


def test_core_sources_import_neither_qt_nor_torch():
    assert _offenders("core", FORBIDDEN_IN_CORE) == []


def test_ml_sources_do_not_import_qt():
    assert _offenders("ml", FORBIDDEN_IN_ML) == []


def test_importing_all_of_core_loads_neither_qt_nor_torch():
    modules = [m.name for m in pkgutil.iter_modules([str(PACKAGE / "core")], "aldesk.core.")]
    assert len(modules) >= 10
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN_IN_CORE!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
