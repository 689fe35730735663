"""Key press -> next image painted, in the real main window, with training in the background.

    PYTHONPATH=. python benchmarks/bench_keypress.py [--items 100000] [--presses 500] [--quick] [--write-docs]

A project of ``--items`` items whose images are 12-megapixel JPEGs (``--jpegs`` distinct files,
cached under ~/.cache/aldesk/bench, reused through hard links; see keypress_data.py) is opened in
aldesk's MainWindow on a real X server (an Xvfb the script starts, unless DISPLAY is set or
--offscreen is given). The app's own LearningWorker trains in the background: its controller is
set to refresh after every label (``--refresh-every``), so a refresh is always running or pending.

A sender thread presses a class key every 150-300 ms (a fast expert; uniform random pace),
after the previous image was painted. The press is posted to the GUI thread, which delivers it
with QTest.keyClick on the focus widget (shortcut override -> shortcut map -> QAction -> label
write -> next item), as a key from the X server would go. The clock starts in the sender thread just before posting
(so time the GUI thread spends busy with something else counts) and stops when the image view's
paintEvent has finished painting the NEW item's image; "frame done" is when the event loop next
runs, i.e. after the rest of the window was painted and the frame flushed to the X server.

Same-run baseline: between two presses, a separate window the size of the image view swaps in
an already prepared QPixmap of the same pixel size and repaints it (no key handling); it is
timed the same way. The ratio tells what aldesk adds to a bare Qt paint.

The label write (labels.record: one transaction, synchronous=FULL, i.e. an fsync of the WAL per
label) is timed inside the run, and afterwards on its own with synchronous FULL and NORMAL.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import harness
from benchmarks.harness import summary
from benchmarks.keypress_data import CACHE, build_project, ensure_jpegs

WINDOW = (1600, 1000)
# A common screen: the prefetcher decodes for the screen's long side, so a wider virtual screen
# would make every decode bigger than on a real desk. The baseline window overlaps the main
# window (no window manager: nothing is re-exposed by that).
SCREEN = "1920x1080x24"
DOCS_TITLE = "Key press to next image painted"


# -- display --------------------------------------------------------------------------------


def start_xvfb() -> subprocess.Popen | None:
    """An Xvfb of our own on a free display number, or None if Xvfb is not installed."""
    if shutil.which("Xvfb") is None:
        return None
    for number in range(77, 120):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        proc = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", SCREEN, "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                os.environ["DISPLAY"] = f":{number}"
                os.environ.pop("QT_QPA_PLATFORM", None)
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.kill()
    return None


def ms(ns: int) -> float:
    return ns / 1e6


# -- the run --------------------------------------------------------------------------------


class Timings:
    """Time spent in named functions of the GUI thread, attributed to the press being handled."""

    def __init__(self) -> None:
        self.current: dict[str, int] | None = None  # per-press totals while a press is open
        self.outside: dict[str, list[int]] = defaultdict(list)  # calls while no press is open
        self.gc_ns = 0

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.perf_counter_ns() - start
                if threading.current_thread() is threading.main_thread():
                    if self.current is not None:
                        self.current[label] = self.current.get(label, 0) + spent
                    else:
                        self.outside[label].append(spent)

        setattr(owner, name, timed)


def run(args: argparse.Namespace) -> dict:
    from PySide6.QtCore import QObject, QRectF, QSettings, Qt, QTimer, Signal
    from PySide6.QtGui import QPainter, QPixmap
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    import aldesk.core.labels as labels_mod
    import aldesk.core.model_store as model_store
    import aldesk.core.queue as queue_mod
    from aldesk.core.imageio import load_image
    from aldesk.gui.main_window import MainWindow
    import aldesk.gui.labeling.prefetch as prefetch_mod
    from aldesk.gui.labeling.prefetch import image_to_qimage

    pump = harness.pump

    log = args.log
    jpegs = ensure_jpegs(args.jpegs, size=args.jpeg_size, log=log)
    CACHE.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="keypress-", dir=CACHE))  # same disk as the JPEGs: hard links
    result: dict = {"workdir": str(workdir), "commit": harness.revision()}  # the code measured
    try:
        project_path, class_of = build_project(workdir, jpegs, args.items, args.labeled, backbone=args.backbone, log=log)
        result["project_bytes"] = project_path.stat().st_size
        app = QApplication.instance() or QApplication(["bench_keypress"])
        result["platform"] = app.platformName()
        result["switch_interval"] = sys.getswitchinterval()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        if args.worker_nice is not None:
            import aldesk.gui.learning.worker as worker_mod
            import aldesk.ml.loop.compute_process as compute_mod

            worker_mod.BACKGROUND_NICE = args.worker_nice  # the worker thread (ALDESK_WORKER=thread)
            compute_mod.CHILD_NICE = args.worker_nice  # the child process that runs the jobs (default)
        settings = QSettings(str(workdir / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, backbone=args.backbone)
        window.resize(*WINDOW)
        window.move(0, 0)
        window.show()
        window.activateWindow()
        QTest.qWaitForWindowExposed(window)
        if not window.open_project(project_path):
            raise RuntimeError(f"the window could not open {project_path}")
        controller = window.controller
        controller.refresh_every = args.refresh_every
        view = window.labeling.image_view

        timings = Timings()
        timings.wrap(labels_mod, "record", "label write")
        timings.wrap(window.session, "label", "session.label (write + next item)")
        timings.wrap(window, "show_current", "show_current")
        timings.wrap(window.presenter, "update_strips", "thumbnail strips")
        timings.wrap(window.presenter, "update_counts", "counts")
        timings.wrap(window.presenter, "show_prediction", "prediction text")
        timings.wrap(model_store, "save_model", "store model (worker result)")
        timings.wrap(queue_mod, "replace_queue", "store queue (worker result)")
        timings.wrap(window, "_load_latest_model", "reload model (worker result)")

        decodes: list[float] = []
        original_decode = prefetch_mod._decode

        def timed_decode(*job):
            start = time.perf_counter_ns()
            try:
                return original_decode(*job)
            finally:
                decodes.append(ms(time.perf_counter_ns() - start))

        prefetch_mod._decode = timed_decode
        gc_start: list[int] = []

        def on_gc(phase: str, _info: dict) -> None:
            if threading.current_thread() is not threading.main_thread():
                return
            if phase == "start":
                gc_start.append(time.perf_counter_ns())
            elif gc_start:
                spent = time.perf_counter_ns() - gc_start.pop()
                if timings.current is not None:
                    timings.current["gc"] = timings.current.get("gc", 0) + spent

        gc.callbacks.append(on_gc)

        # Worker activity: how much of the measured time a refresh was running.
        busy = {"since": None, "total": 0, "refreshes": 0}

        def worker_state(stage: str, _done: int, _total: int) -> None:
            now = time.perf_counter_ns()
            if stage == "idle":
                if busy["since"] is not None:
                    busy["total"] += now - busy["since"]
                    busy["since"] = None
            elif busy["since"] is None:
                busy["since"] = now

        controller.state_changed.connect(worker_state)
        models = []
        controller.model_updated.connect(lambda version, _m: models.append((time.perf_counter_ns(), version)))

        # -- the baseline window: a prepared pixmap of the same size, repainted on demand --------
        side = window.presenter.prefetcher.max_side
        result["side"] = side
        pixmaps = [QPixmap.fromImage(image_to_qimage(load_image(p, max_side=side))) for p in jpegs[:2]]

        class Baseline(QWidget):
            painted = Signal()

            def __init__(self) -> None:
                super().__init__()
                self.index = 0

            def paintEvent(self, _event) -> None:  # noqa: N802
                painter = QPainter(self)
                painter.fillRect(self.rect(), Qt.GlobalColor.darkGray)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                pixmap = pixmaps[self.index]
                scale = min(self.width() / pixmap.width(), self.height() / pixmap.height())
                w, h = pixmap.width() * scale, pixmap.height() * scale
                painter.drawPixmap(QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h), pixmap, QRectF(pixmap.rect()))
                painter.end()
                self.painted.emit()

        baseline = Baseline()
        baseline.setWindowTitle("baseline")
        baseline.resize(view.viewport().size())
        baseline.move(1920 - baseline.width(), 1080 - baseline.height())
        baseline.show()
        QTest.qWaitForWindowExposed(baseline)
        # The presses go to the main window: on Qt's offscreen platform the window shown last (the
        # baseline) became the active one, and a class key's shortcut then did nothing.
        window.activateWindow()
        QTest.qWaitForWindowActive(window, 2000)
        result["viewport"] = (view.viewport().width(), view.viewport().height())

        # -- warm-up: the first model trained and the current image on screen -------------------
        deadline = time.monotonic() + args.warmup_timeout
        if not args.quick:  # a smoke run starts while the worker is still on its first refresh
            log("waiting for the worker's first model ...")
        while not models and not args.quick and time.monotonic() < deadline:
            pump(100)
        if not models and not args.quick:
            raise RuntimeError(f"no model within {args.warmup_timeout} s; the worker is stuck or too slow")
        while view.image is None and time.monotonic() < deadline:
            pump(50)
        pump(500)
        gc.collect()

        # -- measurement -----------------------------------------------------------------------
        class Driver(QObject):
            press = Signal(object)
            swap = Signal(object)

        driver = Driver()
        state: dict = {"open": None}
        records: list[dict] = []
        base_records: list[dict] = []
        done = threading.Event()

        def on_press(message: tuple) -> None:
            t0, key, phase = message
            record = {
                "t0": t0,
                "t_handle": time.perf_counter_ns(),
                "phase": phase,
                "old_key": view.image.cacheKey() if view.image is not None else 0,
                "loading": False,
            }
            wanted = list(window.presenter.prefetcher._wanted)
            timings.current = {}
            record["parts"] = timings.current
            state["open"] = record
            # The QWidget overload: shortcut override + key event, like a real key from the X
            # server. (The QWindow overload also runs processEvents() inside, which would count
            # unrelated queued work as key handling.)
            QTest.keyClick(window.focusWidget() or window, key)
            record["t_key_done"] = time.perf_counter_ns()
            record["loading"] = view.image is None
            new = window.session.current.item_id if window.session.current else None
            # Why a miss: the item was not announced ahead, or it was but not decoded yet.
            record["announced"] = new in wanted
            record["position"] = wanted.index(new) if new in wanted else -1

        def on_view_painted() -> None:
            record = state["open"]
            if record is None or "t_paint" in record:
                return
            image = view.image
            if image is None:
                record["loading"] = True
                return
            if image.cacheKey() == record["old_key"]:
                return
            record["t_paint"] = time.perf_counter_ns()
            QTimer.singleShot(0, lambda: finish(record))

        def finish(record: dict) -> None:
            record["t_frame"] = time.perf_counter_ns()
            timings.current = None
            state["open"] = None
            records.append(record)
            done.set()

        def on_swap(t0: int) -> None:
            state["base"] = {"t0": t0, "t_handle": time.perf_counter_ns()}
            baseline.index = 1 - baseline.index
            baseline.update()

        def on_base_painted() -> None:
            record = state.get("base")
            if record is None:
                return
            record["t_paint"] = time.perf_counter_ns()
            state["base"] = None
            QTimer.singleShot(
                0, lambda: (record.__setitem__("t_frame", time.perf_counter_ns()), base_records.append(record), done.set())
            )

        view.painted.connect(on_view_painted)
        baseline.painted.connect(on_base_painted)
        driver.press.connect(on_press, Qt.ConnectionType.QueuedConnection)
        driver.swap.connect(on_swap, Qt.ConnectionType.QueuedConnection)
        keys = {
            cid: getattr(Qt.Key, f"Key_{hotkey}")
            for cid, hotkey in zip([c.id for c in window.classes], [c.hotkey for c in window.classes])
        }
        rng = random.Random(1)
        failures: list[str] = []

        def wait_done(what: str) -> bool:
            if done.wait(10.0):
                done.clear()
                return True
            failures.append(f"{what}: nothing painted within 10 s")
            return False

        def sender(count: int, phase: str, low: float, high: float) -> None:
            for _ in range(count):
                pace = rng.uniform(low, high)
                # The baseline paint sits inside the pause, well clear of both presses.
                time.sleep(pace * 0.4)
                driver.swap.emit(time.perf_counter_ns())
                wait_done("baseline")
                time.sleep(pace * 0.6)
                item = window.session.current
                key = keys[class_of[item.item_id]] if item is not None else Qt.Key.Key_Space
                driver.press.emit((time.perf_counter_ns(), key, phase))
                if not wait_done(f"press {len(records) + 1}"):
                    return

        def senders() -> None:
            try:
                sender(args.presses, "paced", args.pace[0] / 1000, args.pace[1] / 1000)
                if args.burst:
                    sender(args.burst, "burst", args.burst_pace / 1000, args.burst_pace / 1000)
            finally:
                state["finished"] = True

        log(
            f"pressing {args.presses} keys at {args.pace[0]}-{args.pace[1]} ms"
            + (f", then {args.burst} at {args.burst_pace} ms" if args.burst else "")
            + " ..."
        )
        busy_start = time.perf_counter_ns()
        busy["total"] = 0
        if busy["since"] is not None:
            busy["since"] = busy_start
        refreshes_before = len(models)
        thread = threading.Thread(target=senders, name="bench-sender")
        thread.start()
        while not state.get("finished"):
            pump(20)
        thread.join()
        elapsed = time.perf_counter_ns() - busy_start
        if busy["since"] is not None:
            busy["total"] += time.perf_counter_ns() - busy["since"]
        result["worker_busy"] = busy["total"] / elapsed
        result["models_during"] = len(models) - refreshes_before
        result["elapsed_s"] = elapsed / 1e9
        result["failures"] = failures
        result["decodes"] = decodes
        result["records"] = records
        result["baseline"] = base_records
        result["outside"] = {k: [ms(v) for v in vals] for k, vals in timings.outside.items()}
        gc.callbacks.remove(on_gc)
        labeled = window.session.recent(10**9)
        result["labels_written"] = len(labeled)
        result["child_rss_peak_mib"] = child_peak_rss_mib(controller.worker.child_pid)
        result["worker_mode"] = controller.worker.mode

        window.close()
        baseline.close()
        pump(100)
        result["rss_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["rss_before_window_mib"] = rss_before / 1024
        result["write_costs"] = label_write_costs(project_path, args.write_samples)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def child_peak_rss_mib(pid: int | None) -> float | None:
    """Peak resident memory of the learning process (VmHWM), read while it still runs."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def label_write_costs(path: Path, samples: int) -> dict[str, list[float]]:
    """labels.record alone (no GUI), synchronous=FULL (as the app) and NORMAL, same file."""
    from aldesk.core import labels
    from aldesk.core.store import open_project

    out: dict[str, list[float]] = {}
    with open_project(path) as project:
        open_ids = [r[0] for r in project.conn.execute("SELECT id FROM items WHERE status = 'unlabeled' LIMIT ?", (2 * samples,))]
        class_id = project.conn.execute("SELECT min(id) FROM classes").fetchone()[0]
        for mode, ids in (("FULL", open_ids[:samples]), ("NORMAL", open_ids[samples:])):
            project.conn.execute(f"PRAGMA synchronous = {mode}")
            times = []
            for item_id in ids:
                start = time.perf_counter_ns()
                labels.record(project, item_id, "label", class_id)
                times.append(ms(time.perf_counter_ns() - start))
            out[mode] = times
        # The fsync alone, on a small file in the same folder: the floor of a durable write.
        probe = path.with_name("fsync-probe")
        times = []
        with open(probe, "wb") as handle:
            for _ in range(samples):
                handle.write(b"x" * 512)
                handle.flush()
                start = time.perf_counter_ns()
                os.fsync(handle.fileno())
                times.append(ms(time.perf_counter_ns() - start))
        probe.unlink()
        out["fsync"] = times
    return out


# -- report ---------------------------------------------------------------------------------


def analyse(result: dict) -> dict:
    paced = [r for r in result["records"] if r["phase"] == "paced"]
    burst = [r for r in result["records"] if r["phase"] == "burst"]

    def lat(rs, end):
        return [ms(r[end] - r["t0"]) for r in rs]

    parts: dict[str, list[float]] = defaultdict(list)
    for r in paced:
        for name, ns in r["parts"].items():
            parts[name].append(ms(ns))
    base = result["baseline"]
    return {
        "paint": summary(lat(paced, "t_paint")),
        "frame": summary(lat(paced, "t_frame")),
        "burst_paint": summary(lat(burst, "t_paint")),
        "base_paint": summary(lat(base, "t_paint")),
        "base_frame": summary(lat(base, "t_frame")),
        "queue_wait": summary([ms(r["t_handle"] - r["t0"]) for r in paced]),
        "key_handling": summary([ms(r["t_key_done"] - r["t_handle"]) for r in paced]),
        "to_paint": summary([ms(r["t_paint"] - r["t_key_done"]) for r in paced]),
        "hits": summary([ms(r["t_paint"] - r["t0"]) for r in paced if not r["loading"]]),
        "misses": sum(r["loading"] for r in paced),
        "misses_unannounced": sum(r["loading"] and not r["announced"] for r in paced),
        "decode": summary(result["decodes"]),
        "burst_misses": sum(r["loading"] for r in burst),
        "parts": {k: summary(v) for k, v in parts.items()},
        "parts_n": len(paced),
        "writes": {k: summary(v) for k, v in result["write_costs"].items()},
        "outside": {k: summary(v) for k, v in result["outside"].items()},
        "worst": sorted(paced, key=lambda r: r["t_paint"] - r["t0"])[-5:],
    }


def fmt(s: dict, digits: int = 1) -> str:
    return f"{s['p50']:.{digits}f} / {s['p90']:.{digits}f} / {s['p99']:.{digits}f} / {s['max']:.{digits}f}"


def report(args: argparse.Namespace, result: dict, a: dict) -> str:
    vw, vh = result["viewport"]
    lines = [
        "| what (ms) | n | p50 / p90 / p99 / max |",
        "|---|---:|---|",
        f"| **key press → new image painted** (image view's paintEvent done) | {a['paint']['n']} | **{fmt(a['paint'])}** |",
        f"| key press → frame done (whole window painted and flushed) | {a['frame']['n']} | {fmt(a['frame'])} |",
        f"| baseline: prepared pixmap swapped → painted (no key handling) | {a['base_paint']['n']} | {fmt(a['base_paint'])} |",
        f"| baseline: → frame done | {a['base_frame']['n']} | {fmt(a['base_frame'])} |",
    ]
    if a["burst_paint"]["n"]:
        lines.append(
            f"| burst: key press every {args.burst_pace} ms → new image painted "
            f"| {a['burst_paint']['n']} | {fmt(a['burst_paint'])} |"
        )
    lines += [
        "",
        'Where the time of a paced press goes (GUI thread; "during the press" is everything the GUI '
        "thread ran between the key press and the paint, worker results included):",
        "",
        "| part (ms) | p50 / p90 / p99 / max |",
        "|---|---|",
        f"| waiting for the GUI thread (press posted → handled) | {fmt(a['queue_wait'], 2)} |",
        f"| key handling (shortcut → label written → next item set up) | {fmt(a['key_handling'], 2)} |",
        f"| handled → image view painted | {fmt(a['to_paint'], 2)} |",
    ]
    for name, s in sorted(a["parts"].items(), key=lambda kv: -kv[1]["p99"]):
        note = "" if s["n"] == a["parts_n"] else f" (in {s['n']} presses)"
        lines.append(f"| during the press: {name}{note} | {fmt(s, 2)} |")
    lines += [
        "",
        "The label write on its own (no window; same project file, same run):",
        "",
        "| write (ms) | n | p50 / p90 / p99 / max |",
        "|---|---:|---|",
    ]
    names = {
        "FULL": "`labels.record`, synchronous=FULL (the app's setting before this benchmark)",
        "NORMAL": "`labels.record`, synchronous=NORMAL (the app's setting now; the WAL fsync runs after, off the GUI thread)",
        "fsync": "bare `os.fsync` of a 512-byte append, same folder",
    }
    for key in ("FULL", "NORMAL", "fsync"):
        s = a["writes"][key]
        lines.append(f"| {names[key]} | {s['n']} | {fmt(s, 2)} |")
    if a["outside"]:
        lines += [
            "",
            "GUI-thread work for worker results, outside key presses (a press arriving meanwhile waits for it):",
            "",
            "| part (ms) | n | p50 / p99 / max |",
            "|---|---:|---|",
        ]
        for name, s in sorted(a["outside"].items()):
            lines.append(f"| {name} | {s['n']} | {s['p50']:.1f} / {s['p99']:.1f} / {s['max']:.1f} |")
    return "\n".join(lines)


def docs_body(args: argparse.Namespace, result: dict, a: dict, table: str) -> str:
    import PIL
    import PySide6
    import sqlite3

    commit = result.get("commit") or harness.revision()
    load = harness.load_average()
    vw, vh = result["viewport"]
    ratio = harness.ratio(a["paint"]["p99"], a["base_paint"]["p99"])
    verdict = "met" if a["paint"]["p99"] <= 16 else "NOT met"
    process = result.get("worker_mode", "process") == "process"
    nice = args.worker_nice if args.worker_nice is not None else (10 if process else 5)
    nice_note = (
        (
            "; the app's default is 10, but on this machine full of other jobs a niced worker barely trains, "
            "so this run lets it compete on equal terms"
        )
        if nice == 0
        else ""
    )
    where = (
        f"in the app's child process (nice {nice}{nice_note}), driven by the worker thread"
        if process
        else f"in the worker thread (ALDESK_WORKER=thread, nice {nice}{nice_note})"
    )
    child_rss = result.get("child_rss_peak_mib")
    child_memory = f"; the learning process's own peak RSS {child_rss:.0f} MiB" if child_rss else ""
    store = a["outside"].get("store model (worker result)")
    remains = (
        f"The p99 goal is {verdict}: on this machine the tail is set by waiting for a CPU (the bare-pixmap baseline's "
        f"own p99 is {a['base_paint']['p99']:.0f} ms), so the p99 here says little about a workstation; the median gap "
        f"to the baseline ({a['paint']['p50']:.1f} vs {a['base_paint']['p50']:.1f} ms) is what aldesk adds: key handling "
        f"(p50 {a['key_handling']['p50']:.1f} ms: the strips, the next item's SQL look-ups, the label write) and painting "
        "the rest of the window (strips, labels, status bar) with the image."
    )
    if store and store["n"]:
        remains += (
            f" Storing each worker result still runs in the GUI thread (model + 100,000 predictions: p50 {store['p50']:.0f} ms, "
            f"max {store['max']:.0f} ms over {store['n']} models), timed into the gap 30 ms after a press; a press "
            "less than that store's time later waits for it (at 1,000,000 items a store takes ~1 s: see the "
            "scale section)."
        )
    if a["burst_paint"]["n"]:
        remains += (
            f" In the burst ({args.burst} presses {args.burst_pace} ms apart) the decoders fell behind: "
            f'{a["burst_misses"]} of {a["burst_paint"]["n"]} presses showed "Loading…" first.'
        )
    platform_note = "Xvfb, a real X server" if result["platform"] == "xcb" else "no X server"
    jpeg_size = getattr(args, "jpeg_size", (4000, 3000))  # a --save file from before the option has none
    hits = a["hits"]
    return f"""Command (from the repository root): `{args.command}`  
Date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; aldesk at commit {commit} (plus the working tree of this run)  
{harness.machine_summary()}; Qt platform `{result["platform"]}` ({platform_note}); Python {platform.python_version()}, PySide6 {PySide6.__version__}, Pillow {PIL.__version__}, SQLite {sqlite3.sqlite_version}  
Load average (1, 5, 15 min) at the end: {load} (this benchmark's own threads count: the app, its decoders and
the training worker). Every figure below includes waiting for a CPU and for the GIL; the same-run baseline shows how much.

**Setup.** {args.items:,} items on {args.jpegs} distinct {jpeg_size[0]}x{jpeg_size[1]} JPEGs (photo-like, quality 90, ~4 MB, cached
under `~/.cache/aldesk/bench`; imported with aldesk's importer, the other items are hard links inserted as item
rows in bulk, because the importer dedupes by SHA-256 and would refuse copies). Synthetic clustered embeddings
stored under the default backbone's identity (so the worker trains instead of embedding), {args.labeled} labels
given up front. Window {WINDOW[0]}x{WINDOW[1]}, image view {vw}x{vh}; the prefetcher decodes for the screen's long
side ({result["side"]} px), which for these JPEGs is the 1/2 draft scale (2000x1500) with no resampling.
**Training in the background: the app's real LearningWorker** (not a stand-in), its controller set to refresh
after every {args.refresh_every} label(s) so a refresh is always running or pending: busy {result["worker_busy"]:.0%}
of the measured time; {result["models_during"]} models were trained {where} and stored by the GUI thread during
the presses. {args.presses} presses of the item's
class key, one every {args.pace[0]}-{args.pace[1]} ms (uniform; a fast expert), each after the previous image was
painted; the baseline swap sits in the pause between presses. Python's GIL switch interval:
{result.get("switch_interval", 0.005) * 1000:g} ms.
**Clock:** `time.perf_counter_ns`, started in a sender thread just before the press is posted to the GUI thread
(so time the GUI thread is busy elsewhere counts), which delivers it with `QTest.keyClick` on the focus widget
(shortcut override, shortcut map, QAction: as a key from the X server goes); stopped at the end of the image view's
`paintEvent` for the new item's image (`ImageView.painted`). "Frame done" adds painting the rest of the window and
flushing it to the X server. **Baseline** (same run, same load): a separate window of the image view's size swaps
in an already prepared QPixmap of the same pixel size and repaints it, timed the same way.
**Memory:** peak RSS of the window's process {result["rss_peak_mib"]:.0f} MiB ({result["rss_before_window_mib"]:.0f} MiB
before the window opened: torch and the backbone loaded to build the project; then the prefetch cache, up to
512 MiB of decoded images){child_memory}.

**Goal p99 ≤ 16 ms: {verdict}.** Key press → new image painted: p50 {a["paint"]["p50"]:.1f} ms, p99
{a["paint"]["p99"]:.1f} ms ({ratio:.1f}x the baseline's p99 in the same run). Prefetch misses (the next image not
decoded yet, "Loading…" painted first): {a["misses"]} of {a["paint"]["n"]} paced presses ({a["misses_unannounced"]} of
them items the prefetcher had not been told about ahead); decodes in the prefetch threads took p50
{a["decode"]["p50"]:.0f} ms, p90 {a["decode"]["p90"]:.0f} ms, p99 {a["decode"]["p99"]:.0f} ms here. Presses whose image
was ready (n = {hits["n"]}): p50 {hits["p50"]:.1f} ms, p90 {hits["p90"]:.1f} ms, p99 {hits["p99"]:.1f} ms.

{table}

**What was changed to get here** (found with this benchmark in `--quick` runs; each a commit of its own):
- The learning jobs run in a child process (`aldesk/ml/loop/compute_process.py`, spawned, nice 10), not in a thread
  of the window's process. In a thread, the training's plain-Python parts held the GIL for milliseconds at a time
  and the GUI thread waited for it after every Qt call: the last in-thread run on a quiet machine had p99 85.9 ms
  (58.5 ms with one torch thread), with presses spending 35-57 ms in code that takes 1-2 ms otherwise.
- A refresh result (a model with 100,000 predictions, ~70 ms to store) is stored 30 ms after the next press, once
  its image is painted, or after 500 ms without a press, instead of whenever it arrived; the window takes the new
  predictions from the result instead of reading them back.
- A press paints the next image first: the prefetch requests, strips and counts follow in a call posted behind
  the repaint; thumbnails arriving from the decoders update the strips once per 30 ms instead of once each.
- WAL checkpoints run in the WAL-sync thread (PASSIVE, through its own connection, once the WAL passes 4 MB);
  SQLite's automatic checkpoint, with its fsyncs, ran inside whichever commit crossed 1,000 pages, possibly a
  label's (one label commit took 229 ms in an earlier run; cause not confirmed).
- The label write: `synchronous=FULL` fsynced the WAL inside every label's COMMIT (the FULL row of the
  write table above: up to tens of milliseconds here, more than a frame). Projects now commit with `synchronous=NORMAL`
  (a commit is a write() into the WAL: it survives a killed process, `tests/core/test_crash.py` still passes) and a
  background thread fsyncs the WAL right after each commit (`aldesk/core/wal_sync.py`), so a power cut loses at most
  the last few milliseconds of labels and never the file's consistency.
- Prefetch: a new queue from the worker replaced the next items, whose images were already decoded
  (`LabelingSession.keep_next`, 3 in the window, keeps them), and audit items (1 in 10) were drawn when shown, never
  announced (`upcoming()` now replays `advance()`). JPEGs are decoded at their draft scale without the LANCZOS
  step to the exact screen size (it cost more than the decode itself), and in one read instead of 64 KiB blocks
  that each had to win the GIL back from the training thread (2-3x slower decodes).
- Per key press the strips rebuilt every row and rescaled every thumbnail, and every class button re-set its style
  sheet; now rows are updated in place with cached icons and the style is set once.

**What remains.** {remains}
"""


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=500)
    parser.add_argument("--jpegs", type=int, default=300, help="distinct 12 MP JPEGs (cached)")
    parser.add_argument(
        "--jpeg-size",
        type=lambda s: tuple(int(x) for x in s.split("x")),
        default=(4000, 3000),
        help="their size, WxH (default 4000x3000)",
    )
    parser.add_argument("--labeled", type=int, default=300, help="labels given before the run")
    parser.add_argument(
        "--pace",
        type=lambda s: tuple(int(x) for x in s.split("-")),
        default=(150, 300),
        help="ms between presses, LOW-HIGH (default 150-300)",
    )
    parser.add_argument("--burst", type=int, default=0, help="presses at --burst-pace after the paced ones")
    parser.add_argument("--burst-pace", type=int, default=60)
    parser.add_argument("--refresh-every", type=int, default=1, help="labels per background refresh")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=None,
        help="niceness of the learning process (default: the app's, 10); 0 makes training compete "
        "with the GUI and the decoders on equal terms (a machine full of other jobs starves a niced worker)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval in seconds for this run (Python's default 0.005)",
    )
    parser.add_argument("--backbone", default=None, help="the worker's backbone (default: the app's default)")
    parser.add_argument("--write-samples", type=int, default=200)
    parser.add_argument("--warmup-timeout", type=float, default=600)
    parser.add_argument("--quick", action="store_true", help="small smoke run, under a minute once the JPEGs are cached")
    parser.add_argument("--offscreen", action="store_true", help="Qt's offscreen platform instead of Xvfb")
    parser.add_argument("--keep", action="store_true", help="keep the project folder")
    parser.add_argument("--save", type=Path, help="also pickle the raw measurements to this file")
    parser.add_argument("--from-saved", type=Path, help="report (and --write-docs) from a --save file, no run")
    args = harness.parse(
        parser,
        smoke={
            "quick": True,
            "offscreen": True,
            "items": 60,
            "presses": 3,
            "jpegs": 2,
            "jpeg_size": (400, 300),
            "labeled": 20,
            "write_samples": 3,
            "backbone": "pixels",
        },
    )
    if args.quick:
        args.items = min(args.items, 2000)
        args.presses = min(args.presses, 40)
        args.jpegs = min(args.jpegs, 12)
        args.labeled = min(args.labeled, 100)
        args.write_samples = min(args.write_samples, 30)
    args.command = harness.command()
    args.log = lambda text: print(text, flush=True)

    if args.from_saved:
        import pickle

        saved_args, result = pickle.loads(args.from_saved.read_bytes())
        saved_args.write_docs, saved_args.log = args.write_docs, args.log
        return finish(saved_args, result)
    xvfb = None
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not os.environ.get("DISPLAY"):
        xvfb = start_xvfb()
        if xvfb is None:
            print("Xvfb not found: using Qt's offscreen platform", flush=True)
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    try:
        result = run(args)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    if args.save:
        import pickle

        log = args.log
        args.log = None
        args.save.write_bytes(pickle.dumps((args, result)))
        args.log = log
    finish(args, result)


def finish(args: argparse.Namespace, result: dict) -> None:
    a = analyse(result)
    table = report(args, result, a)
    print(table)
    print(
        f"\nprefetch misses {a['misses']}/{a['paint']['n']} ({a['misses_unannounced']} not announced ahead); "
        f"decode (worker thread) ms p50/p90/p99/max {fmt(a['decode'], 0)} over {a['decode']['n']}; worker busy {result['worker_busy']:.0%}, "
        f"{result['models_during']} models; peak RSS {result['rss_peak_mib']:.0f} MiB; "
        f"(before the window {result['rss_before_window_mib']:.0f} MiB); {result['labels_written']} labels; failures: {result['failures'] or 'none'}"
    )
    for r in a["worst"]:
        parts = ", ".join(f"{k} {ms(v):.1f}" for k, v in sorted(r["parts"].items(), key=lambda kv: -kv[1]))
        print(
            f"  slow press: {ms(r['t_paint'] - r['t0']):.1f} ms (wait {ms(r['t_handle'] - r['t0']):.1f}, "
            f"keys {ms(r['t_key_done'] - r['t_handle']):.1f}, paint {ms(r['t_paint'] - r['t_key_done']):.1f}; "
            f"loading {r['loading']}, announced at {r['position']}): {parts}"
        )
    if result["failures"]:
        sys.exit("some presses were never painted: " + "; ".join(result["failures"][:5]))
    if args.write_docs:
        harness.write_section(
            DOCS_TITLE,
            docs_body(args, result, a, table),
            command_line=args.command,
            rows={
                "Key press to next image painted": (
                    f"p99 {a['paint']['p99']:.1f} ms, p50 {a['paint']['p50']:.1f} ms ({args.items:,} items)",
                    f"{harness.ratio(a['paint']['p99'], a['base_paint']['p99']):.1f}x the bare-pixmap baseline's p99",
                )
            },
        )


if __name__ == "__main__":
    main()
