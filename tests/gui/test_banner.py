"""The failure banner: non-modal, counts repeats, opens the log, retries; labeling goes on."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from aldesk.gui.banner import Banner
from aldesk.ml.loop.jobs import JobRunner
from tests.gui.test_main_window import _status, project_path  # noqa: F401 - fixture


@pytest.fixture
def banner(qtbot, tmp_path):
    host = QWidget()
    qtbot.addWidget(host)
    log = tmp_path / "log" / "aldesk.log"
    widget = Banner(host, log_path=lambda: log)
    host.show()
    yield widget, log  # keeps the host (and so the banner) alive during the test


def test_shows_counts_repeats_and_dismisses(banner):
    widget, _log = banner
    assert not widget.isVisible()
    widget.show_message("disk full")
    assert widget.isVisible() and "disk full" in widget.text and "Labeling continues" in widget.text
    widget.show_message("disk full")
    assert "(2 times)" in widget.text
    widget.show_message("other failure", retry=False)
    assert "times" not in widget.text and widget.retry_button.isHidden()
    widget.show_message("a note, not a failure", retry=False, logged=False)
    assert widget.log_button.isHidden() and "log" not in widget.text
    widget.dismiss_button.click()
    assert not widget.isVisible() and widget.text == ""


def test_retry_hides_and_asks_once(qtbot, banner):
    widget, _log = banner
    widget.show_message("boom")
    with qtbot.waitSignal(widget.retry_requested):
        widget.retry_button.click()
    assert not widget.isVisible()


def test_show_log_opens_the_file_else_the_folder_else_names_it(banner, monkeypatch):
    widget, log = banner
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    widget.show_message("boom")
    assert not widget.show_log()  # neither exists yet
    assert str(log) in widget.label.text()
    log.parent.mkdir()
    assert widget.show_log() and opened[-1] == QUrl.fromLocalFile(str(log.parent))
    log.write_text("details\n")
    assert widget.show_log() and opened[-1] == QUrl.fromLocalFile(str(log))


def test_buttons_never_take_the_focus(banner):
    widget, _log = banner
    assert all(b.focusPolicy() == Qt.FocusPolicy.NoFocus for b in (widget.log_button, widget.retry_button, widget.dismiss_button))


def test_background_follows_the_theme(banner):
    widget, _log = banner
    window = QApplication.palette().color(QPalette.ColorRole.Window)
    light = widget.styleSheet()
    dark = QPalette(QApplication.palette())
    dark.setColor(QPalette.ColorRole.Window, window.darker(400))
    QApplication.setPalette(dark)
    try:
        widget._restyle()
        assert widget.styleSheet() != light
    finally:
        QApplication.setPalette(QPalette())
        widget._restyle()
    assert widget.styleSheet() == light


# -- in the window ---------------------------------------------------------------------------


def _no_modal_boxes(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a modal message box was opened: {args[1:3]}")

    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name, refuse)


def test_a_worker_failure_shows_the_banner_and_keys_keep_labeling(qtbot, tmp_path, project_path, monkeypatch):  # noqa: F811
    from aldesk.gui.main_window import MainWindow

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    calls = []
    real_refresh = JobRunner.refresh

    def failing_refresh(self, slow_down=0.0):
        calls.append(slow_down)
        if len(calls) == 1:
            raise RuntimeError("out of memory (simulated)")
        return real_refresh(self, slow_down)

    # The jobs run in the worker's thread here, so the patched method is the one that runs.
    monkeypatch.setenv("ALDESK_WORKER", "thread")
    monkeypatch.setattr(JobRunner, "refresh", failing_refresh)
    _no_modal_boxes(monkeypatch)
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), backbone="pixels")
    qtbot.addWidget(win)
    win.show()
    assert win.open_project(project_path)
    qtbot.waitUntil(lambda: win.banner.isVisible(), timeout=60_000)  # embedding, then the failing refresh
    assert "out of memory (simulated)" in win.banner.text
    for _ in range(3):
        shown = win.session.current.item_id
        qtbot.keyClick(win, Qt.Key.Key_2)
        assert _status(project_path, shown) == ("labeled", 2)
    assert win.banner.isVisible()
    with qtbot.waitSignal(win.controller.queue_updated, timeout=60_000):
        win.banner.retry_button.click()  # the second refresh works
    assert not win.banner.isVisible() and len(calls) >= 2
    win.controller.error.emit("another failure")
    assert win.banner.isVisible()
    win.close_project()
    assert not win.banner.isVisible()
    win.close()
