"""Finding wrong labels: precision@50 of the suspects ranking with 5% of the labels flipped, and
how long a ranking takes.

    PYTHONPATH=. python benchmarks/bench_suspects.py --seeds 5 --write-docs

Data: the EfficientNet-Lite0 embeddings that ``aldesk simulate`` caches (digits: the 1,198-image
pool; Fashion-MNIST: the 10,000-image pool), so run a simulation with the default backbone on
each data set first. For each seed, a uniformly random labeled set of each size is drawn from the
pool and 5% of its labels are flipped to another uniformly random class; the ranking sees only
the noisy labels. precision@50 is the fraction of the top 50 suspects that are truly flipped;
chance is the flip rate. With 500 labels only 25 are flipped, so precision@50 can be at most 0.5:
the table also gives recall@50 and precision at k = number flipped.

Timing: one ranking on 1,000 and 5,000 labels of the Fashion-MNIST pool (1,280-d features,
projected to 256-d by the pool model the worker already keeps), median of ``--repeats``; the
baseline in the same run is one fit of the plain head on the same labels, the cost of a retrain.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from aldesk.ml.device import configure_cpu_threads
from aldesk.ml.evaluation.suspects import DEFAULT_FOLDS, DEFAULT_SCORE, rank_suspects
from aldesk.ml.heads import linear as heads
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.simulation.report import cache_dir
from benchmarks import harness

SECTION = "Finding wrong labels (suspects)"
RESULTS = Path(__file__).resolve().parent / "results" / "suspects" / "simulation.json"
DATASETS = {
    "digits": "digits-efficientnet-lite0-*-None-None-0.npz",
    "fashion-mnist": "fashion-mnist-efficientnet-lite0-*-10000-*-0.npz",  # the pool; any test size
}
TOP = 50
# Smoke runs (--smoke) use harness.tiny_pool instead of the cached embeddings: no download.
SMOKE_POOLS = {"digits": 300, "fashion-mnist": 400}


def load_pool(name: str, smoke: bool = False) -> tuple[np.ndarray, np.ndarray]:
    if smoke:
        return harness.tiny_pool(SMOKE_POOLS[name], seed=len(name))
    matches = sorted(cache_dir().glob(DATASETS[name]))
    if not matches:
        sys.exit(
            f"No cached Lite0 embeddings of {name} in {cache_dir()}; run first: "
            f"aldesk simulate --dataset {name} --backbone efficientnet-lite0 --seeds 1 --budget 20 --out /tmp/sim"
        )
    with np.load(matches[-1], allow_pickle=False) as cached:
        return cached["xp"], cached["yp"].astype(np.int64)


def cached_pools(smoke: bool = False) -> Iterator[tuple[str, PoolModel, np.ndarray]]:
    """(name, pool model, labels) of each data set whose Lite0 embeddings are cached; a data set
    not cached here is named with the command that caches it, and the others still run."""
    for name in DATASETS:
        try:
            x, y = load_pool(name, smoke)
        except SystemExit as missing:
            print(missing)
            continue
        yield name, PoolModel.build(x), y


def flip_labels(y: np.ndarray, n_classes: int, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    flipped = rng.choice(len(y), int(round(rate * len(y))), replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return noisy, flipped


def one_run(
    pool: PoolModel, y_pool: np.ndarray, n_labels: int, rate: float, seed: int, score: str, folds: int
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    n_classes = int(y_pool.max()) + 1
    labeled = np.sort(rng.choice(len(y_pool), n_labels, replace=False))
    noisy, flipped = flip_labels(y_pool[labeled], n_classes, rate, rng)
    ranking = rank_suspects(pool.z, labeled, noisy, n_classes, score=score, folds=folds, seed=seed)
    is_flipped = np.zeros(n_labels, dtype=bool)
    is_flipped[flipped] = True
    hits = is_flipped[ranking.positions]
    k = len(flipped)
    top = ranking.positions[:TOP]
    right_class = ranking.suggested[:TOP][hits[:TOP]] == y_pool[labeled][top[hits[:TOP]]]
    return {
        "p50": float(hits[:TOP].mean()),
        "recall50": float(hits[:TOP].sum() / k),
        "pk": float(hits[:k].mean()),
        "suggest_right": float(right_class.mean()) if len(right_class) else float("nan"),
        "seconds": ranking.seconds,
    }


def simulation(seeds: int, sizes: list[int], rate: float, variants: list[tuple[str, int]], smoke: bool = False) -> list[dict]:
    rows = []
    for name in DATASETS:
        x, y = load_pool(name, smoke)
        pool = PoolModel.build(x)
        for n_labels in sizes:
            if n_labels > len(y):
                continue
            for score, folds in variants:
                runs = [one_run(pool, y, n_labels, rate, seed, score, folds) for seed in range(seeds)]
                row = {
                    "dataset": name,
                    "pool": len(y),
                    "labels": n_labels,
                    "flipped": int(round(rate * n_labels)),
                    "score": score,
                    "folds": folds,
                }
                for key in ("p50", "recall50", "pk", "suggest_right", "seconds"):
                    values = [r[key] for r in runs]
                    row[key] = (statistics.mean(values), statistics.pstdev(values), min(values), max(values))
                rows.append(row)
                print(
                    f"{name} {n_labels} {score} {folds} folds: p@50 {row['p50'][0]:.3f} ± {row['p50'][1]:.3f}"
                    f" (min {row['p50'][2]:.2f}), p@k {row['pk'][0]:.3f}",
                    flush=True,
                )
    return rows


def timing(sizes: list[int], repeats: int, smoke: bool = False) -> list[dict]:
    x, y = load_pool("fashion-mnist", smoke)
    start = time.perf_counter()
    pool = PoolModel.build(x)
    build = time.perf_counter() - start
    rows = []
    for n_labels in sizes:
        rng = np.random.default_rng(n_labels)
        labeled = np.sort(rng.choice(len(y), n_labels, replace=False))
        suspects, retrain = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            heads.fit_linear(pool.z[torch.from_numpy(labeled)], torch.from_numpy(y[labeled]), 10)
            retrain.append(time.perf_counter() - start)
            suspects.append(rank_suspects(pool.z, labeled, y[labeled], 10).seconds)
        rows.append(
            {
                "labels": n_labels,
                "suspects": harness.median(suspects),
                "retrain": harness.median(retrain),
                "build": build,
                "dim": x.shape[1],
                "projected": pool.z.shape[1],
            }
        )
        print(f"{n_labels} labels: suspects {rows[-1]['suspects']:.2f} s, one plain fit {rows[-1]['retrain']:.2f} s", flush=True)
    return rows


def report(sim: list[dict], times: list[dict], args: argparse.Namespace, load: tuple[float, float]) -> str:
    def cell(stats: tuple) -> str:
        return f"{stats[0]:.2f} ± {stats[1]:.2f} ({stats[2]:.2f}–{stats[3]:.2f})"

    lines = ["```sh", args.sim_command, "```"]
    if args.timing_only:
        lines += [
            "",
            "The timing table was measured again afterwards on its own (the simulation rows are read "
            "back from `benchmarks/results/suspects/simulation.json`):",
            "",
            "```sh",
            timing_command(args),
            "```",
        ]
    lines += [
        "",
        f"{harness.machine_summary()}; load average {load[0]:.1f} at the start of the run, {load[1]:.1f} at the end "
        "(other jobs ran: times are inflated, compare the ratio).",
        "",
        f"Labeled items are ranked by held-out heads (`aldesk/ml/evaluation/suspects.py`: plain class-balanced heads in "
        f"stratified folds on the pool model's 256-d projection of the Lite0 embeddings, temperature-calibrated). "
        f"{args.seeds} seeds: each draws a random labeled set and flips {args.rate:.0%} of its labels to another random "
        f"class. Chance precision = the flip rate, {args.rate:.2f}. Mean ± standard deviation over seeds (min–max).",
        "",
        "| data set (pool) | labels | flipped | score, folds | precision@50 | max possible | recall@50 | precision@k (k = flipped) | suggested class right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sim:
        lines.append(
            f"| {r['dataset']} ({r['pool']:,}) | {r['labels']:,} | {r['flipped']} | {r['score']}, {r['folds']} | "
            f"**{cell(r['p50'])}** | {min(1.0, r['flipped'] / TOP):.2f} | {cell(r['recall50'])} | {cell(r['pk'])} | "
            f"{r['suggest_right'][0]:.2f} |"
        )
    lines += [
        "",
        '"Suggested class right": among the flipped items in the top 50, how often the suggested class is the true one.',
        "",
        f"The default ({DEFAULT_SCORE}, {DEFAULT_FOLDS} folds) against chance ({args.rate:.2f}) and against the margin score:",
        "",
    ]
    for r in sim:
        if (r["score"], r["folds"]) != (DEFAULT_SCORE, DEFAULT_FOLDS):
            continue
        other = next(
            (
                o
                for o in sim
                if (o["dataset"], o["labels"], o["score"], o["folds"]) == (r["dataset"], r["labels"], "margin", DEFAULT_FOLDS)
            ),
            None,
        )
        versus = f"; margin {other['p50'][0]:.2f}" if other else ""
        lines.append(
            f"- {r['dataset']}, {r['labels']:,} labels: precision@50 {r['p50'][0]:.2f} = "
            f"{r['p50'][0] / args.rate:.0f}x chance (at most {min(1.0, r['flipped'] / TOP):.2f}){versus}"
        )
    lines += [
        "",
        f"Time for one ranking (the default: {DEFAULT_SCORE}, {DEFAULT_FOLDS} folds) on the Fashion-MNIST pool, "
        f"{times[0]['dim']:,}-d embeddings projected to {times[0]['projected']}-d, {args.threads_used} torch thread(s), "
        f"median of {args.repeats}; "
        "baseline: one fit of the plain head on the same labels in the same run.",
        "",
        "| labels | suspects ranking | one plain-head fit | ratio |",
        "|---|---|---|---|",
    ]
    for t in times:
        lines.append(
            f"| {t['labels']:,} | {t['suspects']:.2f} s | {t['retrain']:.2f} s | "
            f"{harness.ratio(t['suspects'], t['retrain']):.1f}x |"
        )
    lines += [
        "",
        f"The pool model (projection + graph, kept by the worker) took {times[0]['build']:.1f} s once and is not "
        "included: the worker already has it.",
    ]
    return "\n".join(lines)


def sim_command(args: argparse.Namespace) -> str:
    return (
        f"PYTHONPATH=. python benchmarks/bench_suspects.py --seeds {args.seeds} --sizes {args.sizes} "
        f"--rate {args.rate} --variants {args.variants} --time-sizes {args.time_sizes} --repeats {args.repeats}"
        f"{f' --threads {args.threads}' if args.threads else ''} --write-docs"
    )


def timing_command(args: argparse.Namespace) -> str:
    return (
        f"PYTHONPATH=. python benchmarks/bench_suspects.py --timing-only --time-sizes {args.time_sizes} "
        f"--repeats {args.repeats}{f' --threads {args.threads}' if args.threads else ''} --write-docs"
    )


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", default="500,1000")
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--time-sizes", default="1000,5000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default="self-confidence:5,margin:5,self-confidence:3")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: as the app, one per physical core)")
    parser.add_argument(
        "--timing-only",
        action="store_true",
        help=f"reuse the simulation rows saved in {RESULTS.relative_to(RESULTS.parents[2])} by a full run",
    )
    args = harness.parse(parser, smoke={"seeds": 1, "sizes": "100", "time_sizes": "100", "repeats": 1})
    results = harness.out_dir(args, RESULTS.parent, "suspects") / RESULTS.name
    configure_cpu_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads_used = torch.get_num_threads()
    load_start = os.getloadavg()[0]
    variants = [(v.split(":")[0], int(v.split(":")[1])) for v in args.variants.split(",")]
    if args.timing_only:
        saved = json.loads(results.read_text())
        sim, args.sim_command, args.seeds, args.rate = saved["rows"], saved["command"], saved["seeds"], saved["rate"]
    else:
        sim = simulation(args.seeds, [int(s) for s in args.sizes.split(",")], args.rate, variants, args.smoke)
        args.sim_command = sim_command(args)
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(
            json.dumps({"command": args.sim_command, "seeds": args.seeds, "rate": args.rate, "rows": sim}, indent=1)
        )
    times = timing([int(s) for s in args.time_sizes.split(",")], args.repeats, args.smoke)
    text = report(sim, times, args, (load_start, os.getloadavg()[0]))
    print(text)
    if args.write_docs:
        best = max(
            (r for r in sim if (r["score"], r["folds"]) == (DEFAULT_SCORE, DEFAULT_FOLDS)),
            key=lambda r: (r["dataset"] == "fashion-mnist", r["labels"]),
            default=None,
        )
        rows = {}
        if best is not None:
            rows["Suspects: precision@50, 5% flipped"] = (
                f"{best['p50'][0]:.2f} ({best['dataset']}, {best['labels']:,} labels)",
                f"{best['p50'][0] / args.rate:.0f}x chance ({args.rate:.2f})",
            )
        slowest = times[-1]
        rows["Suspects: one ranking"] = (
            f"{slowest['suspects']:.2f} s at {slowest['labels']:,} labels",
            f"{harness.ratio(slowest['suspects'], slowest['retrain']):.1f}x one plain-head fit",
        )
        harness.write_section(SECTION, text, rows=rows, command_line=args.sim_command)


if __name__ == "__main__":
    main()
