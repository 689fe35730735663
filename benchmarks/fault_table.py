"""The fault table of docs/reliability.md: runs the fault tests with their outcome log on and
counts, per kind of fault, the cases, the labels that had been acknowledged, those lost and the
tracebacks.

    PYTHONPATH=. python benchmarks/fault_table.py [--write]

--write (or --write-docs) replaces the table in docs/reliability.md (between its ``<!-- faults -->``
markers).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import harness

ROOT = harness.ROOT
TESTS = [
    "tests/faults",
    "tests/core/test_crash.py",
    "tests/core/test_project_check.py",
    "tests/gui/test_window_byte_flips.py",
    "tests/gui/test_window_disk_full.py",
    "tests/gui/test_window_read_only.py",
]
MARK = "<!-- faults -->"


def run_tests(log: Path, tests: list[str]) -> tuple[int, float]:
    env = dict(os.environ, ALDESK_FAULT_LOG=str(log), QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
    return done.returncode, time.monotonic() - started


def table(entries: list[dict]) -> str:
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in entries:
        row = rows[(e["fault"], e["command"])]
        row["cases"] += 1
        row["labels"] += e["labels"]
        row["lost"] += e["lost"]
        row["tracebacks"] += bool(e["traceback"])
        row["refused"] += bool(e["refused"])
    lines = [
        "| fault | command | cases | refused with a message | labels acknowledged before or during | labels lost | tracebacks |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    total = defaultdict(int)
    for (fault, command), row in sorted(rows.items()):
        lines.append(
            f"| {fault} | {command} | {row['cases']} | {row['refused']} | {row['labels']} | {row['lost']} | {row['tracebacks']} |"
        )
        for key in row:
            total[key] += row[key]
    lines.append(
        f"| **all** | | **{total['cases']}** | {total['refused']} | {total['labels']} | "
        f"**{total['lost']}** | **{total['tracebacks']}** |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--write", dest="write_docs", action="store_true", help="replace the table in docs/reliability.md")
    parser.add_argument("--tests", nargs="+", default=TESTS, help="pytest paths or node ids (default: every fault test)")
    args = harness.parse(
        parser,
        smoke={
            "tests": ["tests/faults/test_byte_flips.py::test_flipped_bytes_never_give_a_traceback_nor_a_write_into_damage[0]"]
        },
    )
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "faults.jsonl"
        code, seconds = run_tests(log, args.tests)
        entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    text = (
        f"{table(entries)}\n\nMade by `PYTHONPATH=. python benchmarks/fault_table.py --write` "
        f"({platform.node() or 'this machine'}, {time.strftime('%Y-%m-%d')}; the tests ran {seconds:.0f} s and "
        f"{'passed' if code == 0 else 'FAILED'}). Cases counted are the subprocess and command runs that "
        "log their outcome; the in-process window tests assert the same and are not counted here."
    )
    print(text)
    if args.write_docs:
        doc = harness.docs_path("reliability.md")
        before, _old, after = doc.read_text().split(MARK)
        doc.write_text(f"{before}{MARK}\n{text}\n{MARK}{after}")
        print(f"wrote the fault table of {doc}")
    sys.exit(code)


if __name__ == "__main__":
    main()
