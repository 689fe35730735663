"""What capping the labeled items outside the graph's sample (engine.GRAPH_EXTRA_MAX) costs the app head.

    PYTHONPATH=. python benchmarks/bench_graph_cap.py --seeds 5 --write-docs

On a large pool the app head's label propagation runs over a sample of GRAPH_MAX = 20,000 items;
labeled items outside it join as extra seeds, at most GRAPH_EXTRA_MAX = 20,000 of them. At the
scale benchmark (1M items, 117,884 labels) that keeps 20,000 of ~115,000 (ratio 5.75). Pools
here with real labels are small, so the same ratio is reproduced on the Fashion-MNIST pool
(10,000 Lite0 embeddings, cached by ``aldesk simulate``): a graph sample of 2,000 items, random
labels, and a cap of (labels outside the sample) / 5.75. Measured: accuracy of the app head
(no temperature fit) on every unlabeled item, with the cap and without, same seeds and labels.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aldesk.ml.loop import pool as engine  # noqa: E402
from aldesk.ml.device import configure_cpu_threads  # noqa: E402
from benchmarks.bench_suspects import load_pool  # noqa: E402
from benchmarks.docs import keep_open_problems_last, machine_summary, replace_section  # noqa: E402

SECTION = "Capped graph seeds (app head at scale)"
GRAPH_SAMPLE = 2_000
RATIO = 115_000 / 20_000  # labeled items outside the sample : cap, at the scale benchmark


def accuracy(pool: engine.PoolModel, y: np.ndarray, labeled: np.ndarray, cap: int | None) -> float:
    engine.GRAPH_EXTRA_MAX = cap if cap is not None else len(y)
    model, _ = engine.train_head(pool, labeled, y[labeled], 10, calibrate=False)
    rest = np.setdiff1d(np.arange(len(y)), labeled)
    predicted = model.logits(pool.z[torch.from_numpy(rest)]).argmax(1).numpy()
    return float((predicted == y[rest]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--labels", default="1000,4000")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    configure_cpu_threads()
    x, y = load_pool("fashion-mnist")
    pool = engine.PoolModel.build(x, graph_max=GRAPH_SAMPLE)
    rows = []
    for n_labels in (int(n) for n in args.labels.split(",")):
        full, capped, caps = [], [], []
        for seed in range(args.seeds):
            labeled = np.sort(np.random.default_rng(seed).choice(len(y), n_labels, replace=False))
            outside = int((~np.isin(labeled, pool.anchors)).sum())
            cap = max(1, int(outside / RATIO))
            caps.append(cap)
            full.append(accuracy(pool, y, labeled, None))
            capped.append(accuracy(pool, y, labeled, cap))
        rows.append({"labels": n_labels, "cap": statistics.median(caps), "full": full, "capped": capped})
        print(n_labels, statistics.mean(full), statistics.mean(capped), flush=True)
    if args.write_docs:
        replace_section(SECTION, report(rows, args))
        keep_open_problems_last()


def report(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "```sh", f"PYTHONPATH=. python benchmarks/bench_graph_cap.py --seeds {args.seeds} --labels {args.labels} "
        "--write-docs", "```", "",
        f"{machine_summary()}. Fashion-MNIST pool (10,000 Lite0 embeddings), graph sample of {GRAPH_SAMPLE:,} items, "
        f"random labels; the cap keeps 1 in {RATIO:.2f} of the labeled items outside the sample as seeds, the ratio of "
        f"`engine.GRAPH_EXTRA_MAX` = 20,000 to the ~115,000 outside the sample at the 1M benchmark. App head without "
        f"temperature; accuracy on every unlabeled item; {args.seeds} seeds, mean (min–max); same labels with and "
        "without the cap.", "",
        "| labels | extra seeds kept (median) | accuracy, all labeled items as seeds (baseline) | accuracy, capped | difference |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        def cell(values: list[float]) -> str:
            return f"{statistics.mean(values):.4f} ({min(values):.4f}–{max(values):.4f})"
        diff = statistics.mean(c - f for c, f in zip(r["capped"], r["full"]))
        lines.append(f"| {r['labels']:,} | {r['cap']:,.0f} | {cell(r['full'])} | {cell(r['capped'])} | {diff:+.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
