"""Light and dark: the requested scheme is applied (by Qt or by a palette) and class colours stay readable."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from aldesk.core.classes import PALETTE
from aldesk.core.errors import AldeskError
from aldesk.gui.start_screen import StartScreen
from aldesk.gui.theme import MIN_CONTRAST, apply_color_scheme, contrast, dark_palette, is_dark, readable, requested_scheme


def test_the_requested_scheme_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("ALDESK_COLOR_SCHEME", raising=False)
    assert requested_scheme() == Qt.ColorScheme.Unknown
    assert requested_scheme(" Dark ") == Qt.ColorScheme.Dark
    monkeypatch.setenv("ALDESK_COLOR_SCHEME", "light")
    assert requested_scheme() == Qt.ColorScheme.Light
    with pytest.raises(AldeskError, match="ALDESK_COLOR_SCHEME='blue' is not one of light, dark, system"):
        requested_scheme("blue")


@pytest.fixture
def restore_palette(qapp):
    yield qapp
    qapp.styleHints().unsetColorScheme()
    qapp.setPalette(QPalette())


def test_dark_is_applied_even_where_the_platform_cannot_switch(restore_palette):
    app = restore_palette
    assert apply_color_scheme(app, Qt.ColorScheme.Unknown) == "system"
    how = apply_color_scheme(app, Qt.ColorScheme.Dark)
    assert how in ("qt", "palette")  # offscreen and bare X11 cannot switch: "palette"
    assert is_dark(app.palette())
    assert apply_color_scheme(app, Qt.ColorScheme.Light) in ("qt", "palette")
    assert not is_dark(app.palette())


def test_dark_palette_text_reads_on_its_backgrounds():
    palette = dark_palette()
    roles = QPalette.ColorRole
    for text, background in (
        (roles.WindowText, roles.Window),
        (roles.Text, roles.Base),
        (roles.ButtonText, roles.Button),
        (roles.HighlightedText, roles.Highlight),
    ):
        assert contrast(palette.color(text), palette.color(background)) >= 3.0, (text, background)


@pytest.mark.parametrize("background", ["#efefef", "#ffffff", "#323232", "#1e1e1e"])
def test_every_class_colour_is_made_readable_and_keeps_its_hue(background):
    bg = QColor(background)
    for colour in PALETTE:
        shown = readable(colour, bg)
        assert contrast(shown, bg) >= MIN_CONTRAST, (colour, background, shown.name())
        if contrast(QColor(colour), bg) >= MIN_CONTRAST:
            assert shown.name() == colour  # already readable: untouched
        else:
            hue = QColor(colour).hslHueF()
            assert abs(shown.hslHueF() - hue) < 0.03 or QColor(colour).hslSaturationF() < 0.2


def test_missing_projects_are_greyed_again_when_the_theme_changes(qtbot, tmp_path, restore_palette):
    screen = StartScreen()
    qtbot.addWidget(screen)
    screen.set_recent([tmp_path / "gone.aldesk"])
    light_grey = screen.recent.item(0).foreground().color()
    QApplication.setPalette(dark_palette())
    qtbot.waitUntil(lambda: screen.recent.item(0).foreground().color() != light_grey)
    assert screen.recent.item(0).foreground().color() == dark_palette().color(QPalette.ColorRole.PlaceholderText)
