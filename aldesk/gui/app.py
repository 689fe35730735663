"""Starting the desktop app: logging, the QApplication, the window."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from aldesk.gui.log_file import setup_logging


def run_app(project: Path | None = None, *, backbone: str | None = None) -> int:
    """Open the window (on ``project`` if given) and run until it closes."""
    from PySide6.QtWidgets import QApplication

    from aldesk.gui.app_icon import app_icon
    from aldesk.gui.main_window import MainWindow
    from aldesk.gui.theme import apply_color_scheme, requested_scheme

    scheme = requested_scheme()  # a bad ALDESK_COLOR_SCHEME is refused before any window opens
    setup_logging()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("aldesk")
    app.setOrganizationName("aldesk")
    app.setApplicationDisplayName("aldesk")
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("aldesk")  # Wayland shells match the window to aldesk.desktop by this name
    how = apply_color_scheme(app, scheme)
    logging.getLogger("aldesk.theme").info("colour scheme: %s (%s)", app.styleHints().colorScheme().name, how)
    window = MainWindow(backbone=backbone)
    from aldesk.gui.dialogs.file_open import FileOpenHandler

    app.installEventFilter(FileOpenHandler(window))  # macOS: a project double-clicked in Finder
    window.show()
    if project is not None:
        window.open_project(project)
    close_on_terminate(window)
    code = app.exec()
    from aldesk.gui.learning.worker import wait_for_unfinished

    if not wait_for_unfinished():
        # Only reads are left unfinished (labels are committed as they are given): leave now
        # rather than let Qt abort on a running thread at interpreter exit.
        logging.getLogger("aldesk").error("a worker thread did not stop; exiting without waiting for it")
        logging.shutdown()
        os._exit(code)
    return code


def close_on_terminate(window) -> None:
    """SIGTERM (logout, `kill`, a service manager) and SIGHUP close the window as Ctrl+Q does:
    the project is closed properly and the learning process ended. Python runs signal handlers
    only between bytecodes, so a timer gives the interpreter a moment while Qt waits for events."""
    import signal

    from PySide6.QtCore import QTimer

    def close(_signum, _frame) -> None:
        window.close()

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(250)
