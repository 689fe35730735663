"""The labeling session seen from Qt: one signal the views connect to.

The session (aldesk/core/session.py) is Qt-free and tells its subscribers what each operation
changed; this adapter owns it and re-emits each ``Changes`` as ``changed``, in the GUI thread
where the session is driven (key presses, the learning controller's new queues). The window
and the review grid redraw from the flags instead of calling each other.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Signal

from aldesk.core.session import Changes, LabelingSession


class SessionSignals(QObject):
    changed = Signal(object)  # a Changes

    def __init__(self, session: LabelingSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        session.subscribe(self._forward)

    def close(self) -> None:
        """Stop forwarding (the project is closing)."""
        self.session.unsubscribe(self._forward)

    def _forward(self, changes: Changes) -> None:
        if shiboken6.isValid(self):  # its window may be gone while the session lives on
            self.changed.emit(changes)
