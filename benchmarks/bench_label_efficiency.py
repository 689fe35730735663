"""Label efficiency: how many labels the app's loop needs, against random sampling.

    PYTHONPATH=. python benchmarks/bench_label_efficiency.py --write-docs

For each data set it runs ``aldesk simulate``'s engine twice, once with the app's head and once
with the plain supervised head, each time for the strategies default, margin and random (5
seeds, budget 600, batch 10), and reports against the goals of the learning-engine issue:

- system gain: labels ``default`` (app head) needs to reach 98% of full-pool accuracy, divided
  by the labels ``random`` with the plain head needs;
- strategy gain under each head (default and margin against random);
- the worst gap ``default - random`` at any budget from 10 labels, and the gap at 10 and 20.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aldesk.ml.backbones import load_backbone  # noqa: E402
from aldesk.ml.device import configure_cpu_threads  # noqa: E402
from aldesk.ml.sim_report import embedded_dataset, write_report  # noqa: E402
from aldesk.ml.simulate import SimulationResult, simulate  # noqa: E402
from benchmarks.docs import machine_summary, replace_section  # noqa: E402

STRATEGIES = ["default", "margin", "random"]


def run(dataset: str, backbone_name: str, head: str, args: argparse.Namespace) -> SimulationResult:
    backbone = load_backbone(backbone_name)
    pool_size = 10_000 if dataset == "fashion-mnist" else None
    test_size = 2_000 if dataset == "fashion-mnist" else None
    xp, yp, xt, yt, names = embedded_dataset(dataset, backbone, pool_size=pool_size, test_size=test_size)
    start = time.perf_counter()
    result = simulate(xp, yp, xt, yt, len(names), strategies=STRATEGIES, seeds=args.seeds,
                      budget=args.budget, batch=args.batch, head=head)
    out = args.out / f"{dataset}-{backbone_name}-{head}"
    write_report(result, out, f"{dataset}, {backbone_name}, head {head}")
    print(f"{dataset} {backbone_name} {head}: {time.perf_counter() - start:.0f} s, "
          f"full pool {result.full_pool_accuracy:.4f}, labels to 98%: "
          f"{ {k: v['98%'] for k, v in result.labels_to().items()} }", flush=True)
    return result


def gap_stats(app: SimulationResult) -> tuple[float, float, float]:
    """(worst default - random over all budgets, gap at the first, gap at the second checkpoint)."""
    gap = app.curves["default"].mean() - app.curves["random"].mean()
    return float(gap.min()), float(gap[0]), float(gap[1])


def describe(dataset: str, backbone: str, app: SimulationResult, plain: SimulationResult, budget: int) -> str:
    to_app, to_plain = app.labels_to(), plain.labels_to()

    def cell(value: int | None) -> str:
        return str(value) if value is not None else f">{budget}"

    def ratio(a: int | None, b: int | None) -> str:
        if a is None:
            return "n/a (default did not reach it)"
        if b is None:
            return f"< {a / budget:.2f} (random never reached it within {budget})"
        return f"{a / b:.2f}"

    worst, at10, at20 = gap_stats(app)
    lines = [
        f"### {dataset}, {backbone} embeddings",
        "",
        f"Full-pool accuracy (supervised head, every pool label): {app.full_pool_accuracy:.4f}; "
        f"98% of it is {0.98 * app.full_pool_accuracy:.4f}.",
        "",
        "| labels to reach | 95% | 98% | 99% |",
        "|---|---|---|---|",
    ]
    for head_name, table in (("app head", to_app), ("plain head", to_plain)):
        for strategy in STRATEGIES:
            row = table[strategy]
            lines.append(f"| {strategy}, {head_name} | " + " | ".join(cell(row[k]) for k in ("95%", "98%", "99%")) + " |")
    lines += [
        "",
        f"- System gain at 98% (default + app head vs random + plain head; goal ≤ 0.33): "
        f"**{ratio(to_app['default']['98%'], to_plain['random']['98%'])}**",
        f"- Strategy gain at 98%, app head: default/random {ratio(to_app['default']['98%'], to_app['random']['98%'])}, "
        f"margin/random {ratio(to_app['margin']['98%'], to_app['random']['98%'])}",
        f"- Strategy gain at 98%, plain head: default/random {ratio(to_plain['default']['98%'], to_plain['random']['98%'])}, "
        f"margin/random {ratio(to_plain['margin']['98%'], to_plain['random']['98%'])}",
        f"- default − random (app head), mean of seeds: worst over all budgets {100 * worst:+.1f} points "
        f"(goal ≥ −1); at 10 labels {100 * at10:+.1f}, at 20 labels {100 * at20:+.1f} (goal ≥ +10)",
    ]
    plain_worst, plain10, plain20 = gap_stats(plain)
    lines.append(
        f"- default − random (plain head): worst {100 * plain_worst:+.1f}; at 10 labels {100 * plain10:+.1f}, "
        f"at 20 labels {100 * plain20:+.1f}"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="fashion-mnist:efficientnet-lite0,digits:efficientnet-lite0")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/label-efficiency"))
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    configure_cpu_threads()
    for entry in args.datasets.split(","):
        started = time.perf_counter()
        dataset, backbone = entry.split(":")
        app = run(dataset, backbone, "default", args)
        plain = run(dataset, backbone, "plain", args)
        text = describe(dataset, backbone, app, plain, args.budget)
        (args.out / f"{dataset}-{backbone}-summary.json").write_text(json.dumps(
            {"app": app.to_json(), "plain": plain.to_json()}))
        print(text, flush=True)
        if args.write_docs:  # each data set's section as soon as it is done
            command = "PYTHONPATH=. python benchmarks/bench_label_efficiency.py " + " ".join(sys.argv[1:])
            body = (
                f"Command: `{command}` ({(time.perf_counter() - started) / 60:.0f} min for this data set).\n\n"
                f"{machine_summary()}. Strategies {', '.join(STRATEGIES)}; {args.seeds} seeds; budget "
                f"{args.budget}; batch {args.batch}. Fashion-MNIST: a 10,000-image pool from the train "
                "split, 2,000 test images from the test split; digits: 1,198 pool, 599 test "
                "(stratified). Accuracy is on the held-out split only. Curves, CSVs and plots: "
                f"`{args.out}/`.\n\n" + text
            )
            replace_section(f"Label efficiency: {dataset}", body)

if __name__ == "__main__":
    main()
