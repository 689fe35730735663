"""Where the desktop app writes its log, and setting that up.

Its own module (not app.py) so that the banner's "Show log" can name the file without importing
the module that builds the window: app -> main_window -> banner -> app was an import cycle.
"""

from __future__ import annotations

import logging
from pathlib import Path

import platformdirs


def log_file() -> Path:
    folder = Path(platformdirs.user_log_dir("aldesk", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "aldesk.log"


def setup_logging() -> Path:
    path = log_file()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("aldesk")
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    return path
