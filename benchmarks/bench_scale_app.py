"""The real app on a project, instrumented from outside its code (for bench_scale.py).

    ALDESK_BENCH_T0=<time.time() at launch> PYTHONPATH=. python benchmarks/bench_scale_app.py PROJECT SECONDS

Runs ``aldesk.gui.app.run_app(PROJECT)``, what ``aldesk PROJECT`` runs, after wrapping three
methods so that it prints, one JSON line each, to stdout:

- ``first_paint``: the image view finished painting its first image (seconds since launch);
- ``refresh``: the learning controller stored a refresh result (seconds since launch);
- ``exit``: the app's own peak RSS (VmHWM) just before it quits.

After the first refresh it asks for one more (Ctrl+R's ``retrain_now``), and it closes the
window 2 s after that second refresh, or ``SECONDS`` after the first paint if that comes first.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import benchmarks.harness  # noqa: F401 - stops a run that would import another checkout's aldesk

T0 = float(os.environ.get("ALDESK_BENCH_T0", time.time()))


def say(kind: str, **values) -> None:
    print(json.dumps({"event": kind, "t": time.time() - T0, **values}), flush=True)


def vm_hwm_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def instrument(seconds: float) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from aldesk.gui.learning import controller

    from aldesk.gui.labeling import image_view

    state = {"painted": False, "refreshes": 0}
    paint = image_view.ImageView.paintEvent

    def paint_event(view, event):
        paint(view, event)
        if not state["painted"] and view.image is not None:
            state["painted"] = True
            say("first_paint")
            QTimer.singleShot(int(seconds * 1000), close_all)

    # Storing a result runs on the GUI thread in two calls (the predictions between them are
    # written by a thread): their times add up to the result's store_seconds, said once the
    # queue is stored (_store_rest, inside the second call).
    state["store"], state["stored"] = 0.0, False
    Controller = controller.LearningController
    store_rest = Controller._store_rest

    def stored(ctrl, outcome, version):
        store_rest(ctrl, outcome, version)
        state["stored"] = True

    def timed(method):
        def call(ctrl, *args, **kwargs):
            start = time.perf_counter()
            try:
                return method(ctrl, *args, **kwargs)
            finally:
                state["store"] += time.perf_counter() - start
                if state["stored"]:
                    state["stored"] = False
                    seconds, state["store"] = state["store"], 0.0
                    done(ctrl, seconds)

        return call

    def done(ctrl, seconds):
        state["refreshes"] += 1
        say("refresh", n=state["refreshes"], store_seconds=seconds)
        if state["refreshes"] == 1:
            QTimer.singleShot(500, ctrl.retrain_now)
        elif state["refreshes"] == 2:
            QTimer.singleShot(2000, close_all)  # both measured: no need to wait for SECONDS

    def close_all():
        if state.get("closed"):
            return
        state["closed"] = True
        say("exit", vm_hwm_kib=vm_hwm_kib())
        for window in QApplication.topLevelWidgets():
            window.close()

    def critical(_parent, _title, text, *args, **kwargs):
        say("error", message=text)  # a modal box would wait for a click nobody gives
        QTimer.singleShot(0, close_all)

    from PySide6.QtWidgets import QMessageBox

    QMessageBox.critical = staticmethod(critical)
    image_view.ImageView.paintEvent = paint_event
    Controller._store_rest = stored
    Controller._apply_refresh = timed(Controller._apply_refresh)
    Controller._predictions_written = timed(Controller._predictions_written)


def main() -> None:
    project, seconds = Path(sys.argv[1]), float(sys.argv[2])
    say("python_started")
    instrument(seconds)
    from aldesk.gui.app import run_app

    code = run_app(project)
    sys.exit(code)


if __name__ == "__main__":
    main()
