"""The one helper for background work: its result or any exception reaches the GUI thread."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject, QThread

from aldesk.core.errors import AldeskError
from aldesk.gui.background import BackgroundTask, post_to_gui_thread


def _run(qtbot, work, **kwargs):
    task = BackgroundTask(work, name="aldesk-test-task", **kwargs)
    got = []
    task.succeeded.connect(lambda value: got.append(("ok", value, threading.current_thread())))
    task.failed.connect(lambda exc: got.append(("failed", exc, threading.current_thread())))
    with qtbot.waitSignal(task.finished, timeout=5_000):
        task.start()
    return task, got


def test_the_result_arrives_in_the_gui_thread_after_the_thread_ended(qtbot):
    task, got = _run(qtbot, lambda _task: 42)
    assert [(kind, value) for kind, value, _ in got] == [("ok", 42)]
    assert got[0][2] is threading.main_thread() and not task.is_running()


@pytest.mark.parametrize("error", [RuntimeError("no one foresaw this"), AldeskError("said for the person"), KeyboardInterrupt()])
def test_any_exception_arrives_as_failed(qtbot, error):
    def work(_task):
        raise error

    task, got = _run(qtbot, work)
    assert [(kind, value) for kind, value, _ in got] == [("failed", error)]
    assert got[0][2] is threading.main_thread() and not task.is_running()
    assert error.__traceback__ is not None  # the owner can log where it happened


def test_progress_comes_before_the_result_and_cancel_is_seen_by_the_work(qtbot):
    started, go_on = threading.Event(), threading.Event()

    def work(task):
        task.report(1, 3)
        started.set()
        go_on.wait(5)
        return task.cancelled

    task = BackgroundTask(work, name="aldesk-test-task")
    events = []
    task.progress.connect(lambda done, total: events.append((done, total)))
    task.succeeded.connect(events.append)
    task.start()
    assert started.wait(5)
    task.cancel()
    go_on.set()
    qtbot.waitUntil(lambda: len(events) == 2, timeout=5_000)
    assert events == [(1, 3), True]


def test_a_dropped_task_delivers_nothing(qtbot):
    go_on = threading.Event()
    task = BackgroundTask(lambda _task: go_on.wait(5), name="aldesk-test-task")
    got = []
    task.succeeded.connect(got.append)
    task.finished.connect(lambda: got.append("finished"))
    task.start()
    task.drop()
    go_on.set()
    assert task.wait(5)
    qtbot.wait(50)
    assert got == []


def test_a_task_started_twice_is_refused(qtbot):
    task, _ = _run(qtbot, lambda _task: None)
    with pytest.raises(RuntimeError):
        task.start()


def test_a_post_to_a_deleted_receiver_is_dropped(qtbot):
    class Receiver(QObject):
        calls: list = []

        def hello(self, value):
            self.calls.append(value)

    alive, gone = Receiver(), Receiver()
    thread = threading.Thread(target=lambda: (post_to_gui_thread(alive, "hello", 1), post_to_gui_thread(gone, "hello", 2)))
    import shiboken6

    shiboken6.delete(gone)  # its C++ side goes before the posts are delivered
    thread.start()
    thread.join(5)
    qtbot.waitUntil(lambda: Receiver.calls == [1], timeout=5_000)
    qtbot.wait(20)
    assert Receiver.calls == [1] and QThread.currentThread() is alive.thread()
