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

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aldesk.ml import strategies  # noqa: E402
from benchmarks.docs import keep_open_problems_last, machine_summary, replace_section  # noqa: E402


def synthetic_pool(items: int, dim: int = 64, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (10, dim)).astype(np.float32)
    z = rng.normal(0, 1, (items, dim)).astype(np.float32)
    z += centres[rng.integers(0, 10, items)]
    return torch.from_numpy(z)


def load_module_at(ref: str):
    source = subprocess.run(["git", "show", f"{ref}:aldesk/ml/strategies.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--labels", default="500,2000,118000")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-ref", default=None)
    parser.add_argument("--baseline-max-labels", type=int, default=2000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    z = synthetic_pool(args.items)
    baseline = load_module_at(args.baseline_ref) if args.baseline_ref else None
    rows = ["| labels | now: median s (runs) | baseline: median s (runs) |", "| --- | --- | --- |"]
    for labels in (int(x) for x in args.labels.split(",")):
        now = time_select(strategies, z, labels, args.batch, args.repeats)
        base = "not run"
        if baseline is not None and labels <= args.baseline_max_labels:
            b = time_select(baseline, z, labels, args.batch, args.repeats)
            base = f"{statistics.median(b):.2f} ({', '.join(f'{t:.2f}' for t in b)})"
        row = f"| {labels:,} | {statistics.median(now):.2f} ({', '.join(f'{t:.2f}' for t in now)}) | {base} |"
        print(row, flush=True)
        rows.append(row)
    if args.write_docs:
        command = "PYTHONPATH=. python benchmarks/bench_cold_start.py " + " ".join(sys.argv[1:])
        body = (
            f"`{command}`\n\n{machine_summary()}. `TypicalStrategy.select(state, {args.batch})` on "
            f"{args.items:,} x 64 float32 synthetic rows (10-Gaussian mixture), no model; baseline = "
            f"strategies.py at `{args.baseline_ref}` in the same run. k is bounded at "
            f"{strategies.COLD_START_MAX_CLUSTERS} clusters once labels + n exceed it.\n\n" + "\n".join(rows)
        )
        replace_section("Typical cold start with many labels", body)
        keep_open_problems_last()


if __name__ == "__main__":
    main()
