"""Label efficiency: how many labels the app's loop needs, against random sampling.

    ALDESK_THREADS=1 PYTHONPATH=. python benchmarks/bench_label_efficiency.py --write-docs

For each data set it runs ``aldesk simulate``'s engine with the app's head and with the plain
supervised head, each for the strategies default, margin and random (5 seeds, batch 10; budget
600 on digits, 1,000 on Fashion-MNIST), and random with the plain head to a much larger budget
(3,000, or the whole pool) so the baseline's label count is known. It reports against the goals
of the learning-engine issue:

- system gain: labels ``default`` (app head) needs to reach 98% of full-pool accuracy, divided
  by the labels ``random`` with the plain head needs;
- strategy gain under each head (default and margin against random);
- the worst gap ``default - random`` at any budget from 10 labels, and the gap at 10 and 20.

Each (head, strategy) run is saved under ``OUT/runs/`` as soon as it finishes and reused by the
next invocation with the same seeds and budget, so ``--units`` can split the work over several
processes (one core each: ``ALDESK_THREADS=1``) and a last invocation assembles the report.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from aldesk.ml.device import configure_cpu_threads
from aldesk.ml.encoders import load_backbone
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.simulation.replay import Curve, SimulationResult, full_pool_accuracy, run_one
from aldesk.ml.simulation.report import embedded_dataset, write_report
from benchmarks import harness

STRATEGIES = ["default", "margin", "random"]
HEADS = ["default", "plain"]
BUDGETS = {"fashion-mnist": 1000, "digits": 600}


def unit_budget(dataset: str, head: str, strategy: str, n_pool: int, args: argparse.Namespace) -> int:
    if head == "plain" and strategy == "random":  # the system gain's denominator
        budget = args.random_budget
    else:
        budget = args.budget or BUDGETS.get(dataset, 600)
    return min(budget, n_pool // args.batch * args.batch)


def run_unit(dataset: str, backbone_name: str, head: str, strategy: str, args: argparse.Namespace) -> dict | None:
    """One (head, strategy) simulation, saved as JSON under OUT/runs (reused when it exists)."""
    backbone = load_backbone(backbone_name)
    pool_size = 10_000 if dataset == "fashion-mnist" else None
    test_size = 2_000 if dataset == "fashion-mnist" else None
    xp, yp, xt, yt, names = embedded_dataset(harness.dataset(dataset), backbone, pool_size=pool_size, test_size=test_size)
    budget = unit_budget(dataset, head, strategy, len(yp), args)
    path = args.out / "runs" / f"{dataset}-{backbone_name}-{head}-{strategy}.json"
    saved = json.loads(path.read_text()) if path.is_file() else None
    if saved is None or saved["budget"] != budget or saved["batch"] != args.batch:
        saved = {
            "dataset": dataset,
            "backbone": backbone_name,
            "head": head,
            "strategy": strategy,
            "seeds": 0,
            "budget": budget,
            "batch": args.batch,
            "accuracy": [],
            "seconds": 0.0,
        }
    # Seed by seed, saved after each, so an interrupted run keeps (and later resumes from) the
    # seeds it finished.
    if args.assemble_only:
        return saved if saved["seeds"] else None
    pool = PoolModel.build(xp) if saved["seeds"] < args.seeds else None
    while saved["seeds"] < args.seeds:
        start = time.perf_counter()
        curve = []
        for accuracy in run_one(
            pool, yp, pool.whitening.apply(xt), yt, len(names), strategy, saved["seeds"], budget, args.batch, head, test_raw=xt
        ):
            curve.append(accuracy)
        if "full_pool_accuracy" not in saved:
            saved["full_pool_accuracy"] = full_pool_accuracy(pool, yp, pool.whitening.apply(xt), yt, len(names))
        saved["labels"] = list(range(args.batch, budget + 1, args.batch))
        saved["accuracy"].append(curve)
        saved["seeds"] += 1
        saved["seconds"] += time.perf_counter() - start
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved))
        print(
            f"{dataset} {backbone_name} head {head} {strategy} seed {saved['seeds'] - 1}: "
            f"{(time.perf_counter() - start) / 60:.1f} min",
            flush=True,
        )
    return saved


def assemble(units: list[dict], head: str, seeds: int) -> SimulationResult:
    mine = [u for u in units if u["head"] == head]
    # With --assemble-only a run may have fewer seeds than asked: the table says how many.
    curves = {u["strategy"]: Curve(u["labels"], u["accuracy"][:seeds]) for u in mine}
    return SimulationResult(mine[0]["full_pool_accuracy"], curves, head, sum(u["seconds"] for u in mine))


def gap_stats(result: SimulationResult) -> tuple[float, float, float]:
    """(worst default - random over the budgets both reach, gap at the first, at the second checkpoint)."""
    if "default" not in result.curves or "random" not in result.curves:
        return float("nan"), float("nan"), float("nan")
    a, b = result.curves["default"].mean(), result.curves["random"].mean()
    gap = a[: min(len(a), len(b))] - b[: min(len(a), len(b))]
    return float(gap.min()), float(gap[0]), float(gap[1])


def glance(app: SimulationResult, plain: SimulationResult) -> tuple[str, str]:
    """The at-a-glance cells: labels the app's loop needs to 98% of full-pool accuracy, and the
    system gain (those labels / random with the plain head's)."""
    mine = app.labels_to().get("default", {}).get("98%")
    theirs = plain.labels_to().get("random", {}).get("98%")
    limit = max(app.curves["default"].labels) if "default" in app.curves else 0
    random_limit = max(plain.curves["random"].labels) if "random" in plain.curves else 0
    figure = f"{mine} labels" if mine is not None else f"not within {limit} labels"
    if mine is not None and theirs is not None:
        versus = f"{mine / theirs:.2f} of random + plain head ({mine} / {theirs})"
    elif mine is not None and random_limit:
        versus = f"< {mine / random_limit:.2f} (random + plain head not at 98% within {random_limit})"
    else:
        versus = "-"
    return figure, versus


def describe(dataset: str, backbone: str, app: SimulationResult, plain: SimulationResult) -> str:
    missing = {f"{p}%": None for p in (95, 98, 99)}
    to_app = {s: app.labels_to().get(s, missing) for s in STRATEGIES}
    to_plain = {s: plain.labels_to().get(s, missing) for s in STRATEGIES}

    def budget(result: SimulationResult, strategy: str) -> int:
        return max(result.curves[strategy].labels) if strategy in result.curves else 0

    def cell(value: int | None, limit: int) -> str:
        return str(value) if value is not None else f">{limit}"

    def ratio(a: int | None, b: int | None, b_budget: int, a_budget: int) -> str:
        if not a_budget or not b_budget:
            return "not run"
        if a is None and b is None:
            return f"n/a (neither reached it: budgets {a_budget} and {b_budget})"
        if a is None:
            return f"n/a (default/margin did not reach it within {a_budget})"
        if b is None:
            return f"< {a / b_budget:.2f} (random never reached it within {b_budget})"
        return f"{a / b:.2f} ({a} / {b})"

    def gain(result: SimulationResult, table: dict, strategy: str) -> str:
        return ratio(table[strategy]["98%"], table["random"]["98%"], budget(result, "random"), budget(result, strategy))

    worst, at10, at20 = gap_stats(app)
    lines = [
        f"### {dataset}, {backbone} embeddings",
        "",
        f"Full-pool accuracy (supervised head, every pool label): {app.full_pool_accuracy:.4f}; "
        f"98% of it is {0.98 * app.full_pool_accuracy:.4f}.",
        "",
        "| labels to reach | budget | seeds | 95% | 98% | 99% |",
        "|---|---|---|---|---|---|",
    ]
    for head_name, result, table in (("app head", app, to_app), ("plain head", plain, to_plain)):
        for strategy in STRATEGIES:
            row, limit = table[strategy], budget(result, strategy)
            if strategy not in result.curves:
                lines.append(f"| {strategy}, {head_name} | not run | | | | |")
                continue
            lines.append(
                f"| {strategy}, {head_name} | {limit} | {len(result.curves[strategy].accuracy)} | "
                + " | ".join(cell(row[k], limit) for k in ("95%", "98%", "99%"))
                + " |"
            )
    lines += [
        "",
        f"- System gain at 98% (default + app head vs random + plain head; goal ≤ 0.33): "
        f"**{ratio(to_app['default']['98%'], to_plain['random']['98%'], budget(plain, 'random'), budget(app, 'default'))}**",
        f"- Strategy gain at 98%, app head: default/random {gain(app, to_app, 'default')}, "
        f"margin/random {gain(app, to_app, 'margin')}",
        f"- Strategy gain at 98%, plain head: default/random {gain(plain, to_plain, 'default')}, "
        f"margin/random {gain(plain, to_plain, 'margin')}",
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
    parser = harness.parser(__doc__)
    parser.add_argument("--datasets", default="fashion-mnist:efficientnet-lite0,digits:efficientnet-lite0")
    parser.add_argument("--units", default="", help="only these head:strategy runs, e.g. default:default,plain:random")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=None, help="default: 1000 on fashion-mnist, 600 elsewhere")
    parser.add_argument("--random-budget", type=int, default=3000, help="random with the plain head (capped at the pool)")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/label-efficiency"))
    parser.add_argument(
        "--assemble-only", action="store_true", help="report from the saved runs (up to --seeds each) without running more"
    )
    args = harness.parse(parser, smoke={"datasets": f"{harness.TINY}:pixels", "seeds": 1, "budget": 20, "random_budget": 30})
    args.out = harness.out_dir(args, args.out, "label-efficiency")
    configure_cpu_threads()
    wanted = [tuple(u.split(":")) for u in args.units.split(",")] if args.units else [(h, s) for h in HEADS for s in STRATEGIES]
    for entry in args.datasets.split(","):
        dataset, backbone = entry.split(":")
        units = [u for u in (run_unit(dataset, backbone, h, s, args) for h, s in wanted) if u is not None]
        if args.units:
            continue  # a part of the work: the full invocation assembles the report
        app, plain = assemble(units, "default", args.seeds), assemble(units, "plain", args.seeds)
        for result in (app, plain):
            write_report(result, args.out / f"{dataset}-{backbone}-{result.head}", f"{dataset}, {backbone}, head {result.head}")
        text = describe(dataset, backbone, app, plain)
        (args.out / f"{dataset}-{backbone}-summary.json").write_text(json.dumps({"app": app.to_json(), "plain": plain.to_json()}))
        print(text, flush=True)
        if args.write_docs:
            minutes = sum(u["seconds"] for u in units) / 60
            command = harness.command("ALDESK_THREADS=1 PYTHONPATH=. python")
            body = (
                f"Command: `{command}` after the runs were made in parallel processes with `--units` "
                f"({minutes:.0f} minutes of run time in all for this data set, on a machine shared with "
                "other jobs).\n\n"
                f"{harness.machine_summary()}. Strategies {', '.join(STRATEGIES)}; {args.seeds} seeds unless the table says fewer; batch "
                f"{args.batch}; the budget of each run is in the table. Fashion-MNIST: a 10,000-image pool "
                "from the train split, 2,000 test images from the test split; digits: 1,198 pool, 599 test "
                "(stratified). Accuracy is on the held-out split only. Curves, CSVs and plots: "
                f"`{args.out}/`.\n\n" + text
            )
            harness.write_section(
                f"Label efficiency: {dataset}",
                body,
                command_line=command,
                rows={f"Label efficiency, {dataset}: labels to 98% (default, app head)": glance(app, plain)},
            )


if __name__ == "__main__":
    main()
