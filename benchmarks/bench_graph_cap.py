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

import numpy as np
import torch

from aldesk.ml.device import configure_cpu_threads
from aldesk.ml.loop import pool as engine
from aldesk.ml.heads.base import fit_head
from benchmarks import harness
from benchmarks.bench_suspects import load_pool

SECTION = "Capped graph seeds (app head at scale)"
GRAPH_SAMPLE = 2_000
RATIO = 115_000 / 20_000  # labeled items outside the sample : cap, at the scale benchmark


def accuracy(pool: engine.PoolModel, y: np.ndarray, labeled: np.ndarray, cap: int | None) -> float:
    engine.GRAPH_EXTRA_MAX = cap if cap is not None else len(y)
    model, _ = fit_head("default", pool, labeled, y[labeled], 10, calibrate=False)
    rest = np.setdiff1d(np.arange(len(y)), labeled)
    predicted = model.logits(pool.z[torch.from_numpy(rest)]).argmax(1).numpy()
    return float((predicted == y[rest]).mean())


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--labels", default="1000,4000")
    args = harness.parse(parser, smoke={"seeds": 1, "labels": "100"})
    configure_cpu_threads()
    x, y = load_pool("fashion-mnist", args.smoke)
    # The graph sample keeps the scale benchmark's share of the pool (2,000 of 10,000) in a smoke run.
    pool = engine.PoolModel.build(x, graph_max=len(x) // 5 if args.smoke else GRAPH_SAMPLE)
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
        rows.append({"labels": n_labels, "cap": harness.median(caps), "full": full, "capped": capped})
        print(n_labels, statistics.mean(full), statistics.mean(capped), flush=True)
    if args.write_docs:
        last = rows[-1]
        harness.write_section(
            SECTION,
            report(rows, args),
            command_line=command(args),
            rows={
                "Capped graph seeds: app-head accuracy": (
                    f"{statistics.mean(last['capped']):.4f} capped at {last['labels']:,} labels",
                    f"{statistics.mean(c - f for c, f in zip(last['capped'], last['full'])):+.4f} against no cap",
                )
            },
        )


def command(args: argparse.Namespace) -> str:
    return f"PYTHONPATH=. python benchmarks/bench_graph_cap.py --seeds {args.seeds} --labels {args.labels} --write-docs"


def report(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "```sh",
        command(args),
        "```",
        "",
        f"{harness.machine_summary()}. Fashion-MNIST pool (10,000 Lite0 embeddings), graph sample of {GRAPH_SAMPLE:,} items, "
        f"random labels; the cap keeps 1 in {RATIO:.2f} of the labeled items outside the sample as seeds, the ratio of "
        f"`engine.GRAPH_EXTRA_MAX` = 20,000 to the ~115,000 outside the sample at the 1M benchmark. App head without "
        f"temperature; accuracy on every unlabeled item; {args.seeds} seeds, mean (min–max); same labels with and "
        "without the cap.",
        "",
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
