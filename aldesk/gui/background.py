"""Work off the GUI thread whose outcome always comes back to it.

``BackgroundTask(work, name=...)`` runs ``work(task)`` in a thread of its own. What it returns
arrives in the GUI thread as ``succeeded``; any exception it raises (an AldeskError, a bug, even a
BaseException) as ``failed``, so an owner never waits for an answer that will not come. Exactly
one of the two is emitted, then ``finished``; by then the thread has ended. ``work`` may call
``task.report(done, total)`` (``progress`` in the GUI thread) and should look at
``task.cancelled`` between steps.

Worker threads never emit signals on objects the GUI thread may delete meanwhile: they post to
one relay that lives as long as the application, which calls the receiver in the GUI thread if
it still exists (``post_to_gui_thread``; the image prefetcher's decoders use it too).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal


class _Relay(QObject):
    """Carries calls from any thread to receivers in the GUI thread (queued, in posting order)."""

    _posted = Signal(object)  # (receiver or weak reference to it, method name, args)

    def __init__(self) -> None:
        super().__init__()
        self._posted.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def post(self, receiver: QObject | weakref.ref, method: str, *args: Any) -> None:
        self._posted.emit((receiver, method, args))

    @staticmethod
    def _deliver(message: tuple) -> None:
        receiver, method, args = message
        if isinstance(receiver, weakref.ref):
            receiver = receiver()
        # Gone (its window closed) or its C++ side deleted: nobody wants the call any more.
        if receiver is not None and shiboken6.isValid(receiver):
            getattr(receiver, method)(*args)


_RELAY: _Relay | None = None


def gui_relay() -> _Relay:
    """The process-wide relay; call it first from the GUI thread (it lives in the thread that made it)."""
    global _RELAY
    if _RELAY is None:
        _RELAY = _Relay()
    return _RELAY


def post_to_gui_thread(receiver: QObject | weakref.ref, method: str, *args: Any) -> None:
    """From any thread: ``receiver.method(*args)`` soon in the GUI thread, unless the receiver
    (a QObject, or a weak reference to one) is gone by then."""
    gui_relay().post(receiver, method, *args)


class BackgroundTask(QObject):
    progress = Signal(int, int)  # done, total: what ``work`` reported
    succeeded = Signal(object)  # what ``work`` returned
    failed = Signal(object)  # the exception ``work`` raised, whatever its type
    finished = Signal()  # after succeeded or failed

    def __init__(self, work: Callable[[BackgroundTask], object], *, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._name = name
        self._relay = gui_relay()  # made here, in the GUI thread
        self._cancel = threading.Event()
        self._dropped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"background task {self._name} was started before")
        # Daemon: work stuck on a dead network share must not keep the app from exiting.
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    # -- for the owner (GUI thread) ------------------------------------------------------------

    def cancel(self) -> None:
        """Ask ``work`` to stop at its next look at ``cancelled``; its outcome still arrives."""
        self._cancel.set()

    def drop(self) -> None:
        """Nobody wants the outcome any more (the project it was for is closed): not delivered."""
        self._dropped = True

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True once it has ended (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    # -- for ``work`` (its thread) -------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, done: int, total: int) -> None:
        self._relay.post(self, "_progress", done, total)

    # -- internals -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            result = self._work(self)
        except BaseException as exc:  # noqa: BLE001 - every error must reach the owner, or it waits forever
            self._relay.post(self, "_deliver", False, exc)
        else:
            self._relay.post(self, "_deliver", True, result)

    def _progress(self, done: int, total: int) -> None:
        if not self._dropped:
            self.progress.emit(done, total)

    def _deliver(self, ok: bool, value: object) -> None:
        if self._thread is not None:
            self._thread.join()  # posting this was its last step: it ends at once
        if self._dropped:
            return
        (self.succeeded if ok else self.failed).emit(value)
        self.finished.emit()
