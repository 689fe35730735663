"""A wider byte-flip scan than the test suite's: for each seed, random bit flips in a copy of the
test project, SQLite's two checks on it, then info, label, export, recover and suspects through
the command line in this process; counts the files each check finds damaged and every exception
that escaped the command line (a traceback a person would see).

    PYTHONPATH=. python benchmarks/byte_flip_scan.py [--seeds 300]
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import tempfile
from pathlib import Path

from aldesk.cli import main as aldesk
from benchmarks import harness
from tests.faults import test_byte_flips as flips


def _ok(path: Path, pragma: str) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute(f"PRAGMA {pragma}").fetchall() == [("ok",)]
        finally:
            conn.close()
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        return False


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--seeds", type=int, default=300)
    args = harness.parse(parser, smoke={"seeds": 2})
    if args.write_docs:
        parser.error("this scan prints its counts; docs/reliability.md quotes them by hand")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)

        class Factory:  # what the test fixture is given by pytest
            def mktemp(self, name: str) -> Path:
                (root / name).mkdir()
                return root / name

        base = flips.base.__wrapped__(Factory())
        quick_bad = integrity_bad = 0
        escaped: list[tuple[int, str, str]] = []
        for seed in range(args.seeds):
            work = root / f"w{seed}"
            shutil.copytree(base, work)
            path = work / "p.aldesk"
            flips._flip(path, seed)
            quick_bad += not _ok(path, "quick_check")
            integrity_bad += not _ok(path, "integrity_check")
            for command in (
                ["info", str(path), "--json"],
                ["label", str(path), "--csv", str(work / "labels.csv")],
                ["export", str(path), "--format", "json", "--out", str(work / "o.json")],
                ["recover", str(path), "--out", str(work / "n.aldesk")],
                ["suspects", str(path)],
            ):
                try:
                    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                        aldesk(command)
                except BaseException as exc:  # noqa: BLE001 - counting what escapes is the point
                    escaped.append((seed, command[0], repr(exc)[:200]))
            shutil.rmtree(work)
    print(
        f"{args.seeds} seeds: quick_check finds damage in {quick_bad}, integrity_check in {integrity_bad}; "
        f"exceptions escaping the command line: {len(escaped)}"
    )
    for seed, command, text in escaped[:20]:
        print(f"  seed {seed} aldesk {command}: {text}")


if __name__ == "__main__":
    main()
