"""aldesk's window icon, from the PNG sizes shipped in resources/icons (also used by the .desktop entry)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtGui import QIcon

from aldesk.core.resources import resources_dir

ICON_NAME = "aldesk"


def icon_files(root: Path | None = None) -> list[Path]:
    """The PNGs under icons/hicolor/<N>x<N>/apps/, smallest first."""
    hicolor = (root or resources_dir()) / "icons" / "hicolor"
    found = [p for p in hicolor.glob(f"*x*/apps/{ICON_NAME}.png") if p.is_file()]
    return sorted(found, key=lambda p: int(p.parent.parent.name.split("x")[0]))


def app_icon(root: Path | None = None) -> QIcon:
    """One icon holding every size, so each place (title bar, task bar, Alt+Tab) gets a sharp one.

    PNGs rather than the SVG: they need no SVG image plugin in a frozen app.
    """
    icon = QIcon()
    for path in icon_files(root):
        icon.addFile(str(path))
    if icon.isNull():
        # Cosmetic only: the window still works, so log rather than fail.
        logging.getLogger("aldesk").warning("no window icon found under %s", (root or resources_dir()) / "icons")
    return icon
