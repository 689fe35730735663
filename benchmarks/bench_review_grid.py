"""Is the review grid smooth with 100,000 labeled items of one class?

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python benchmarks/bench_review_grid.py --items 100000
    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python benchmarks/bench_review_grid.py --scale 1000000 --write-docs

``--scale N`` uses the cached N-item project of bench_scale_data.py instead (its class0 holds
~100,000 of the 1,000,000 items' labels) and also times scrolling a page at a time (Page Down +
repaint). Then, for the thumbnail disk cache: decoding one tile from a 1600x1200 JPEG against
reading it back from the cache (aldesk/core/thumb_cache.py), ``--jpegs`` files each.

Builds a project whose items are symbolic links to 200 small PNGs (so import costs nothing),
all labeled with one class, then times in the GUI thread: loading the grid (query + model reset
+ layout), jumping to the end and painting, a page of arrow-key moves, and a relabeling key press
(label event committed + tile repainted). Prints medians; GUI work per key press should stay well
under a 16 ms frame.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from aldesk.core.classes import add_classes
from aldesk.core.store import create_project, open_project
from aldesk.core.thumb_cache import ThumbnailDiskCache
from aldesk.gui.review.review_view import ReviewView
from aldesk.gui.review.thumbnails import ThumbnailLoader
from benchmarks import harness

TITLE = "Review grid at scale"


def build(folder: Path, n: int):
    images = folder / "imgs"
    images.mkdir()
    for i in range(200):
        Image.new("RGB", (28, 28), (i, 255 - i, (7 * i) % 256)).save(images / f"src{i}.png")
    project = create_project(folder / "big.aldesk")
    cat, dog = add_classes(project, ["cat", "dog"], ["1", "2"])
    rows = []
    for i in range(n):
        link = images / f"{i}.png"
        link.symlink_to(images / f"src{i % 200}.png")
        rows.append((f"imgs/{i}.png", f"h{i}", 1, 28, 28, 0.0, "labeled", cat.id, 0.0))
    with project.transaction() as conn:
        conn.executemany(
            "INSERT INTO items(path, sha256, bytes, width, height, added_at, status,"
            " label_class_id, labeled_at) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
    return project, cat.id, dog.id


def settle(app: QApplication, seconds: float = 0.0) -> None:
    end = time.perf_counter() + seconds
    app.processEvents()
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)


def open_scale(items: int, smoke: bool = False):
    from benchmarks.bench_scale_data import SMOKE_LABELS_PER_CLASS, ensure_scale_project

    project = open_project(ensure_scale_project(items, **({"labels_per_class": SMOKE_LABELS_PER_CLASS} if smoke else {})))
    big, count = project.conn.execute(
        "SELECT label_class_id, count(*) FROM items WHERE status = 'labeled' GROUP BY label_class_id"
        " ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    other = project.conn.execute("SELECT id FROM classes WHERE id != ? ORDER BY id LIMIT 1", (big,)).fetchone()[0]
    return project, big, other, count


def disk_cache_decode(count: int) -> tuple[list[float], list[float]]:
    """Per-tile decode from a 1600x1200 JPEG vs from the thumbnail disk cache (seconds)."""
    import numpy as np

    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        cache = ThumbnailDiskCache(Path(tmp) / "cache")
        loader = ThumbnailLoader(side=96, disk_cache=cache)
        rng = np.random.default_rng(0)
        for i in range(count):
            path = Path(tmp) / f"{i}.jpg"
            small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            Image.fromarray(small).resize((1600, 1200), Image.Resampling.BILINEAR).save(path, quality=90)
            sha = f"{i:064x}"
            start = time.perf_counter()
            loader._decode(path, sha)  # noqa: SLF001 - the decode thread's work, timed alone
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            loader._decode(path, sha)  # noqa: SLF001
            warm.append(time.perf_counter() - start)
        loader.shutdown()
    return cold, warm


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--scale", type=int, default=0, help="use bench_scale_data's project of this many items")
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--jpegs", type=int, default=40)
    args = harness.parse(parser, smoke={"items": 200, "presses": 2, "jpegs": 2})
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        if args.scale:
            project, cat, dog, shown = open_scale(args.scale, args.smoke)
            total = args.scale
        else:
            project, cat, dog = build(Path(tmp), args.items)
            shown = total = args.items
        start = time.perf_counter()
        view = ReviewView(project)
        construct = time.perf_counter() - start
        view.resize(1280, 800)
        view.show()
        view.grid.setFocus()
        settle(app, 0.2)

        start = time.perf_counter()
        view.set_class(cat)
        view.grid.repaint()
        load = time.perf_counter() - start
        # The grid lays rows out in batches between events (the window stays responsive): wait
        # until the scroll range stops growing, i.e. every row has its place.
        bar = view.grid.verticalScrollBar()
        last, stable = -1, 0
        while stable < 20 and time.perf_counter() - start < 60:
            app.processEvents()
            stable = stable + 1 if bar.maximum() == last else 0
            last = bar.maximum()
            time.sleep(0.002)
        laid_out = time.perf_counter() - start - 0.002 * 20

        start = time.perf_counter()
        view.grid.scrollToBottom()
        view.grid.repaint()
        jump = time.perf_counter() - start
        requested = view.loader.pending
        start = time.perf_counter()
        while view.loader.pending and time.perf_counter() - start < 10:
            settle(app, 0.01)
        filled = time.perf_counter() - start  # the visible tiles' thumbnails decoded and shown
        view.grid.scrollToTop()
        settle(app, 0.5)

        arrows, relabels, pages = [], [], []
        for _ in range(args.presses):
            start = time.perf_counter()
            QTest.keyClick(view.grid, Qt.Key.Key_PageDown)
            view.grid.repaint()
            pages.append(time.perf_counter() - start)
            settle(app, 0.02)
        for _ in range(args.presses):
            start = time.perf_counter()
            QTest.keyClick(view.grid, Qt.Key.Key_Right)
            view.grid.repaint()
            arrows.append(time.perf_counter() - start)
        if not args.scale:  # the cached scale project is not relabeled
            for _ in range(args.presses):
                start = time.perf_counter()
                QTest.keyClick(view.grid, Qt.Key.Key_2)
                view.grid.repaint()
                relabels.append(time.perf_counter() - start)
                settle(app, 0.01)
        loaded = len(view.loader)
        view.shutdown()
        project.close()
    cold, warm = disk_cache_decode(args.jpegs)
    ms = lambda values: f"{1000 * harness.median(values):.1f} ms (max {1000 * max(values):.1f})"  # noqa: E731
    lines = [
        f"- {shown:,} items of one class in a project of {total:,}: open the review view {construct:.2f} s, "
        f"load the class into the grid (query + model reset + layout + paint) {load:.2f} s, "
        f"every row laid out (in batches, the window responsive meanwhile) {laid_out:.2f} s; "
        f"jump to the end + paint {1000 * jump:.0f} ms, its {requested} visible thumbnails decoded and shown "
        f"{1000 * filled:.0f} ms later",
        f"- Page Down + repaint (one screen of tiles, placeholders until decoded): median {ms(pages)}",
        f"- arrow key + repaint: median {ms(arrows)}"
        + (f"; relabel key (event committed) + repaint: median {ms(relabels)}" if relabels else ""),
        f"- thumbnails decoded and cached in memory during the run: {loaded}",
        f"- thumbnail of a 1600x1200 JPEG, decoded: median {ms(cold)}; read back from the disk cache: "
        f"median {ms(warm)} ({harness.ratio(harness.median(cold), harness.median(warm)):.0f}x faster; {len(cold)} files)",
    ]
    print("\n".join(lines))
    if args.write_docs:
        command = harness.command("QT_QPA_PLATFORM=offscreen PYTHONPATH=. python")
        harness.write_section(
            TITLE,
            f"Command: `{command}`\n\n{harness.machine_summary()}; load average "
            f"{os.getloadavg()[0]:.1f} at the end. GUI-thread times, offscreen Qt; a frame is 16 ms.\n\n"
            + "\n".join(lines)
            + "\n",
            command_line=command,
            rows={
                f"Review grid, {shown:,} tiles: Page Down + repaint": (
                    f"{1000 * harness.median(pages):.1f} ms median (arrow key {1000 * harness.median(arrows):.1f} ms)",
                    f"thumbnail from the disk cache {harness.ratio(harness.median(cold), harness.median(warm)):.0f}x "
                    "faster than decoding it",
                )
            },
        )


if __name__ == "__main__":
    main()
