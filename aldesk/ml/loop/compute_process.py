"""Run the background jobs in a child process, one job at a time.

Why a process and not only a thread: the training, scoring and ranking code is partly plain
Python, and in a thread it holds the interpreter lock for milliseconds at a time. The window's
thread then waits for the lock after every Qt call, and a key press took up to ~90 ms to show
the next image (benchmarks/bench_keypress.py). A child process has its own interpreter, runs at
a lower CPU priority, and only reads the project; the parent stores what it sends.

Messages are pickled with the plain pickler (not multiprocessing's, which would move torch
tensors through shared memory), so the parent receives ordinary arrays and tensors.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aldesk.core.errors import AldeskError

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

# The child yields the CPU to the window and to image decoding: nice 10 gets about a tenth of
# a core when the window needs it, and every idle cycle otherwise.
CHILD_NICE = 10
_POLL_SECONDS = 0.25

OnMessage = Callable[[str, Any], None]


class ComputeProcessDied(AldeskError):
    pass


class ComputeProcess:
    """The parent's handle on the child: start it, run a job, cancel, stop."""

    def __init__(self, project_path: Path, backbone: str | None, nice: int | None = None) -> None:
        self.project_path = Path(project_path)
        self.backbone = backbone
        self.nice = CHILD_NICE if nice is None else nice
        self._context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt threads
        self._cancel = self._context.Event()
        # kill() comes from the GUI thread while the worker thread starts, runs or discards the
        # child: the lock keeps it from touching a closed process or missing one being started.
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process is not None else None

    def is_alive(self) -> bool:
        with self._lock:
            return self._alive()

    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> bool:
        """Start the child unless it runs; False once cancelled (a closing window starts none)."""
        with self._lock:
            if self._cancel.is_set():
                return False
            if self._alive():
                return True
            self._discard()  # a child that died while idle (e.g. the OS ended it for memory)
            parent_end, child_end = self._context.Pipe()
            process = self._context.Process(
                target=serve,
                args=(child_end, self._cancel, str(self.project_path), self.backbone, self.nice),
                name="aldesk-compute",
                daemon=True,
            )
            with _main_script_hidden():
                process.start()
            child_end.close()  # so a dead child shows up here as end-of-file
            self._process, self._conn = process, parent_end
            return True

    def run(self, job: str, on_message: OnMessage, *, slow_down: float = 0.0) -> None:
        """Run one job in the child, passing each message to ``on_message`` as it arrives.

        Raises ComputeProcessDied when the child ends without finishing the job (killed, out
        of memory); the next run starts a new child. Only one thread may call run and stop.
        """
        if not self.start():
            return
        conn = self._conn
        assert conn is not None
        try:
            conn.send_bytes(pickle.dumps((job, slow_down)))
            while True:
                if not conn.poll(_POLL_SECONDS):
                    if not self.is_alive():
                        raise EOFError
                    continue
                kind, payload = pickle.loads(conn.recv_bytes())
                if kind == "done":
                    return
                on_message(kind, payload)
        except (EOFError, OSError) as exc:
            with self._lock:
                code = self._process.exitcode if self._process is not None else None
                self._discard()
            if self._cancel.is_set():
                return  # stopped on purpose
            raise ComputeProcessDied(
                f"The background learning process ended unexpectedly (exit code {code}); "
                "your labels are safe. Retry, or see the log if it happens again."
            ) from exc

    def cancel(self) -> None:
        """Ask the running job to stop at its next check; no job runs after this."""
        self._cancel.set()

    def kill(self) -> None:
        """Cancel and kill the child at once, from any thread; a job waiting on it ends."""
        self._cancel.set()
        with self._lock:
            if self._process is not None and self._process.is_alive():  # self._alive(), narrowed for mypy
                self._process.kill()

    def stop(self, timeout: float = 1.0) -> None:
        """Cancel, let the child exit, and kill it if it does not within ``timeout`` seconds.
        Killing is safe: the child only ever reads the project."""
        self._cancel.set()
        with self._lock:
            process, conn = self._process, self._conn
        if process is None:
            return
        if conn is not None:
            try:
                conn.send_bytes(pickle.dumps(None))
            except OSError:
                pass
        process.join(timeout)  # only _discard closes a process, and only this thread calls it
        self.kill()
        process.join(5)
        with self._lock:
            if self._process is process:
                self._discard()

    def _discard(self) -> None:
        """Close the pipe and the (ended) process; called with the lock held."""
        if self._conn is not None:
            self._conn.close()
        if self._process is not None and not self._process.is_alive():
            self._process.close()
        self._process, self._conn = None, None


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Keep the child from running the parent's main script.

    spawn re-runs a script started as ``python script.py`` in the child (as ``__mp_main__``) so
    that objects defined there can be unpickled; the child needs none of them, and a script
    without a ``__main__`` guard that opens a window would open a second one there and try to
    take the project's lock. Modules started with ``-m`` and console scripts are not affected.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:  # (no main: no path)
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def serve(conn: Connection, cancel_event: Event, project_path: str, backbone: str | None, nice: int = CHILD_NICE) -> None:
    """The child's main loop: run each job it is sent until told to stop or the parent is gone."""
    from aldesk.ml.loop.jobs import JobRunner
    from aldesk.ml.device import configure_cpu_threads

    # Ctrl+C in the terminal that started aldesk reaches the whole process group: the window
    # decides what happens, not this child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    _lower_priority(nice)
    configure_cpu_threads()  # before any job, whichever comes first (ALDESK_THREADS included)
    runner = JobRunner(Path(project_path), backbone, cancel_event.is_set)

    def emit(kind: str, payload: Any) -> None:
        conn.send_bytes(pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL))

    while True:
        try:
            message = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if message is None:
            return
        job, slow_down = message
        try:
            try:
                runner.run(job, emit, slow_down)
            except AldeskError as exc:
                emit("failed", (str(exc), ""))
            except Exception as exc:  # noqa: BLE001 - every failure must reach the person
                emit("failed", (f"The background worker failed: {exc}", traceback.format_exc()))
            emit("done", None)
        except OSError:
            return  # the parent closed its end: nobody is listening any more


def _exit_with_parent() -> None:
    """End this process as soon as the parent is gone (killed, crashed), even in the middle of a
    long computation that checks for cancellation rarely: nobody would receive its result."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # waits on the parent's sentinel; works on every platform
        os._exit(0)

    threading.Thread(target=watch, name="aldesk-parent-watch", daemon=True).start()


def _lower_priority(nice: int) -> None:
    if nice <= 0:
        return
    if sys.platform.startswith("win"):  # no os.nice there (untested: no Windows machine here)
        import ctypes

        below_normal = 0x4000  # BELOW_NORMAL_PRIORITY_CLASS
        kernel32 = ctypes.windll.kernel32
        kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), below_normal)
        return
    try:
        os.nice(nice)
    except OSError:
        pass
