"""What the integrity checks at open cost on the million-item benchmark project, against the code
before they existed (same run, same file).

    PYTHONPATH=. python benchmarks/bench_open_check.py [--items 1000000] [--repeats 5]
        [--baseline-rev 1551ad2] [--write]

Each measurement is a fresh child process (Python and the OS file cache as a person's second
open finds them: the file was read once before the timed runs) timing ``open_project`` only;
the close is not timed. Modes:

- ``write``: opening for writing as the command line does (the whole file: quick_check at this size);
- ``window``: opening for writing as the window does (the label tables only; the rest is checked
  in a background thread with integrity_check, timed separately as ``background``);
- ``read``: a read-only open (``info``, ``export``: the label tables);
- ``baseline``: ``open_project`` of the baseline revision (no check), from a copy of that revision's
  aldesk/ (``git archive``).

--write (or --write-docs) puts the section "Opening checks at a million items" into docs/benchmarks.md.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from benchmarks import harness
from benchmarks.bench_scale_data import SMOKE_ITEMS, project_for

ROOT = harness.ROOT

TITLE = "Opening checks at a million items"
CHILD = r"""
import json, sys, time
from pathlib import Path
from aldesk.core.store import open_project
path, mode = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
if mode == "write" or mode == "baseline":
    project = open_project(path)
elif mode == "window":
    project = open_project(path, full_check=False)
elif mode == "read":
    project = open_project(path, write=False)
elif mode == "background":
    project = open_project(path, full_check=False)
    from aldesk.gui.learning.integrity_check import BACKGROUND_LIMIT
    started = time.perf_counter()
    assert project.check_fully(limit_bytes=BACKGROUND_LIMIT) == []
seconds = time.perf_counter() - started
project.close()
print(json.dumps(seconds))
"""


def run_child(mode: str, project: Path, code: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(project), mode],
        cwd=code,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin"},
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(project: Path, repeats: int, baseline_rev: str) -> dict[str, list[float]]:
    with harness.code_at(baseline_rev) as tree:
        run_child("write", project, ROOT)  # one untimed read of the whole file into the cache
        modes = {"baseline": tree, "write": ROOT, "window": ROOT, "read": ROOT, "background": ROOT}
        # interleaved, so a noisy moment hits every mode alike
        return harness.interleave(
            {mode: lambda mode=mode, code=code: run_child(mode, project, code) for mode, code in modes.items()}, repeats
        )


def report(results: dict[str, list[float]], project: Path, items: int, command: str, rev: str) -> str:
    base = harness.median(results["baseline"])
    size = project.stat().st_size / 1e9
    conn = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    labeled = conn.execute("SELECT count(*) FROM items WHERE status = 'labeled'").fetchone()[0]
    conn.close()
    lines = [
        f"Command: `{command}`",
        "",
        harness.machine_summary() + ".",
        "",
        f"The {items:,}-item benchmark project ({size:.2f} GB: items, 1,280-d float16 embeddings, "
        f"{labeled:,} labels), cached by the OS; seconds of `open_project` alone, median of "
        f"{len(results['baseline'])} fresh processes each, interleaved; the baseline is revision {rev}, "
        "which checked nothing.",
        "",
        "| open | median s | min–max | vs baseline |",
        "|---|---:|---:|---:|",
    ]
    names = {
        "baseline": f"baseline ({rev}, no check)",
        "write": "for writing, command line (whole-file quick_check above 512 MB)",
        "window": "for writing, window (label tables only)",
        "read": "read-only (label tables only)",
        "background": "the window's background integrity_check of the whole file (off the GUI thread)",
    }
    for mode, label in names.items():
        values = results[mode]
        median = harness.median(values)
        lines.append(f"| {label} | {median:.2f} | {min(values):.2f}–{max(values):.2f} | {median - base:+.2f} s |")
    return "\n".join(lines)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-rev", default="1551ad2")
    parser.add_argument("--write", dest="write_docs", action="store_true", help="the same as --write-docs")
    args = harness.parse(parser, smoke={"items": SMOKE_ITEMS, "repeats": 1, "baseline_rev": "HEAD"})
    project = project_for(args)
    results = measure(project, args.repeats, args.baseline_rev)
    command = (
        "PYTHONPATH=. python benchmarks/bench_open_check.py"
        + (f" --items {args.items}" if args.items != 1_000_000 else "")
        + " --write"
    )
    text = report(results, project, args.items, command, args.baseline_rev)
    print(text)
    if args.write_docs:
        base = harness.median(results["baseline"])
        harness.write_section(
            TITLE,
            text,
            command_line=command,
            rows={
                f"Opening checks, {args.items:,} items: open for writing (command line)": (
                    f"{harness.median(results['write']):.2f} s",
                    f"{harness.median(results['write']) - base:+.2f} s against {args.baseline_rev} (no check)",
                ),
                f"Opening checks, {args.items:,} items: open in the window": (
                    f"{harness.median(results['window']):.2f} s",
                    f"{harness.median(results['window']) - base:+.2f} s against {args.baseline_rev} (no check)",
                ),
            },
        )


if __name__ == "__main__":
    main()
