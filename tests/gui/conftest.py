"""GUI tests run headless, and no test may leave a thread running behind it."""

from __future__ import annotations

import os

# Before anything creates the QApplication: no display is needed or used.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402
import time  # noqa: E402
import weakref  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QThread, QThreadPool  # noqa: E402

# Threads get this long to finish after the test's own teardown asked them to stop.
GRACE_SECONDS = 2.0


def _running_qthreads(started: list[weakref.ref]) -> list[str]:
    running = []
    for ref in started:
        thread = ref()
        try:
            if thread is not None and thread.isRunning():
                running.append(thread.objectName() or repr(thread))
        except RuntimeError:
            pass  # its C++ object is deleted, and Qt never deletes a running QThread quietly
    return running


@pytest.fixture(autouse=True)
def no_leftover_threads(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that leaves a QThread, a QThreadPool task or a Python thread running.

    QThreads have no registry, so QThread.start is wrapped to remember (weakly) what started.
    Python threads are compared with the ones alive before the test; the dummy entries Python
    makes for foreign (Qt) threads are ignored since those are tracked as QThreads.
    """
    started: list[weakref.ref] = []
    original_start = QThread.start

    def tracking_start(self: QThread, *args, **kwargs):
        started.append(weakref.ref(self))
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", tracking_start)
    before = set(threading.enumerate())
    yield

    def leftovers() -> list[str]:
        python = [
            t.name
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
        ]
        pool = QThreadPool.globalInstance().activeThreadCount()
        return python + _running_qthreads(started) + ([f"{pool} QThreadPool task(s)"] if pool else [])

    deadline = time.monotonic() + GRACE_SECONDS
    remaining = leftovers()
    while remaining and time.monotonic() < deadline:
        if QCoreApplication.instance() is not None:
            QCoreApplication.processEvents()  # let finished threads deliver and be cleaned up
        time.sleep(0.01)
        remaining = leftovers()
    if remaining:
        pytest.fail(f"test left threads running: {', '.join(remaining)}")


@pytest.fixture
def make_window(qtbot, tmp_path):
    """``make_window(path)``: a shown, active main window with the project at ``path`` open
    (window shortcuts, the labeling keys, need the active window); closed after the test."""
    from PySide6.QtCore import QSettings

    from aldesk.gui.main_window import MainWindow

    windows = []

    def make(path):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings, backbone="pixels")
        qtbot.addWidget(win)
        win.show()
        assert win.open_project(path)
        win.activateWindow()
        qtbot.waitUntil(win.isActiveWindow, timeout=5_000)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()
