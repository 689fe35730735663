"""Honest accuracy: does the 90% interval from audit labels cover the model's true accuracy?

    PYTHONPATH=. python benchmarks/bench_audit.py --write-docs

Replays the app's loop (``default`` policy, one uniform audit item in every 10 labels, the app's
head) with true labels as the oracle, on Fashion-MNIST and digits with EfficientNet-Lite0
embeddings, 20 seeds each. At every 50th label it makes the estimate exactly as the app does
and compares it with the model's accuracy on the held-out test split. Goal (issue #5): the
interval covers the truth at >= 85% of checkpoints. It also reports where the stopping rule
(gain per 100 labels < 0.5 points and three successive kappas >= 0.99) would first fire.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from aldesk.ml.encoders import load_backbone
from aldesk.ml.simulation.audit_coverage import AuditSimulation, simulate_audit
from aldesk.ml.simulation.report import embedded_dataset
from benchmarks import harness

TITLE = "Honest accuracy: audit estimate coverage"


def run(dataset: str, backbone_name: str, args: argparse.Namespace) -> AuditSimulation:
    backbone = load_backbone(backbone_name)
    # Fashion-MNIST: the label-efficiency benchmark's cached 10,000-image pool, optionally
    # subsampled (seeded) to keep 20 seeds within a session's CPU time.
    pool_size = 10_000 if dataset == "fashion-mnist" else None
    test_size = 2_000 if dataset == "fashion-mnist" else None
    xp, yp, xt, yt, names = embedded_dataset(harness.dataset(dataset), backbone, pool_size=pool_size, test_size=test_size)
    if dataset == "fashion-mnist" and args.fashion_pool < len(xp):
        keep = np.sort(np.random.default_rng(0).choice(len(xp), args.fashion_pool, replace=False))
        xp, yp = xp[keep], yp[keep]
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 20 == 0 or done == total:
            print(f"  {dataset}: {done}/{total} steps, {time.perf_counter() - started:.0f} s", flush=True)

    def seed_done(done: int, partial: AuditSimulation) -> None:
        # Written after every seed, so an interrupted run still reports what it measured.
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{dataset}-{backbone_name}.json").write_text(json.dumps(partial.to_json()))
        if args.write_docs:
            write_docs(dataset, partial, args, done, time.perf_counter() - started)

    return simulate_audit(
        xp,
        yp,
        xt,
        yt,
        len(names),
        seeds=args.seeds,
        budget=args.budget,
        batch=10,
        head=args.head,
        every=args.every,
        progress=progress,
        seed_done=seed_done,
    )


def write_docs(dataset: str, result: AuditSimulation, args: argparse.Namespace, seeds_done: int, seconds: float) -> None:
    command = harness.command()
    partial = "" if seeds_done == args.seeds else f" **Partial: {seeds_done} of {args.seeds} seeds so far.**"
    body = (
        f"Command: `{command}` ({seconds / 60:.0f} min for this data set).{partial}\n\n"
        f"{harness.machine_summary()}. The app's loop replayed: `default` policy with one uniform audit "
        f"item per 10 labels, head `{args.head}`, {args.backbone} embeddings, {seeds_done} seeds, "
        f"Fashion-MNIST pool {args.fashion_pool:,} images (digits: 1,198), "
        f"budget {args.budget}, estimate (3-fold out-of-fold on audit labels, Wilson 90% "
        f"interval, none before 10 audit labels) at every {10 * args.every}th label, compared "
        "with the model's accuracy on the held-out test split. Raw checkpoints: "
        f"`{args.out}/`.\n\n" + describe(dataset, result, args.budget)
    )
    coverage, judged = result.coverage()
    harness.write_section(
        f"{TITLE}: {dataset}",
        body,
        command_line=command,
        rows={f"Audit estimate coverage, {dataset}": (f"{coverage:.1%} of {judged} checkpoints", "-")},
    )


def describe(dataset: str, result: AuditSimulation, budget: int) -> str:
    coverage, judged = result.coverage()
    lines = [
        f"### {dataset}",
        "",
        f"Coverage of the 90% interval: **{coverage:.1%}** of {judged} checkpoints "
        f"(goal ≥ 85%): {'met' if coverage >= 0.85 else 'NOT met'}.",
        "",
        "| labels | audit labels | runs | coverage | mean estimate | mean true accuracy | mean interval width |",
        "|---|---|---|---|---|---|---|",
    ]
    for labels, row in result.by_labels().items():
        lines.append(
            f"| {labels} | {row['audit_labels']:.0f} | {row['runs']} | {row['coverage']:.0%} | "
            f"{row['estimate']:.3f} | {row['truth']:.3f} | {row['width']:.3f} |"
        )
    stops = result.first_stops()
    fired = [c for c in stops if c is not None]
    final = {c.seed: c.true_accuracy for c in result.checkpoints if c.labels == max(x.labels for x in result.checkpoints)}
    lines.append("")
    if fired and all(c.labels == budget for c in fired):
        lines.append(
            f"Stopping rule fired in {len(fired)} of {len(stops)} runs, all at the last checkpoint "
            f"({budget} labels): this budget cannot tell how early it fires or what stopping there costs; "
            "a longer budget is needed for that."
        )
    elif fired:
        at = [c.labels for c in fired]
        shortfall = [100 * (final[c.seed] - c.true_accuracy) for c in fired]
        lines.append(
            f"Stopping rule fired in {len(fired)} of {len(stops)} runs within {budget} labels, at a median of "
            f"{int(np.median(at))} labels (range {min(at)}–{max(at)}); the true accuracy there was a median "
            f"{np.median(shortfall):.1f} points below the accuracy at {budget} labels (max {max(shortfall):.1f})."
        )
    else:
        lines.append(f"Stopping rule never fired within {budget} labels in {len(stops)} runs.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--datasets", default="digits,fashion-mnist")
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--head", default="default")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=600)
    parser.add_argument("--every", type=int, default=5, help="estimate at every N-th batch of 10 labels")
    parser.add_argument("--fashion-pool", type=int, default=10_000, help="subsample the 10,000-image pool")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; 1 lets two runs share a 2-core machine without "
        "oversubscription, which slowed small fits 8x in a test here",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/audit"))
    args = harness.parse(parser, smoke={"datasets": harness.TINY, "backbone": "pixels", "seeds": 1, "budget": 110, "every": 11})
    args.out = harness.out_dir(args, args.out, "audit")
    torch.set_num_threads(args.threads)
    for dataset in args.datasets.split(","):
        result = run(dataset, args.backbone, args)
        print(describe(dataset, result, args.budget), flush=True)


if __name__ == "__main__":
    main()
