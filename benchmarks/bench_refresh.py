"""How long one refresh takes: new labels -> retrain + rescore + pick 20, on cached embeddings.

    PYTHONPATH=. python benchmarks/bench_refresh.py --sizes 100000,1000000 --repeats 5 --write-docs

The pool is synthetic: 1,280-d float16 vectors around 10 class centres (the shape of
EfficientNet-Lite0 features), with 500 labeled items. Each size reports the one-off pool
preparation (projection + k-NN graph, done once per embedding set and kept by the worker) and
the median of ``--repeats`` refreshes, each after 10 new labels with a warm start, as the app
does. The baseline in the same run is the plain supervised head doing the same refresh.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import torch

from aldesk.ml.device import configure_cpu_threads
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.loop.round import RoundResult, RoundSettings, run_round
from aldesk.ml.loop.snapshot import Snapshot
from benchmarks import harness

DIM = 1280
CLASSES = 10


def synthetic_pool(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, size=(CLASSES, DIM)).astype(np.float32)
    y = rng.integers(0, CLASSES, n)
    x = np.empty((n, DIM), dtype=np.float16)
    step = 100_000
    for start in range(0, n, step):
        stop = min(start + step, n)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32) * 1.5
        x[start:stop] = centres[y[start:stop]] + noise
    return x, y


def refresh(
    pool: PoolModel,
    labeled: np.ndarray,
    y: np.ndarray,
    eligible: np.ndarray,
    n_classes: int,
    *,
    n: int = 20,
    head: str = "default",
    init=None,
    rng=None,
) -> RoundResult:
    """The app's round on labels held in memory: train, score the pool, pick ``n``."""
    snapshot = Snapshot.in_memory(pool.size, labeled, y, eligible, n_classes, previous=init)
    result = run_round(snapshot, pool, RoundSettings(head=head, queue_length=n), rng=rng)
    assert result is not None and result.train is not None
    return result


def time_refreshes(pool: PoolModel, y_true: np.ndarray, head: str, repeats: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    labeled = rng.choice(pool.size, 500, replace=False)
    eligible = np.ones(pool.size, dtype=bool)
    eligible[labeled] = False
    init = None
    # One untimed refresh: the warm start and the lazily built graph exist from then on.
    result = refresh(pool, labeled, y_true[labeled], eligible, CLASSES, head=head, init=init, rng=rng)
    init = result.train.head
    times = []
    for _ in range(repeats):
        new = rng.choice(np.flatnonzero(eligible), 10, replace=False)
        labeled = np.concatenate([labeled, new])
        eligible[new] = False
        start = time.perf_counter()
        result = refresh(pool, labeled, y_true[labeled], eligible, CLASSES, n=20, head=head, init=init, rng=rng)
        times.append(time.perf_counter() - start)
        init = result.train.head
        assert result.selection is not None and len(result.selection.indices) == 20
    return times


def time_recalibrating_refresh(pool: PoolModel, y_true: np.ndarray, seed: int = 0) -> float:
    """One app-head refresh that also refits its temperature (three out-of-fold fits of the app
    head): the app does this when the labels have grown by a quarter since the last time."""
    rng = np.random.default_rng(seed)
    labeled = rng.choice(pool.size, 510, replace=False)
    eligible = np.ones(pool.size, dtype=bool)
    eligible[labeled] = False
    first = refresh(pool, labeled[:500], y_true[labeled[:500]], eligible, CLASSES, rng=rng)
    first.train.head.calibrated_at = 1  # as if the last calibration was long ago
    start = time.perf_counter()
    result = refresh(pool, labeled, y_true[labeled], eligible, CLASSES, n=20, init=first.train.head, rng=rng)
    seconds = time.perf_counter() - start
    assert result.train.head.calibrated_at == len(labeled)
    return seconds


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=5)
    args = harness.parse(parser, smoke={"sizes": "600", "repeats": 1})
    threads = configure_cpu_threads()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        x, y = synthetic_pool(n)
        start = time.perf_counter()
        pool = PoolModel.build(x)
        pool.graph()
        prepare = time.perf_counter() - start
        app = time_refreshes(pool, y, "default", args.repeats)
        plain = time_refreshes(pool, y, "plain", args.repeats)
        recalibrating = time_recalibrating_refresh(pool, y)
        row = (n, prepare, harness.median(app), max(app), harness.median(plain), recalibrating)
        rows.append(row)
        print(
            f"{n:>9,} items: prepare {prepare:.1f} s; refresh median {row[2]:.2f} s (max {row[3]:.2f}); "
            f"plain head {row[4]:.2f} s; ratio {harness.ratio(row[2], row[4]):.2f}; recalibrating {row[5]:.2f} s",
            flush=True,
        )
        del pool, x
    table = [
        "| pool | one-off preparation (s) | refresh, app head: median (max) s | refresh, plain head: median s "
        "| app / plain | app-head refresh that recalibrates (s) |",
        "|---|---|---|---|---|---|",
    ]
    for n, prepare, median, worst, plain, recal in rows:
        table.append(
            f"| {n:,} | {prepare:.1f} | {median:.2f} ({worst:.2f}) | {plain:.2f} | {harness.ratio(median, plain):.2f} "
            f"| {recal:.2f} |"
        )
    text = "\n".join(table)
    print(text)
    if args.write_docs:
        command = harness.command()
        body = (
            f"Command: `{command}`\n\n{harness.machine_summary()}; torch {torch.__version__}, {threads} threads, "
            f"Python {platform.python_version()}.\n\n"
            "Synthetic 1,280-d float16 embeddings (10 clusters), 500 labels, then refreshes of 10 new "
            "labels each: retrain with warm start + calibration, rescore the whole pool, pick 20 "
            f"(default strategy). Median of {args.repeats} refreshes. Preparation (PCA projection of the "
            "pool and the k-NN graph over at most 20,000 anchors) happens once per embedding set and is "
            "kept by the background worker between refreshes. The app head refits its temperature "
            "(three out-of-fold fits of itself) only when the labels have grown by a quarter since the "
            "last time, so most refreshes reuse it; the last column times one that refits it. "
            f"Load average when the run ended: {os.getloadavg()[0]:.1f} (other jobs on the machine).\n\n" + text + "\n"
        )
        harness.write_section(
            "Refresh speed (retrain + rescore + pick 20)",
            body,
            command_line=command,
            rows={
                f"Refresh (retrain + rescore + pick 20), {n:,} items": (
                    f"{median:.2f} s median",
                    f"{harness.ratio(median, plain):.2f}x the plain head's refresh",
                )
                for n, _prepare, median, _worst, plain, _recal in rows
            },
        )


if __name__ == "__main__":
    main()
