"""Import and info benchmark: ``aldesk import`` of N generated small images, then ``aldesk info``.

Run from the repository root (aldesk need not be installed; the repository goes on PYTHONPATH
of every child process too):

    PYTHONPATH=. python benchmarks/bench_import.py --count 100000 --write-docs

What it does, in order:

1. Generates ``--count`` distinct 32x32 images (every ``--jpeg-every``-th a JPEG, the rest PNG)
   in folders of ``--per-folder`` files, with one process per core. Timed, but not a result.
2. For each of ``--import-repeats`` rounds, as separate child processes:
   - baseline "bare": walk the folder, SHA-256 every file and decode it with Pillow, with the
     importer's default number of threads; the floor any importer has to pay;
   - baseline "probe": the same, but validating each file with aldesk's own ``probe_image``
     (what the importer's worker threads do per file), so "import / probe" is the cost of the
     project store and the import bookkeeping alone;
   - ``aldesk new`` + ``aldesk import PROJECT IMAGES`` into a fresh project: wall time (including
     Python start-up), files/s, CPU time, and the peak RSS of that one process (``os.wait4``);
   - ``aldesk import`` of the same folder again (everything already present): files/s.
3. ``aldesk info PROJECT --json`` ``--repeats`` times (median and max wall time, including
   Python start-up), next to two start-up baselines (``python -c pass`` and
   ``python -m aldesk --version``), and the in-process ``project_info()`` call on its own.
4. Prints a Markdown section; ``--write-docs`` also writes it into docs/benchmarks.md,
   replacing an earlier version of the same section.

``--profile`` additionally runs ``aldesk info`` and one more fresh import under cProfile and
prints their top entries (not timed; cProfile sees only the main thread of the import).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import pstats
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import harness

REPO = harness.ROOT
DATASET_VERSION = 1  # bump when the generated images change, so kept work dirs are regenerated
IMAGE_SIDE = 32
INFO_LIMIT_S = 1.0
TITLE = "Import and info"


# --- generating the images --------------------------------------------------------------------


def _write_folder(job: tuple[Path, int, int, int]) -> int:
    """Write images number start .. start+n-1 into folder (runs in a worker process)."""
    import numpy as np
    from PIL import Image

    folder, start, n, jpeg_every = job
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(start, start + n):
        # Seeded noise: distinct content per index (so distinct SHA-256), same files every run.
        rng = np.random.default_rng(index)
        pixels = rng.integers(0, 256, size=(IMAGE_SIDE, IMAGE_SIDE, 3), dtype=np.uint8)
        im = Image.fromarray(pixels, "RGB")
        if jpeg_every and index % jpeg_every == jpeg_every - 1:
            im.save(folder / f"img{index:07d}.jpg", quality=90)
        else:
            im.save(folder / f"img{index:07d}.png")
    return n


def generate_images(images: Path, count: int, per_folder: int, jpeg_every: int) -> float:
    """Write the images with one process per core; returns the seconds it took."""
    jobs = []
    for number, start in enumerate(range(0, count, per_folder)):
        jobs.append((images / f"d{number:04d}", start, min(per_folder, count - start), jpeg_every))
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        written = sum(pool.imap_unordered(_write_folder, jobs))
    os.sync()  # so the kernel's write-back does not run during the measurements
    assert written == count, (written, count)
    return time.perf_counter() - started


def dataset_signature(count: int, per_folder: int, jpeg_every: int) -> dict[str, int]:
    return {"version": DATASET_VERSION, "count": count, "per_folder": per_folder, "jpeg_every": jpeg_every, "side": IMAGE_SIDE}


# --- running children -----------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    cpu_s: float  # user + system
    max_rss_mib: float
    stdout: str


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def run_child(argv: list[str], workdir: Path) -> Run:
    """Run ``argv``; wall time, CPU time and peak RSS of exactly that process (os.wait4)."""
    with tempfile.TemporaryFile(dir=workdir) as out, tempfile.TemporaryFile(dir=workdir) as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=child_env(), cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it, not Popen
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {shlex.join(argv)}\n{stdout}\n{stderr}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout)


def aldesk(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "aldesk", *map(str, args)]


def importer_threads() -> int:
    # The importer's default (aldesk/core/importer.py, import_paths): keep the two in step.
    return min(8, (os.cpu_count() or 2) + 2)


# --- baselines (run as children of this script: --baseline MODE DIR) --------------------------


def baseline_main(mode: str, folder: Path, threads: int) -> None:
    """Walk ``folder`` like the importer, hash and decode every image; print the count."""
    if mode == "probe":
        from aldesk.core.imageio import probe_image as check
    else:
        from PIL import Image

        def check(path: Path) -> None:
            with Image.open(path) as im:
                im.load()

    files: list[Path] = []
    for parent, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        files.extend(Path(parent) / name for name in sorted(filenames) if not name.startswith("."))
    results: list[int] = [0] * threads

    def work(slot: int) -> None:
        done = 0
        for path in files[slot::threads]:
            with open(path, "rb") as handle:
                hashlib.file_digest(handle, "sha256").hexdigest()
            check(path)
            done += 1
        results[slot] = done

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(sum(results))


def run_baseline(mode: str, images: Path, workdir: Path) -> Run:
    run = run_child(
        [sys.executable, str(Path(__file__).resolve()), "--baseline", mode, str(images), "--threads", str(importer_threads())],
        workdir,
    )
    return run


# --- the measurements -----------------------------------------------------------------------


@dataclass
class ImportRound:
    bare: Run
    probe: Run
    new: Run
    first: Run
    again: Run


@dataclass
class Results:
    count: int
    generate_s: float
    generated: bool
    rounds: list[ImportRound] = field(default_factory=list)
    info_runs: list[Run] = field(default_factory=list)
    python_start: list[Run] = field(default_factory=list)
    aldesk_start: list[Run] = field(default_factory=list)
    info_inproc: list[tuple[float, float]] = field(default_factory=list)  # (wall, CPU)
    missing_inproc: list[tuple[float, float]] = field(default_factory=list)  # (wall, CPU)
    missing_floor: list[tuple[float, float]] = field(default_factory=list)  # (wall, CPU)
    open_info_inproc: list[float] = field(default_factory=list)
    project_mib: float = 0.0
    images_mib: float = 0.0
    info: dict = field(default_factory=dict)
    breakdown: list[tuple[str, float, float]] = field(default_factory=list)


_SUMMARY = re.compile(r"imported (\d+), already present (\d+), skipped (\d+)")


def import_counts(run: Run) -> tuple[int, int, int]:
    found = _SUMMARY.search(run.stdout)
    if not found:
        raise SystemExit(f"unexpected aldesk import output:\n{run.stdout[:2000]}")
    return tuple(int(g) for g in found.groups())  # type: ignore[return-value]


def remove_project(project: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", "-lock"):  # -lock: aldesk/core/lock.py
        project.with_name(project.name + suffix).unlink(missing_ok=True)


def measure_import(images: Path, project: Path, workdir: Path, count: int, log) -> ImportRound:
    bare = run_baseline("bare", images, workdir)
    log(f"  baseline bare:   {count / bare.wall_s:8.0f} files/s  ({bare.wall_s:.1f} s, {bare.max_rss_mib:.0f} MiB)")
    probe = run_baseline("probe", images, workdir)
    log(f"  baseline probe:  {count / probe.wall_s:8.0f} files/s  ({probe.wall_s:.1f} s, {probe.max_rss_mib:.0f} MiB)")
    remove_project(project)
    new = run_child(aldesk("new", project), workdir)
    first = run_child(aldesk("import", project, images), workdir)
    got = import_counts(first)
    if got != (count, 0, 0):
        raise SystemExit(f"import reported {got}, expected ({count}, 0, 0):\n{first.stdout[:2000]}")
    log(
        f"  aldesk import:   {count / first.wall_s:8.0f} files/s  ({first.wall_s:.1f} s, "
        f"{first.max_rss_mib:.0f} MiB, CPU {first.cpu_s:.1f} s)"
    )
    again = run_child(aldesk("import", project, images), workdir)
    got = import_counts(again)
    if got != (0, count, 0):
        raise SystemExit(f"re-import reported {got}, expected (0, {count}, 0)")
    log(f"  re-import:       {count / again.wall_s:8.0f} files/s  ({again.wall_s:.1f} s, {again.max_rss_mib:.0f} MiB)")
    return ImportRound(bare, probe, new, first, again)


def measure_info(project: Path, workdir: Path, repeats: int, res: Results, log) -> None:
    for _ in range(repeats):
        res.python_start.append(run_child([sys.executable, "-c", "pass"], workdir))
        res.aldesk_start.append(run_child(aldesk("--version"), workdir))
        run = run_child(aldesk("info", project, "--json"), workdir)
        res.info_runs.append(run)
    res.info = json.loads(res.info_runs[-1].stdout)
    if res.info["items"] != res.count or res.info["missing"] != 0:
        raise SystemExit(f"aldesk info says items={res.info['items']}, missing={res.info['missing']}")
    log(f"  aldesk info --json: median {harness.median(r.wall_s for r in res.info_runs):.3f} s")

    from aldesk.core.info import missing_items, project_info
    from aldesk.core.store import open_project

    clock, cpu = time.perf_counter, time.process_time
    for _ in range(repeats):
        started = clock()
        with open_project(project, write=False) as opened:
            middle, middle_cpu = clock(), cpu()
            project_info(opened)
            ended, ended_cpu = clock(), cpu()
            # The part of project_info() that looks for missing files, called the same way.
            missing_items(opened, (row[0] for row in opened.conn.execute("SELECT path FROM items")))
            res.missing_inproc.append((clock() - ended, cpu() - ended_cpu))
            # Baseline: the same check on plain strings, one os.scandir per folder.
            base, base_cpu = clock(), cpu()
            gone = missing_by_strings(str(opened.root), opened.conn)
            res.missing_floor.append((clock() - base, cpu() - base_cpu))
            assert gone == 0, gone
            extra = clock() - ended  # the two checks above are not part of open + info + close
        res.info_inproc.append((ended - middle, ended_cpu - middle_cpu))
        res.open_info_inproc.append(clock() - started - extra)
    log(f"  project_info() in-process: median {harness.median(w for w, _ in res.info_inproc):.3f} s")


def breakdown(images: Path, workdir: Path, count: int, log) -> list[tuple[str, float, float]]:
    """In-process timings of the import's parts other than the per-file work (diagnostic).

    Replaces ``aldesk.core.importer._examine`` (the per-file hash + probe) by a stub that
    returns a distinct made-up digest at once, then runs ``import_paths`` into a fresh project:
    what remains is discovery, the thread pool's per-file futures, the path handling and the
    SQLite writes. Returns (what, wall s, CPU s) rows.
    """
    from aldesk.core import importer
    from aldesk.core.kinds.base import Examined, ImportOptions
    from aldesk.core.store import create_project

    rows: list[tuple[str, float, float]] = []

    def timed(what: str, func):
        wall, cpu = time.perf_counter(), time.process_time()
        value = func()
        rows.append((what, time.perf_counter() - wall, time.process_time() - cpu))
        log(f"  {what}: {rows[-1][1]:.2f} s")
        return value

    if not callable(getattr(importer, "_examine", None)):
        log("  breakdown skipped: aldesk.core.importer._examine is gone")
        return rows
    cands = timed(
        "`discover()` of the folder (os.walk + a Path per file)",
        lambda: list(importer.discover([images], ImportOptions(), importer.ImportReport())),
    )
    assert len(cands) == count, len(cands)
    stub_project = workdir / "breakdown.aldesk"
    remove_project(stub_project)
    project = create_project(stub_project)
    try:
        timed(
            "`Project.stored_path()` x 2 per file (as the import calls it)",
            lambda: [project.stored_path(c.path) for c in cands + cands],
        )
        real = importer._examine

        def stub(cand, _kind):
            digest = hashlib.sha256(os.fsencode(cand.path)).hexdigest()
            return Examined(digest, 1, IMAGE_SIDE, IMAGE_SIDE)

        importer._examine = stub
        try:
            report = timed(
                "`import_paths()` with the per-file work stubbed out (store, futures, paths)",
                lambda: importer.import_paths(project, [images]),
            )
        finally:
            importer._examine = real
        assert report.imported == count, report.summary()
    finally:
        project.close()
        remove_project(stub_project)
    # The real import, in-process, with 1, 2 and the default number of threads.
    for workers in sorted({1, 2, importer_threads()}):
        remove_project(stub_project)
        project = create_project(stub_project)
        try:
            report = timed(
                f"`import_paths(workers={workers})`, the real import in-process",
                lambda: importer.import_paths(project, [images], workers=workers),
            )
            assert report.imported == count, report.summary()
        finally:
            project.close()
            remove_project(stub_project)
    return rows


def missing_by_strings(root: str, conn: sqlite3.Connection) -> int:
    """Baseline for aldesk's missing-file check: the same query, one ``os.scandir`` per folder
    and a set lookup per item, on plain strings (no Path objects). Returns the number missing."""
    by_folder: dict[str, list[str]] = {}
    for (stored,) in conn.execute("SELECT path FROM items"):
        folder, _, name = os.path.join(root, stored).rpartition(os.sep)
        by_folder.setdefault(folder, []).append(name)
    gone = 0
    for folder, names in by_folder.items():
        try:
            present = {e.name for e in os.scandir(folder) if not e.is_dir()}
        except OSError:
            present = set()
        gone += sum(1 for name in names if name not in present)
    return gone


def profile(project: Path, images: Path, workdir: Path, top: int, log) -> str:
    """cProfile of `aldesk info` and of one more fresh import (main thread only); not timed."""
    sections = []
    prof_project = workdir / "profile.aldesk"
    remove_project(prof_project)
    run_child(aldesk("new", prof_project), workdir)
    for title, args in (
        ("aldesk info --json", ["info", str(project), "--json"]),
        ("aldesk import (fresh project; main thread only)", ["import", str(prof_project), str(images)]),
    ):
        out = workdir / "profile.pstats"
        run_child([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "aldesk", *args], workdir)
        for order in ("tottime", "cumulative"):
            stream = _Capture()
            stats = pstats.Stats(str(out), stream=stream)
            stats.strip_dirs().sort_stats(order).print_stats(top)
            sections.append(f"### cProfile: {title}, sorted by {order}\n\n```\n" + _trim_pstats(stream.text) + "```\n")
        out.unlink(missing_ok=True)
    remove_project(prof_project)
    text = "\n".join(sections)
    log(text)
    return text


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s


def _trim_pstats(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    keep = [line for line in lines if "function calls" in line or line.lstrip().startswith("ncalls") or re.match(r"\s*\d", line)]
    return "\n".join(keep) + "\n"


# --- the report -----------------------------------------------------------------------------


def _mib(value: float) -> str:
    return f"{value:,.0f} MiB"


def report(
    res: Results,
    machine: dict[str, str],
    command: str,
    started: dt.datetime,
    load_before: str,
    load_after: str,
    threads: int,
    jpeg_every: int,
    per_folder: int,
) -> str:
    n = res.count
    rounds = res.rounds
    k = len(rounds)

    def rate(runs: list[Run]) -> str:
        return f"{n / harness.median(r.wall_s for r in runs):,.0f} files/s"

    def secs(runs: list[Run]) -> str:
        return f"{harness.median(r.wall_s for r in runs):,.1f} s"

    bare = [r.bare for r in rounds]
    probe = [r.probe for r in rounds]
    first = [r.first for r in rounds]
    again = [r.again for r in rounds]
    ratio_bare = harness.median(r.first.wall_s / r.bare.wall_s for r in rounds)
    ratio_probe = harness.median(r.first.wall_s / r.probe.wall_s for r in rounds)
    cpu_bare = harness.median(r.first.cpu_s / r.bare.cpu_s for r in rounds)
    cpu_probe = harness.median(r.first.cpu_s / r.probe.cpu_s for r in rounds)
    rss = harness.median(r.first.max_rss_mib for r in rounds)
    rss_probe = harness.median(r.probe.max_rss_mib for r in rounds)
    info_walls = [r.wall_s for r in res.info_runs]
    info_med = harness.median(info_walls)
    verdict = "yes" if info_med < INFO_LIMIT_S else "**NO**"
    jpegs = n // jpeg_every if jpeg_every else 0
    generated = "generated" if res.generated else "reused from an earlier run with --keep"

    lines = [
        f"## {TITLE} ({n:,} images)",
        "",
        f"Command (from the repository root): `{command}`  ",
        f"Date: {started.strftime('%Y-%m-%d %H:%M UTC')}  ",
        f"Machine: {machine['cores']} cores, {machine['ram']} RAM, {machine['cpu']}, "
        f"{machine['gpu']}; {machine['os']}; work dir on {machine['filesystem']}  ",
        f"Software: Python {machine['python']}, Pillow {machine['pillow']}, "
        f"SQLite {machine['sqlite']}; aldesk at {machine['aldesk']}  ",
        f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after}. The machine is "
        "shared with other work running at the same time, so single figures can be off by tens "
        "of percent; the ratios against the same-run baselines are the steadier numbers.",
        "",
        f"Data: {n:,} distinct {IMAGE_SIDE}x{IMAGE_SIDE} RGB noise images ({n - jpegs:,} PNG, "
        f"{jpegs:,} JPEG), {per_folder:,} per folder, {res.images_mib:,.0f} MiB on disk, "
        f"{generated} in {res.generate_s:,.1f} s with {os.cpu_count()} processes (not part of "
        "any figure). The files are in the page cache throughout (just written or just read): "
        "these are warm-cache figures, disk reads are not measured.",
        "",
        f"### Import ({k} round{'s' if k != 1 else ''}; medians)",
        "",
        "Each figure is the wall time of a whole child process, Python start-up included; peak "
        "memory is that process's own maximum RSS (`os.wait4`). Both baselines walk the folder "
        f"and hash every file (SHA-256) with {threads} threads, the importer's default on this "
        "machine.",
        "",
        "| what | files/s | wall | CPU (user+sys) | peak RSS |",
        "|---|---:|---:|---:|---:|",
        f"| baseline *bare*: hash + Pillow `open().load()` | {rate(bare)} | {secs(bare)} | "
        f"{harness.median(r.cpu_s for r in bare):,.1f} s | {_mib(harness.median(r.max_rss_mib for r in bare))} |",
        f"| baseline *probe*: hash + aldesk `probe_image` | {rate(probe)} | {secs(probe)} | "
        f"{harness.median(r.cpu_s for r in probe):,.1f} s | {_mib(rss_probe)} |",
        f"| **`aldesk import`** into a new project | **{rate(first)}** | {secs(first)} | "
        f"{harness.median(r.cpu_s for r in first):,.1f} s | **{_mib(rss)}** |",
        f"| `aldesk import` again (all {n:,} already present) | {rate(again)} | {secs(again)} | "
        f"{harness.median(r.cpu_s for r in again):,.1f} s | {_mib(harness.median(r.max_rss_mib for r in again))} |",
        "",
        f"- Import takes **{ratio_bare:.2f}x** the time of the bare hash+decode baseline and "
        f"**{ratio_probe:.2f}x** that of the probe baseline (same per-file work as the importer's "
        "threads); the part above the probe baseline is the project store and the import's "
        f"bookkeeping. In CPU time (user+sys; also inflated when the machine is busy) "
        f"import costs **{cpu_bare:.2f}x** the bare and **{cpu_probe:.2f}x** the probe baseline; "
        f"{1e6 * harness.median(r.first.cpu_s for r in rounds) / n:,.0f} µs of CPU per file. "
        f"CPU/wall of the import: {harness.median(r.first.cpu_s / r.first.wall_s for r in rounds):.2f} "
        f"(the machine has {os.cpu_count()} cores).",
        "- Per round, import / probe wall time: "
        + ", ".join(f"{r.first.wall_s / r.probe.wall_s:.2f}" for r in rounds)
        + "; import wall times: "
        + ", ".join(f"{r.first.wall_s:.1f}" for r in rounds)
        + " s.",
        f"- Peak RSS of the import: {_mib(rss)}, {rss - rss_probe:+,.0f} MiB against the probe "
        f"baseline's process; that is {1024 * 1024 * (rss - rss_probe) / n:,.0f} bytes per file "
        "held by the import beyond the per-file work.",
        f"- Project file after import: {res.project_mib:,.1f} MiB ({1024 * 1024 * res.project_mib / n:,.0f} bytes per item).",
        "",
        *breakdown_lines(res, n),
        f"### `aldesk info` ({len(info_walls)} runs)",
        "",
        "| what | median wall | max wall | median CPU (user+sys) |",
        "|---|---:|---:|---:|",
        f"| **`aldesk info PROJECT --json`** (whole process) | **{info_med:.3f} s** | "
        f"{max(info_walls):.3f} s | {harness.median(r.cpu_s for r in res.info_runs):.3f} s |",
        f"| start-up baseline: `python -c pass` | {harness.median(r.wall_s for r in res.python_start):.3f} s | "
        f"{max(r.wall_s for r in res.python_start):.3f} s | "
        f"{harness.median(r.cpu_s for r in res.python_start):.3f} s |",
        f"| start-up baseline: `python -m aldesk --version` | "
        f"{harness.median(r.wall_s for r in res.aldesk_start):.3f} s | "
        f"{max(r.wall_s for r in res.aldesk_start):.3f} s | "
        f"{harness.median(r.cpu_s for r in res.aldesk_start):.3f} s |",
        f"| `project_info()` in-process (open project not counted) | "
        f"{harness.median(w for w, _ in res.info_inproc):.3f} s | {max(w for w, _ in res.info_inproc):.3f} s | "
        f"{harness.median(c for _, c in res.info_inproc):.3f} s |",
        f"| `open_project(write=False)` + `project_info()` + close, in-process | "
        f"{harness.median(res.open_info_inproc):.3f} s | {max(res.open_info_inproc):.3f} s | |",
        f"| of which `missing_items()` (the check for moved files), in-process | "
        f"{harness.median(w for w, _ in res.missing_inproc):.3f} s | "
        f"{max(w for w, _ in res.missing_inproc):.3f} s | "
        f"{harness.median(c for _, c in res.missing_inproc):.3f} s |",
        f"| baseline: the same missing-file check on plain strings (query, one `os.scandir` per "
        f"folder, a set lookup per item) | {harness.median(w for w, _ in res.missing_floor):.3f} s | "
        f"{max(w for w, _ in res.missing_floor):.3f} s | "
        f"{harness.median(c for _, c in res.missing_floor):.3f} s |",
        "",
        "Single runs of `aldesk info --json`: " + ", ".join(f"{w:.3f}" for w in info_walls) + " s.",
        "",
        f"- Under {INFO_LIMIT_S:g} s (median of the whole command): {verdict}. Peak RSS of "
        f"`aldesk info`: {_mib(harness.median(r.max_rss_mib for r in res.info_runs))}.",
        f"- `info` reported items={res.info['items']:,}, missing={res.info['missing']}.",
        "",
    ]
    return "\n".join(lines)


def glance(res: Results) -> dict[str, tuple[str, str]]:
    """The at-a-glance cells: the import rate against the probe baseline, aldesk info against
    Python's start-up with aldesk imported."""
    n, rounds = res.count, res.rounds
    info = harness.median(r.wall_s for r in res.info_runs)
    start = harness.median(r.wall_s for r in res.aldesk_start)
    return {
        f"`aldesk import`, {n:,} small images": (
            f"{n / harness.median(r.first.wall_s for r in rounds):,.0f} files/s",
            f"{harness.median(r.first.wall_s / r.probe.wall_s for r in rounds):.2f}x the time of hash + probe_image "
            f"({harness.median(r.first.wall_s / r.bare.wall_s for r in rounds):.2f}x hash + decode)",
        ),
        f"`aldesk info`, {n:,} items": (
            f"{info:.3f} s median",
            f"{harness.ratio(info, start):.1f}x `python -m aldesk --version` ({info:.3f} / {start:.3f} s)",
        ),
    }


def breakdown_lines(res: Results, n: int) -> list[str]:
    if not res.breakdown:
        return []
    lines = [
        "#### Where the import's time goes besides the per-file work (`--breakdown`, one run)",
        "",
        "In-process, after the rounds above. The stubbed run replaces the importer's per-file "
        "function (hash + `probe_image`) by a stub returning a made-up distinct digest; the "
        "last rows are the real import with different thread counts.",
        "",
        "| part | wall | CPU | per file |",
        "|---|---:|---:|---:|",
    ]
    for what, wall, cpu in res.breakdown:
        lines.append(f"| {what} | {wall:.2f} s | {cpu:.2f} s | {1e6 * wall / n:,.0f} µs |")
    return [*lines, ""]


# --- main -----------------------------------------------------------------------------------


def dir_mib(folder: Path) -> float:
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            total += os.stat(os.path.join(parent, name)).st_blocks * 512
    return total / 1024**2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = harness.parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=100_000, help="number of images (default 100000)")
    p.add_argument("--workdir", type=Path, default=None, help="where images and project go (default: a new temporary folder)")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep images and project afterwards (a later run with the same --workdir and data options reuses the images)",
    )
    p.add_argument("--repeats", type=int, default=5, help="runs of aldesk info (default 5)")
    p.add_argument("--import-repeats", type=int, default=3, help="rounds of baselines + fresh import + re-import (default 3)")
    p.add_argument("--per-folder", type=int, default=1000, help="images per folder (default 1000)")
    p.add_argument(
        "--jpeg-every", type=int, default=5, help="every Nth image is a JPEG, the rest PNG; 0 for PNG only (default 5)"
    )
    p.add_argument("--profile", action="store_true", help="also print cProfile top entries of info and of one more import")
    p.add_argument("--profile-top", type=int, default=15, help=argparse.SUPPRESS)
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="also time, in-process, the import's parts other than the per-file work "
        "(the importer's per-file function replaced by a stub) and the real "
        "import with 1, 2 and the default number of threads",
    )
    # Internal: the baseline child processes.
    p.add_argument("--baseline", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=importer_threads(), help=argparse.SUPPRESS)
    args = harness.parse(p, argv, smoke={"count": 20, "repeats": 1, "import_repeats": 1, "per_folder": 10})
    if args.baseline is None and (
        args.count < 1 or args.repeats < 1 or args.import_repeats < 1 or args.per_folder < 1 or args.jpeg_every < 0
    ):
        p.error("--count, --repeats, --import-repeats and --per-folder must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.baseline:
        mode, folder = args.baseline
        if mode not in ("bare", "probe"):
            raise SystemExit(f"unknown baseline {mode}")
        baseline_main(mode, Path(folder), args.threads)
        return 0

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    command = harness.command()
    started = dt.datetime.now(dt.timezone.utc)
    own_tmp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="aldesk-bench-")) if own_tmp else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    images = workdir / "images"
    project = workdir / "bench.aldesk"
    marker = workdir / "dataset.json"
    signature = dataset_signature(args.count, args.per_folder, args.jpeg_every)
    created_images = False
    try:
        machine = harness.machine(workdir)
        log(f"work dir {workdir}; machine: {machine}")
        kept = json.loads(marker.read_text()) if marker.exists() and images.is_dir() else {}
        if {key: kept.get(key) for key in signature} == signature:
            log(f"reusing the {args.count:,} images in {images}")
            res = Results(args.count, float(kept.get("generate_s", 0.0)), False)
        else:
            marker.unlink(missing_ok=True)
            shutil.rmtree(images, ignore_errors=True)
            log(f"generating {args.count:,} images ...")
            created_images = True
            seconds = generate_images(images, args.count, args.per_folder, args.jpeg_every)
            res = Results(args.count, seconds, True)
            log(f"  generated in {seconds:.1f} s")
        res.images_mib = dir_mib(images)
        load_before = harness.load_average()
        for number in range(args.import_repeats):
            log(f"import round {number + 1}/{args.import_repeats}")
            res.rounds.append(measure_import(images, project, workdir, args.count, log))
        res.project_mib = project.stat().st_size / 1024**2
        log(f"info ({args.repeats} runs)")
        measure_info(project, workdir, args.repeats, res, log)
        if args.breakdown:
            log("breakdown (in-process)")
            res.breakdown = breakdown(images, workdir, args.count, log)
        load_after = harness.load_average()
        section = report(
            res, machine, command, started, load_before, load_after, importer_threads(), args.jpeg_every, args.per_folder
        )
        print(section)
        if args.profile:
            print(profile(project, images, workdir, args.profile_top, lambda _m: None))
        if args.write_docs:
            heading, _, body = section.partition("\n")
            harness.write_section(heading.removeprefix("## "), body, command_line=command, rows=glance(res))
        if args.keep and created_images:
            marker.write_text(json.dumps({**signature, "generate_s": res.generate_s}) + "\n")
        under = harness.median(r.wall_s for r in res.info_runs) < INFO_LIMIT_S
        log(f"aldesk info median under {INFO_LIMIT_S:g} s: {'yes' if under else 'NO'}")
        return 0 if under else 1
    finally:
        if args.keep:
            log(f"kept {workdir}")
        elif own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            remove_project(project)
            remove_project(workdir / "profile.aldesk")
            remove_project(workdir / "breakdown.aldesk")
            if created_images:
                shutil.rmtree(images, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
