"""Weight-free fallback: the small CNN trained from scratch (head ``cnn``) against the plain
logistic head, both on the ``pixels`` backbone (32 x 32 thumbnails, no pretrained weights).

    ALDESK_THREADS=1 PYTHONPATH=. python benchmarks/bench_scratch_cnn.py --write-docs

For each data set: (1) the time of one refresh's training and scoring at 100 and 300 labels, the
CNN from scratch and warm-started (+10 labels) against the plain head on the same labels
(baseline in the same run, medians of 3); (2) ``aldesk simulate``'s engine with ``--head cnn``
and ``--head plain``, strategies default and random, accuracy on the held-out split.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from aldesk.ml.device import configure_cpu_threads
from aldesk.ml.encoders import load_backbone
from aldesk.ml.heads.base import fit_head, pool_input
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.simulation.replay import SimulationResult, simulate
from aldesk.ml.simulation.report import embedded_dataset, write_report
from benchmarks import harness

TITLE = "Weight-free fallback: small CNN from scratch"
HEADS = ("cnn", "plain")
POINTS = (10, 20, 50, 100, 200, 300, 400, 600)


def load(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    pool_size = 10_000 if dataset == "fashion-mnist" else None
    test_size = 2_000 if dataset == "fashion-mnist" else None
    xp, yp, xt, yt, names = embedded_dataset(
        harness.dataset(dataset), load_backbone("pixels"), pool_size=pool_size, test_size=test_size
    )
    return xp, yp, xt, yt, len(names)


# plain: train + score; cnn from scratch: train; cnn warm (+10 labels): train + score.
TIMED = ("plain", "cnn from scratch", "cnn warm", "cnn scoring")


class Clock:
    """Appends (wall seconds, this process's CPU seconds) of the block to a list."""

    def __init__(self, out: list[tuple[float, float]]) -> None:
        self.out = out

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc) -> None:
        self.out.append((time.perf_counter() - self.wall, time.process_time() - self.cpu))


def timing(
    pool: PoolModel, yp: np.ndarray, n_classes: int, repeats: int = 3, label_counts: tuple[int, ...] = (100, 300)
) -> list[dict]:
    """Seconds for training + scoring the whole pool, per head, at a few label counts."""
    rows = []
    for n in label_counts:
        rng = np.random.default_rng(n)
        first = rng.choice(pool.size, n, replace=False)
        more = np.concatenate([first, rng.choice(np.setdiff1d(np.arange(pool.size), first), 10, replace=False)])
        times: dict[str, list[tuple[float, float]]] = {key: [] for key in TIMED}
        for _ in range(repeats):
            with Clock(times["plain"]):
                model, _ = fit_head("plain", pool, more, yp[more], n_classes)
                model.predict_proba(pool.z)
            with Clock(times["cnn from scratch"]):
                cold, _ = fit_head("cnn", pool, first, yp[first], n_classes)
            with Clock(times["cnn warm"]):
                warm, _ = fit_head("cnn", pool, more, yp[more], n_classes, init=cold)
                with Clock(times["cnn scoring"]):
                    warm.predict_proba(pool_input(warm, pool))
        rows.append(
            {
                "labels": n,
                **{
                    key: {"wall": harness.median(w for w, _ in v), "cpu": harness.median(c for _, c in v)}
                    for key, v in times.items()
                },
            }
        )
        print(f"timing at {n} labels: {rows[-1]}", flush=True)
    return rows


def run(dataset: str, head: str, data, args: argparse.Namespace) -> SimulationResult:
    xp, yp, xt, yt, n_classes = data
    start = time.perf_counter()
    result = simulate(
        xp,
        yp,
        xt,
        yt,
        n_classes,
        strategies=args.strategies.split(","),
        seeds=args.seeds,
        budget=args.budget,
        batch=args.batch,
        head=head,
    )
    write_report(result, args.out / f"{dataset}-pixels-{head}", f"{dataset}, pixels, head {head}")
    print(f"{dataset} {head}: {time.perf_counter() - start:.0f} s, labels_to {result.labels_to()}", flush=True)
    return result


def describe(dataset: str, data, timings: list[dict], results: dict[str, SimulationResult], args) -> str:
    xp, _yp, xt, _yt, _k = data
    any_result = next(iter(results.values()))
    labels = any_result.curves[next(iter(any_result.curves))].labels
    points = [p for p in POINTS if p in labels]
    lines = [
        f"### {dataset} ({len(xp):,} pool, {len(xt):,} test)",
        "",
        f"Refresh cost, median of {args.repeats}, wall seconds / CPU seconds of this process (with one torch "
        "thread the CPU seconds are close to what a quiet core would take):",
        "",
        "| labels | plain head, train + score | cnn from scratch, train | cnn warm start (+10 labels), train + score | of which scoring the pool | cnn warm / plain (CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for row in timings:
        cells = [f"{row[k]['wall']:.2f} / {row[k]['cpu']:.2f}" for k in TIMED]
        ratio = row["cnn warm"]["cpu"] / max(row["plain"]["cpu"], 1e-9)  # a CPU time can be 0.0 here
        lines.append(f"| {row['labels']} | " + " | ".join(cells) + f" | {ratio:.1f}x |")
    lines += [
        "",
        f"Test accuracy, mean ± std over {args.seeds} seeds (full-pool plain head: {any_result.full_pool_accuracy:.4f}):",
        "",
        "| head, strategy | " + " | ".join(str(p) for p in points) + " | labels to 95% / 98% of full pool |",
        "|---|" + "---|" * (len(points) + 1),
    ]
    for head, result in results.items():
        to = result.labels_to()
        for strategy, curve in result.curves.items():
            mean, std = curve.mean(), curve.std()
            cells = [f"{mean[labels.index(p)]:.3f} ± {std[labels.index(p)]:.3f}" for p in points]
            reach = " / ".join(str(to[strategy][k]) if to[strategy][k] is not None else f">{args.budget}" for k in ("95%", "98%"))
            lines.append(f"| {head}, {strategy} | " + " | ".join(cells) + f" | {reach} |")
    cnn, plain = results["cnn"], results["plain"]
    lines.append("")
    for strategy in cnn.curves:
        gain = cnn.curves[strategy].mean() - plain.curves[strategy].mean()
        lines.append(
            f"- {strategy}: cnn − plain {100 * gain.min():+.1f} points at worst, {100 * gain.max():+.1f} at best, "
            f"{100 * gain[-1]:+.1f} at {labels[-1]} labels"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--datasets", default="digits,fashion-mnist")
    parser.add_argument("--strategies", default="default,random")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scratch-cnn"))
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    parser.add_argument("--timing-labels", default="100,300", help="label counts of the refresh-cost table")
    parser.add_argument("--docs-only", action="store_true", help="only rewrite the docs section from the parts in --out")
    args = harness.parse(parser, smoke={"datasets": harness.TINY, "seeds": 1, "budget": 20, "repeats": 1, "timing_labels": "20"})
    args.out = harness.out_dir(args, args.out, "scratch-cnn")
    if args.docs_only:
        write_docs(args.out)
        return
    threads = configure_cpu_threads()
    command = harness.command("ALDESK_THREADS=1 PYTHONPATH=. python")
    args.out.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets.split(","):
        started = time.perf_counter()
        data = load(dataset)
        pool = PoolModel.build(data[0])
        timings = timing(pool, data[1], data[4], args.repeats, tuple(int(n) for n in args.timing_labels.split(",")))
        results = {head: run(dataset, head, data, args) for head in HEADS}
        text = describe(dataset, data, timings, results, args)
        (args.out / f"{dataset}-summary.json").write_text(
            json.dumps({"timings": timings, **{h: r.to_json() for h, r in results.items()}})
        )
        minutes = (time.perf_counter() - started) / 60
        # Each data set's part keeps the command that made it; the docs section joins the parts.
        (args.out / f"{dataset}-section.md").write_text(
            text.replace(
                "\n",
                f"\n\nCommand: `{command}` ({minutes:.0f} min; torch on {threads} thread(s)); "
                f"strategies {args.strategies}, {args.seeds} seeds, budget {args.budget}, batch {args.batch}.\n",
                1,
            )
        )
        print(text, flush=True)
        if args.write_docs:
            write_docs(args.out, dataset, results, command)


def write_docs(
    out: Path, dataset: str | None = None, results: dict[str, SimulationResult] | None = None, command: str | None = None
) -> None:
    parts = [out / f"{name}-section.md" for name in ("digits", "fashion-mnist", harness.TINY)]
    body = (
        f"{harness.machine_summary()}, shared with other jobs (load average well above the core count), so "
        "wall seconds are noisy. The `pixels` backbone stores each item as its 32x32 RGB thumbnail; "
        "`cnn` trains the small CNN of `aldesk/ml/heads/cnn.py` on the labeled thumbnails (what the "
        "app and `aldesk train`/`simulate` use on this backbone), `plain` is the class-balanced logistic "
        "head on the PCA-whitened thumbnails. `default` is the app's policy (typical cold start, then "
        f"margin-diverse on the whitened pixels). Curves and plots: `{out}/`.\n\n"
        + "\n".join(p.read_text() for p in parts if p.is_file())
        # The reading of the numbers, written by hand after a run.
        + ("\n" + (out / "reading.md").read_text() if (out / "reading.md").is_file() else "")
    )
    rows = None
    if results is not None:
        cnn = results["cnn"].labels_to().get("default", {}).get("98%")
        plain = results["plain"].labels_to().get("random", {}).get("98%")
        limit = max(results["cnn"].curves["default"].labels) if "default" in results["cnn"].curves else 0
        rows = {
            f"Weight-free fallback (pixels + cnn), {dataset}: labels to 98%": (
                f"{cnn} labels" if cnn is not None else f"not within {limit} labels",
                f"{cnn / plain:.2f} of random + plain head ({cnn} / {plain})" if cnn is not None and plain is not None else "-",
            )
        }
    harness.write_section(TITLE, body, rows=rows, command_line=command)


if __name__ == "__main__":
    main()
