"""Light and dark: follow the system, and keep aldesk's own colours readable in both.

Qt follows the system by itself where the platform theme reports a colour scheme (Windows,
macOS, GNOME and KDE through their platform themes); every widget then takes the theme's
palette, so our code uses palette roles instead of fixed black or white. ``ALDESK_COLOR_SCHEME``
(light, dark or system) overrides the system, e.g. to check the dark look or for screenshots.
Qt 6.11's generic X11 theme (a bare X server, Xvfb) reports no scheme and ignores
``QStyleHints.setColorScheme``; there a dark request is met with a palette of our own, matching
the dark palette Qt's Fusion style uses where the platform supports it.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

from aldesk.core.errors import AldeskError

ENV = "ALDESK_COLOR_SCHEME"
SCHEMES = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark, "system": Qt.ColorScheme.Unknown}
# Text and its background should differ at least this much (WCAG AA for normal text).
MIN_CONTRAST = 4.5


def requested_scheme(value: str | None = None) -> Qt.ColorScheme:
    """The scheme asked for in ``ALDESK_COLOR_SCHEME`` (Unknown = follow the system)."""
    value = (os.environ.get(ENV, "") if value is None else value).strip().lower() or "system"
    if value not in SCHEMES:
        raise AldeskError(f"{ENV}={value!r} is not one of {', '.join(SCHEMES)}; unset it to follow the system.")
    return SCHEMES[value]


def apply_color_scheme(app: QGuiApplication, scheme: Qt.ColorScheme) -> str:
    """Ask Qt for ``scheme``; if the platform cannot switch, set a palette. Says which it did."""
    if scheme == Qt.ColorScheme.Unknown:
        return "system"
    app.styleHints().setColorScheme(scheme)
    QGuiApplication.processEvents()
    if is_dark(app.palette()) == (scheme == Qt.ColorScheme.Dark):
        return "qt"
    app.setPalette(dark_palette() if scheme == Qt.ColorScheme.Dark else light_palette(app))
    return "palette"


def light_palette(app: QGuiApplication) -> QPalette:
    style = getattr(app, "style", None)
    return style().standardPalette() if style is not None else QPalette()


def dark_palette() -> QPalette:
    """The dark palette of Qt's Fusion style (the colours Qt itself uses in dark mode)."""
    roles = QPalette.ColorRole
    active = {
        roles.Window: "#323232",
        roles.WindowText: "#f0f0f0",
        roles.Base: "#242424",
        roles.AlternateBase: "#2b2b2b",
        roles.Text: "#f0f0f0",
        roles.Button: "#323232",
        roles.ButtonText: "#f0f0f0",
        roles.BrightText: "#4b4b4b",
        roles.Light: "#4b4b4b",
        roles.Midlight: "#2a2a2a",
        roles.Mid: "#262626",
        roles.Dark: "#212121",
        roles.Shadow: "#191919",
        roles.Highlight: "#308cc6",
        roles.HighlightedText: "#f0f0f0",
        roles.Link: "#308cc6",
        roles.LinkVisited: "#ff00ff",
        roles.ToolTipBase: "#ffffdc",
        roles.ToolTipText: "#000000",
        roles.Accent: "#308cc6",
    }
    palette = QPalette()
    for role, colour in active.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(roles.PlaceholderText, QColor(240, 240, 240, 128))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor("#828282"))
    palette.setColor(disabled, roles.Base, QColor("#323232"))
    palette.setColor(disabled, roles.Highlight, QColor("#919191"))
    return palette


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightnessF() < palette.color(QPalette.ColorRole.WindowText).lightnessF()


def luminance(colour: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour.getRgbF()[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio, 1 (same) to 21 (black on white)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable(colour: str | QColor, background: QColor, minimum: float = MIN_CONTRAST) -> QColor:
    """``colour`` made lighter (on dark) or darker (on light) until it reads as text on
    ``background``; the hue stays, so a class keeps its recognisable colour."""
    result = QColor(colour)
    towards_white = luminance(background) < 0.18
    for _ in range(40):
        if contrast(result, background) >= minimum:
            break
        h, s, lightness, a = result.getHslF()
        lightness = min(1.0, lightness + 0.025) if towards_white else max(0.0, lightness - 0.025)
        result = QColor.fromHslF(max(h, 0.0), s, lightness, a)
    return result


def mix(base: QColor, other: QColor, amount: float) -> QColor:
    """``base`` moved ``amount`` (0..1) of the way towards ``other``."""
    return QColor.fromRgbF(*(b + (o - b) * amount for b, o in zip(base.getRgbF()[:3], other.getRgbF()[:3])))


def card_edge(palette: QPalette) -> QColor:
    """The edge of a card (a text on the palette's Base colour) that shows in light and dark
    themes alike; the Mid role does not: in Fusion's dark palette it is almost Base."""
    return mix(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.25)
