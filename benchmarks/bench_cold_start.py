"""The ``typical`` cold start (aldesk/ml/strategies.py) on a large synthetic pool with many labels.

    PYTHONPATH=. python benchmarks/bench_cold_start.py --items 1000000 --labels 500,2000,118000 --repeats 3 \
        --baseline-ref HEAD~1 --baseline-max-labels 2000 --write-docs

z: ``--items`` x 64 float32 rows from a 10-Gaussian mixture (like pool.z), the first ``labels``
rows of a random permutation labeled (not eligible); ``select(state, --batch)`` is timed.
Baseline, same run: the strategies module as it was at ``--baseline-ref`` (git), loaded from
``git show``; it is only run up to ``--baseline-max-labels`` labels because its k = labels + n
makes it unusable beyond (over 60 min at 1M items with 118k labels). Medians of ``--repeats``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aldesk.ml import strategies
from benchmarks import harness

TITLE = "Typical cold start with many labels"


def synthetic_pool(items: int, dim: int = 64, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (10, dim)).astype(np.float32)
    z = rng.normal(0, 1, (items, dim)).astype(np.float32)
    z += centres[rng.integers(0, 10, items)]
    return torch.from_numpy(z)


def load_module_at(ref: str):
    source = subprocess.run(
        ["git", "show", f"{ref}:aldesk/ml/strategies.py"], cwd=harness.ROOT, check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "strategies_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("strategies_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def time_select(module, z: torch.Tensor, labels: int, batch: int, repeats: int) -> list[float]:
    times = []
    for r in range(repeats):
        rng = np.random.default_rng(r)
        eligible = np.ones(len(z), dtype=bool)
        eligible[rng.permutation(len(z))[:labels]] = False
        state = module.PoolState(z, eligible, None, np.zeros(10), rng)
        start = time.perf_counter()
        sel = module.TypicalStrategy().select(state, batch)
        times.append(time.perf_counter() - start)
        assert len(sel.indices) == batch and eligible[sel.indices].all()
    return times


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--labels", default="500,2000,118000")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-ref", default=None)
    parser.add_argument("--baseline-max-labels", type=int, default=2000)
    args = harness.parse(
        parser, smoke={"items": 3000, "labels": "20,100", "repeats": 1, "baseline_ref": "HEAD", "baseline_max_labels": 20}
    )
    torch.set_num_threads(2)
    z = synthetic_pool(args.items)
    baseline = load_module_at(args.baseline_ref) if args.baseline_ref else None
    rows = ["| labels | now: median s (runs) | baseline: median s (runs) |", "| --- | --- | --- |"]
    medians = {}
    for labels in (int(x) for x in args.labels.split(",")):
        now = time_select(strategies, z, labels, args.batch, args.repeats)
        base = "not run"
        medians[labels] = (harness.median(now), None)
        if baseline is not None and labels <= args.baseline_max_labels:
            b = time_select(baseline, z, labels, args.batch, args.repeats)
            base = f"{harness.median(b):.2f} ({harness.runs(b)})"
            medians[labels] = (harness.median(now), harness.median(b))
        row = f"| {labels:,} | {harness.median(now):.2f} ({harness.runs(now)}) | {base} |"
        print(row, flush=True)
        rows.append(row)
    if args.write_docs:
        command = harness.command()
        body = (
            f"`{command}`\n\n{harness.machine_summary()}. `TypicalStrategy.select(state, {args.batch})` on "
            f"{args.items:,} x 64 float32 synthetic rows (10-Gaussian mixture), no model; baseline = "
            f"strategies.py at `{args.baseline_ref}` in the same run. k is bounded at "
            f"{strategies.COLD_START_MAX_CLUSTERS} clusters once labels + n exceed it.\n\n" + "\n".join(rows)
        )
        most = max(medians)
        compared = max((n for n, (_now, base) in medians.items() if base is not None), default=None)
        versus = (
            "-"
            if compared is None
            else (
                f"{harness.ratio(*medians[compared]):.2f} of the code at {args.baseline_ref} at {compared:,} labels "
                f"({medians[compared][0]:.2f} / {medians[compared][1]:.2f} s)"
            )
        )
        harness.write_section(
            TITLE,
            body,
            command_line=command,
            rows={
                "Typical cold start, many labels": (f"{medians[most][0]:.2f} s at {most:,} labels, {args.items:,} items", versus)
            },
        )


if __name__ == "__main__":
    main()
