"""A non-modal message strip at the top of the window: a background failure is shown here while
the person keeps labeling with the keys (a modal box would swallow the next key presses).

Buttons: "Show log" opens the log file (or its folder), "Retry" asks for the failed work again,
"Dismiss" hides the strip. They never take the keyboard focus; Alt+G, Alt+R and Alt+D press them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QPalette
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QPushButton, QStyle, QWidget

from aldesk.gui.log_file import log_file

# An amber tint mixed into the theme's own window colour: a warning in both light and dark
# themes, while the text keeps the theme's own (readable) colour.
ACCENT = QColor("#e8a317")
TINT = 0.22


def _mix(base: QColor, accent: QColor, amount: float) -> QColor:
    return QColor.fromRgbF(*(b + (a - b) * amount for b, a in zip(base.getRgbF()[:3], accent.getRgbF()[:3])))


def default_log_path() -> Path:
    return log_file()


class Banner(QFrame):
    retry_requested = Signal()

    def __init__(self, parent: QWidget | None = None, log_path: Callable[[], Path] = default_log_path) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setAccessibleName("Message")
        self._log_path = log_path
        self._text = ""
        self._count = 0
        icon = QLabel(self)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size))
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.log_button = self._button("Show lo&g", "Open the log file with the details", self.show_log)
        self.retry_button = self._button("&Retry", "Run the failed background work again", self._retry)
        self.dismiss_button = self._button("&Dismiss", "Hide this message; labeling goes on either way", self.dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 8, 6)
        row.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.label, 1)
        for button in (self.log_button, self.retry_button, self.dismiss_button):
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self._restyle()
        self.hide()

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys keep labeling
        button.clicked.connect(slot)
        return button

    # -- showing -------------------------------------------------------------------------------

    def show_message(self, text: str, *, retry: bool = True, logged: bool = True, closable: bool = True) -> None:
        """Show ``text``; the same message again counts up instead of piling up. ``retry`` and
        ``logged`` say whether Retry and Show log make sense for it; a message that stays true
        as long as the project is open (read-only) is not ``closable``."""
        self._count = self._count + 1 if text == self._text and self.isVisible() else 1
        self._text = text
        suffix = f"   ({self._count} times)" if self._count > 1 else ""
        note = "\nLabeling continues; the details are in the log." if logged else ""
        self.label.setText(f"{text}{suffix}{note}")
        self.retry_button.setVisible(retry)
        self.log_button.setVisible(logged)
        self.dismiss_button.setVisible(closable)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    @property
    def message(self) -> str:
        """The message shown (as given to ``show_message``), or "" when hidden."""
        return self._text if self.isVisible() else ""

    def dismiss(self) -> None:
        self._text, self._count = "", 0
        self.hide()

    def _retry(self) -> None:
        self.dismiss()
        self.retry_requested.emit()

    def show_log(self) -> bool:
        """Open the log file in the system's viewer, else its folder; say where it is if neither opens."""
        path = self._log_path()
        for target in (path, path.parent):
            if target.exists() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))):
                return True
        self.label.setText(f"{self._text}\nThe log could not be opened; it is {path}")
        return False

    # -- theme ---------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._restyle()  # the system switched between light and dark
        super().changeEvent(event)

    def _restyle(self) -> None:
        # The application's palette, not ours: the style sheet below changes our own.
        window = QApplication.palette().color(QPalette.ColorRole.Window)
        background = _mix(window, ACCENT, TINT).name()
        style = f"QFrame#banner {{ background: {background}; border-left: 4px solid {ACCENT.name()}; }}"
        if self.styleSheet() != style:  # setting it sends a PaletteChange of its own
            self.setStyleSheet(style)
