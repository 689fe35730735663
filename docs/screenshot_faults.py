"""Screenshots of the window on a full disk and on a read-only project, from the real app.

    xvfb-run -a -s "-screen 0 1280x860x24" python docs/screenshot_faults.py disk-full PROJECT.aldesk OUT.png
    xvfb-run -a -s "-screen 0 1280x860x24" python docs/screenshot_faults.py read-only PROJECT.aldesk OUT.png

The fault is simulated in this process (no disk is filled, no mount made read-only): every label
write raises the store's own disk-full error with 1.2 MB free, or the project's place reports a
read-only mount. Then key "1"'s action runs, and the window is grabbed.
"""

from __future__ import annotations

import sys
from pathlib import Path

FREE_NOW = 1_200_000  # what the simulated full disk has left (under the 8 MB it asks for)


def simulate(fault: str) -> None:
    from aldesk.core import disk, labels

    if fault == "disk-full":
        disk.free_bytes = lambda _path: FREE_NOW  # the message and the banner's check both see it

        def no_room(project, *_args, **_kwargs):
            raise disk.disk_full_error(project.path, what="the last label")

        labels.record = no_room
        import aldesk.gui.write_guard as guard

        guard.free_bytes = disk.free_bytes
    elif fault == "read-only":
        import aldesk.core.store as store

        store.read_only_reason = lambda _path: "it is on a read-only disk or mount (/media/usb)"
    else:
        raise SystemExit(f"unknown fault {fault!r}: disk-full or read-only")


def main() -> int:
    fault, project, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    simulate(fault)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from aldesk.gui import app as app_mod

    def press_and_grab() -> None:
        window = next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")
        window.resize(1280, 860)
        # Key "1"'s own action: a bare X server has no window manager to make the window active,
        # and window shortcuts only reach an active window.
        window.class_actions[0].trigger()
        QTimer.singleShot(1500, lambda: (window.grab().save(str(out)), window.close()))

    QApplication(sys.argv[:1])  # run_app takes this one; the timer needs it first
    QTimer.singleShot(6000, press_and_grab)  # the first image decoded, the worker started
    return app_mod.run_app(project)


if __name__ == "__main__":
    sys.exit(main())
