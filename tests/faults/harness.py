"""Running aldesk under injected faults, and the checks every fault case must pass.

Each case runs aldesk in a child process (its own command line, or a small labeling script),
with a fault injected: a write that fails with ENOSPC from some call on (a full disk), a single
EIO (a failing disk), a file-size limit (``ulimit -f``). Afterwards the project is opened
without the fault and must show: no traceback, a one-line message naming the file, every label
acknowledged before (and during) the run, no lock file left, and ``PRAGMA integrity_check`` ok.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIM_SOURCE = Path(__file__).with_name("faultinject.c")


def build_shim(folder: Path) -> Path | None:
    """Compile the LD_PRELOAD fault injector; None where there is no C compiler or no ELF."""
    if not sys.platform.startswith("linux"):
        return None
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    target = folder / "faultinject.so"
    done = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(target), str(SHIM_SOURCE), "-ldl"], capture_output=True, text=True
    )
    return target if done.returncode == 0 else None


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: int | None  # matching write calls the shim counted (None without the shim)


def run(
    args: list[str],
    *,
    cwd: Path,
    shim: Path | None = None,
    match: str | None = None,
    after: int = 0,
    err: int = errno.ENOSPC,
    once: bool = False,
    file_limit: int | None = None,
    timeout: float = 120,
) -> Run:
    """Run ``python -m aldesk ARGS`` (or ``python -c SCRIPT`` when args[0] == "-c")."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("LD_PRELOAD", None)
    count_file = cwd / ".fault-count"
    count_file.unlink(missing_ok=True)
    if shim is not None:
        env.update(
            LD_PRELOAD=str(shim),
            FAULT_MATCH=match or "",
            FAULT_AFTER=str(after),
            FAULT_ERRNO=str(err),
            FAULT_COUNT_FILE=str(count_file),
        )
        if once:
            env["FAULT_ONCE"] = "1"

    def limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, resource.RLIM_INFINITY))

    command = [sys.executable] + (args if args[0] == "-c" else ["-m", "aldesk", *args])
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit if file_limit is not None else None,
    )
    calls = None
    if shim is not None and count_file.exists():
        calls = int(count_file.read_text().strip() or 0)
    return Run(done.returncode, done.stdout, done.stderr, calls)


def fault_points(total: int, most: int) -> list[int]:
    """Up to ``most`` call numbers spread over 1..total, always the first three and the last."""
    if total <= most:
        return list(range(1, total + 1))
    if most < 5:  # a few points, spread over the whole run
        return sorted({max(1, round(total * k / (most + 1))) for k in range(1, most + 1)})
    head = [1, 2, 3]
    rest = most - len(head) - 1
    spread = [4 + round(i * (total - 5) / max(rest - 1, 1)) for i in range(rest)]
    return sorted(set(head + spread + [total]))


# -- the checks ------------------------------------------------------------------------------


def record(
    fault: str,
    command: str,
    *,
    labels: int,
    lost: int,
    result: Run | None = None,
    traceback: bool | None = None,
    refused: bool | None = None,
) -> None:
    """One fault case's outcome, for docs/reliability.md (benchmarks/fault_table.py sets
    ALDESK_FAULT_LOG); a no-op otherwise. Recorded before the asserts, so a failing case counts."""
    log = os.environ.get("ALDESK_FAULT_LOG")
    if not log:
        return
    if traceback is None:
        traceback = result is not None and "Traceback" in result.stderr + result.stdout
    entry = {
        "fault": fault,
        "command": command,
        "labels": labels,
        "lost": lost,
        "traceback": traceback,
        "refused": refused if refused is not None else (result is not None and result.returncode == 1),
    }
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def assert_clean_exit(result: Run, *names: str) -> None:
    """No traceback; exit 0, or 1 with one 'aldesk: ' line naming one of ``names``."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode in (0, 1), (result.returncode, result.stderr)
    if result.returncode == 1:
        lines = [line for line in result.stderr.splitlines() if line.startswith("aldesk: ")]
        assert lines, result.stderr
        assert any(name in lines[-1] for name in names), (names, lines[-1])


def labels_of(path: Path) -> dict[int, tuple[str, int | None]]:
    """item id -> (status, class id) of every decided item, read without aldesk."""
    conn = sqlite3.connect(path)  # writable: replays a WAL left by a faulted run, as aldesk would
    try:
        return {i: (s, c) for i, s, c in conn.execute("SELECT id, status, label_class_id FROM items WHERE status != 'unlabeled'")}
    finally:
        conn.close()


def event_ids(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM label_events")}
    finally:
        conn.close()


def assert_project_intact(path: Path) -> None:
    """SQLite finds the file intact, and no lock file was left behind."""
    assert not Path(f"{path}-lock").exists(), "the lock file was left behind"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
