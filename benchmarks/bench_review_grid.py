"""Is the review grid smooth with 100,000 labeled items of one class?

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python benchmarks/bench_review_grid.py --items 100000

Builds a project whose items are symbolic links to 200 small PNGs (so import costs nothing),
all labeled with one class, then times in the GUI thread: loading the grid (query + model reset
+ layout), jumping to the end and painting, a page of arrow-key moves, and a relabeling key press
(label event committed + tile repainted). Prints medians; GUI work per key press should stay well
under a 16 ms frame.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from aldesk.core.classes import add_classes  # noqa: E402
from aldesk.core.store import create_project  # noqa: E402
from aldesk.gui.review_view import ReviewView  # noqa: E402


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
        conn.executemany("INSERT INTO items(path, sha256, bytes, width, height, added_at, status,"
                         " label_class_id, labeled_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    return project, cat.id, dog.id


def settle(app: QApplication, seconds: float = 0.0) -> None:
    end = time.perf_counter() + seconds
    app.processEvents()
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=30)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        project, cat, dog = build(Path(tmp), args.items)
        view = ReviewView(project)
        view.resize(1280, 800)
        view.show()
        view.grid.setFocus()
        settle(app, 0.2)

        start = time.perf_counter()
        view.set_class(cat)
        view.grid.repaint()
        load = time.perf_counter() - start

        start = time.perf_counter()
        view.grid.scrollToBottom()
        view.grid.repaint()
        jump = time.perf_counter() - start
        settle(app, 1.0)  # thumbnails of the visible tiles arrive
        view.grid.scrollToTop()
        settle(app, 0.5)

        arrows, relabels = [], []
        for _ in range(args.presses):
            start = time.perf_counter()
            QTest.keyClick(view.grid, Qt.Key.Key_Right)
            view.grid.repaint()
            arrows.append(time.perf_counter() - start)
        for _ in range(args.presses):
            start = time.perf_counter()
            QTest.keyClick(view.grid, Qt.Key.Key_2)
            view.grid.repaint()
            relabels.append(time.perf_counter() - start)
            settle(app, 0.01)
        loaded = len(view.loader)
        view.shutdown()
        project.close()
    ms = lambda values: f"{1000 * statistics.median(values):.1f} ms (max {1000 * max(values):.1f})"  # noqa: E731
    print(f"{args.items:,} items of one class: load grid {load:.2f} s, jump to end + paint {1000 * jump:.0f} ms")
    print(f"arrow key + repaint: median {ms(arrows)}; relabel key (event committed) + repaint: median {ms(relabels)}")
    print(f"thumbnails decoded and cached: {loaded}")


if __name__ == "__main__":
    main()
