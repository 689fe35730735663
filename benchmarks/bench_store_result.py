"""Storing a refresh result at a million items: what the GUI thread spends, and what a key press waits.

    PYTHONPATH=. python benchmarks/bench_store_result.py --items 1000000 --classes 10 --repeats 5 --write-docs

A result's model comes with predictions for every item (float16 [N, K] plus int64 ids: 28 MB at
1M x 10). Baseline, in the same run: ``model_store.save_model`` on the project's own connection,
which is what the GUI thread did before (then as one row; now the same bytes in chunk rows).
The app now (aldesk/gui/controller.py): the GUI thread reserves a version, a thread writes the
chunks through a second connection (aldesk/gui/prediction_writer.py), the GUI thread adds the
model's row. Meanwhile this script commits a label every 20 ms on the project's connection,
as a fast labeler would, and times each commit (a label waits while a chunk is being written);
the same commits with no write running are their baseline. Synthetic ids and probabilities in a
fresh project in a temporary folder; medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aldesk.core import model_store  # noqa: E402
from aldesk.core.classes import add_classes  # noqa: E402
from aldesk.core.labels import record  # noqa: E402
from aldesk.core.store import create_project, second_connection  # noqa: E402
from benchmarks.docs import keep_open_problems_last, machine_summary, replace_section  # noqa: E402
from tests.conftest import add_bare_items  # noqa: E402

SECTION = "Storing a refresh result (GUI thread)"
LABEL_EVERY = 0.02


def _model(n_classes: int) -> dict:
    return dict(set_id=1, head="default", n_labels=100, class_ids=list(range(1, n_classes + 1)), params=b"x" * 2000,
                metrics={"head": "default"})


def _label_while(project, items, class_id, busy: threading.Event | None) -> list[float]:
    """Commit labels every LABEL_EVERY s while ``busy`` is set (or 40 of them); each commit's time."""
    times, k = [], 0
    while (busy is not None and busy.is_set()) or (busy is None and k < 40):
        start = time.perf_counter()
        record(project, items[k % len(items)], "label", class_id)
        times.append(time.perf_counter() - start)
        k += 1
        time.sleep(LABEL_EVERY)
    return times


def run(items: int, n_classes: int, repeats: int) -> dict:
    ids = np.arange(1, items + 1, dtype=np.int64)
    probs = np.random.default_rng(0).random((items, n_classes)).astype(np.float32)
    out = {"inline": [], "gui": [], "write": [], "label_during": [], "label_quiet": []}
    with tempfile.TemporaryDirectory() as folder, create_project(Path(folder) / "s.aldesk") as project:
        with project.transaction() as conn:
            conn.execute("INSERT INTO embedding_sets(id, backbone, identity, dim, created_at) VALUES (1, 'b', 'b', 2, 0)")
        (label_class,) = add_classes(project, ["a"])
        label_items = add_bare_items(project, 200)
        for _ in range(repeats):
            start = time.perf_counter()
            model_store.save_model(project, item_ids=ids, probs=probs, **_model(n_classes))
            out["inline"].append(time.perf_counter() - start)

            start = time.perf_counter()
            version = model_store.reserve_version(project)
            gui = time.perf_counter() - start
            busy = threading.Event()
            busy.set()
            written = {}

            def write() -> None:
                begin = time.perf_counter()
                writer = second_connection(project)
                try:
                    model_store.write_predictions(writer, version, ids, probs, n_classes)
                finally:
                    writer.close()
                    written["seconds"] = time.perf_counter() - begin
                    busy.clear()

            thread = threading.Thread(target=write)
            thread.start()
            out["label_during"] += _label_while(project, label_items, label_class.id, busy)
            thread.join()
            start = time.perf_counter()
            model_store.commit_model(project, version, **_model(n_classes))
            out["gui"].append(gui + time.perf_counter() - start)
            out["write"].append(written["seconds"])
            out["label_quiet"] += _label_while(project, label_items, label_class.id, None)
    return out


def report(r: dict, args: argparse.Namespace) -> str:
    ms = lambda values: statistics.median(values) * 1000  # noqa: E731
    mb = args.items * (8 + 2 * args.classes) / 1e6
    return "\n".join([
        "```sh", f"PYTHONPATH=. python benchmarks/bench_store_result.py --items {args.items} --classes {args.classes} "
        f"--repeats {args.repeats} --write-docs", "```", "",
        f"{machine_summary()}. {args.items:,} items x {args.classes} classes ({mb:.0f} MB of predictions per model), "
        f"chunks of {model_store.PREDICTION_CHUNK_ROWS:,} items; medians of {args.repeats} (max in brackets).", "",
        "| | GUI thread per result | written by a thread | label commit while writing: median (max) | label commit, no write: median (max) |",
        "|---|---|---|---|---|",
        f"| baseline: everything on the GUI thread | **{ms(r['inline']):.0f} ms** ({max(r['inline']) * 1000:.0f}) | – | "
        "– (the window does not respond) | – |",
        f"| the app: predictions by a thread, model row by the GUI thread | **{ms(r['gui']):.1f} ms** "
        f"({max(r['gui']) * 1000:.1f}) | {ms(r['write']):.0f} ms | {ms(r['label_during']):.1f} ms "
        f"({max(r['label_during']) * 1000:.1f}) | {ms(r['label_quiet']):.1f} ms ({max(r['label_quiet']) * 1000:.1f}) |",
        "",
        f"Ratio, GUI thread: {statistics.median(r['gui']) / statistics.median(r['inline']):.3f}. A label committed while "
        "a chunk is being written waits for that chunk's transaction: that is the max column.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    result = run(args.items, args.classes, args.repeats)
    text = report(result, args)
    print(text)
    if args.write_docs:
        replace_section(SECTION, text)
        keep_open_problems_last()


if __name__ == "__main__":
    main()
