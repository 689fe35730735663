"""Same behaviour after a redesign: the learning curves of this code against a baseline revision.

    PYTHONPATH=. python benchmarks/bench_same_behaviour.py --baseline-rev 3f24672 --write-docs

Runs ``aldesk simulate`` (one thread, the given data set, backbone, strategies, seeds and budget)
twice in fresh processes: once with the aldesk of ``--baseline-rev`` (a ``git archive`` copy) and
once with this checkout's, alternating ``--rounds`` times, and compares the two results curve by
curve. The simulation is seeded, so code that behaves the same gives the same curves to the last
digit: the report says "identical" or the largest difference. Wall time of each run is reported
too (medians; noisy on a shared machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import harness

TITLE = "Same behaviour after a redesign: learning curves against a baseline revision"


def simulate(code: Path, args, out: Path) -> tuple[dict, float]:
    """One ``aldesk simulate`` run with the aldesk found in ``code``; (its JSON, wall seconds)."""
    command = [
        sys.executable, "-m", "aldesk", "simulate", "--dataset", harness.dataset(args.dataset), "--backbone", args.backbone,
        "--strategies", args.strategies, "--seeds", str(args.seeds), "--budget", str(args.budget),
        "--batch", str(args.batch), "--out", str(out), "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(code), "ALDESK_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=out.parent, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"aldesk simulate failed with the code in {code}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout), seconds


def largest_difference(a: dict, b: dict) -> dict[str, float]:
    """Per strategy, the largest absolute difference between the two mean curves (0.0: identical)."""
    out = {}
    for name, curve in a["curves"].items():
        other = b["curves"].get(name)
        if other is None or len(other["accuracy"]) != len(curve["accuracy"]):
            out[name] = float("inf")
        else:
            out[name] = max(abs(x - y) for x, y in zip(curve["accuracy"], other["accuracy"]))
    return out


def _labels(value: int | None, budget: int) -> str:
    return f">{budget}" if value is None else str(value)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--baseline-rev", default="3f24672", help="the revision to compare with")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--strategies", default="default,random")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="baseline/current pairs (for the timing)")
    args = harness.parse(
        parser, smoke={"dataset": "tiny", "backbone": "pixels", "seeds": 1, "budget": 20, "baseline_rev": "HEAD"}
    )
    work = harness.scratch("same-behaviour")
    results: dict[str, list[dict]] = {"baseline": [], "current": []}
    seconds: dict[str, list[float]] = {"baseline": [], "current": []}
    with harness.code_at(args.baseline_rev) as baseline_tree:
        for round_ in range(args.rounds):
            for side, code in (("baseline", baseline_tree), ("current", harness.ROOT)):
                out = work / f"{side}-{round_}"
                out.mkdir(parents=True, exist_ok=True)
                result, wall = simulate(code, args, out)
                results[side].append(result)
                seconds[side].append(wall)
                print(f"{side} round {round_ + 1}: {wall:.1f} s", flush=True)
    base, cur = results["baseline"][0], results["current"][0]
    diffs = largest_difference(base, cur)
    same = all(d == 0.0 for d in diffs.values()) and base["labels_to"] == cur["labels_to"]
    verdict = "identical" if same else "different: " + ", ".join(f"{k} {v:.4f}" for k, v in diffs.items())
    print(f"curves: {verdict}")
    rows = [
        "| strategy | labels to 95% / 98% / 99% (baseline) | (current) | largest difference of the mean curves |",
        "|---|---|---|---|",
    ]
    for name in base["curves"]:
        b = " / ".join(_labels(base["labels_to"][name].get(t), args.budget) for t in ("95%", "98%", "99%"))
        c = " / ".join(_labels(cur["labels_to"].get(name, {}).get(t), args.budget) for t in ("95%", "98%", "99%"))
        rows.append(f"| {name} | {b} | {c} | {diffs[name]:.6f} |")
    wall_b, wall_c = harness.median(seconds["baseline"]), harness.median(seconds["current"])
    body = "\n".join([
        f"Command: `{harness.command()}`  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; baseline {harness.revision(args.baseline_rev)}, "
        f"current {harness.code_revision()}  ",
        f"{harness.machine_summary()}; load average at the end {harness.load_average()}.",
        "",
        f"`aldesk simulate --dataset {args.dataset} --backbone {args.backbone} --strategies {args.strategies} "
        f"--seeds {args.seeds} --budget {args.budget} --batch {args.batch}`, one thread, in fresh processes, "
        f"with each revision's aldesk. Full-pool accuracy: baseline {base['full_pool_accuracy']:.4f}, "
        f"current {cur['full_pool_accuracy']:.4f}. **Curves: {verdict}.**",
        "",
        *rows,
        "",
        f"Wall time of one simulation (median of {args.rounds}, alternating): baseline {wall_b:.1f} s, "
        f"current {wall_c:.1f} s ({harness.ratio(wall_c, wall_b):.2f}x).",
    ])  # fmt: skip
    print(body)
    if args.write_docs:
        harness.write_section(
            TITLE, body, rows={f"Same learning curves as {args.baseline_rev} ({args.dataset}, {args.strategies})": (
                verdict, f"{harness.ratio(wall_c, wall_b):.2f}x the baseline's simulation time")},
            command_line=harness.command(),
        )  # fmt: skip


if __name__ == "__main__":
    main()
