"""A million items on one workstation: storage, opening, memory, refresh, info, import, embedding.

    PYTHONPATH=. nice -n 10 python benchmarks/bench_scale.py --items 1000000 --write-docs

The project comes from bench_scale_data.py (cached under ~/.cache/aldesk/bench/scale-<items>,
built on first use: 1,000,000 items, synthetic 1,280-d float16 embeddings for the default
backbone, ~118,000 labels of which ~100,000 in one class). Every figure is measured in a fresh
child process so that each one's peak memory (VmHWM) is its own:

- storage: reading all embeddings (the old concatenating loader as the baseline, the chunk-wise
  loader) and building the worker's pool features (from all vectors in memory vs streamed);
- open: ``aldesk PROJECT`` (the real app, bench_scale_app.py) under Xvfb, from launch to the first
  image painted; its memory (peak RSS and PSS of the app and its compute child, polled) while the
  worker builds its pool and refreshes twice; the time of each refresh as the app runs it;
- refresh: the worker's refresh steps through the real storage path (snapshot from the file,
  train, accuracy estimate, queue), median of ``--repeats``, against the engine's in-memory
  refresh on the same pool (the baseline: no file reads, no estimate);
- ``aldesk info`` on the million items (whole process; ``python -m aldesk --version`` as the
  start-up baseline);
- import rate on small images and the embedding rate of the pixels backbone (``--sample``
  generated 64x64 PNGs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks import harness

# A child measuring a baseline revision imports aldesk from that revision's code (--baseline-rev).
harness.use_code_from_env()

from benchmarks.bench_scale_data import SMOKE_ITEMS, project_for, reset_project  # noqa: E402

ROOT = harness.ROOT
TITLE = "A million items (scale)"
NAN = float("nan")  # the median of no runs (a part whose runs all failed)
KNOWN_PARTS = ("storage", "open", "refresh", "info", "import")


# -- memory ------------------------------------------------------------------------------------


def status_kib(pid: int | str, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                kids = (task / "children").read_text().split()
                out.extend(int(k) for k in kids)
                todo.extend(int(k) for k in kids)
        except OSError:
            pass
    return out


# -- children: one measurement each ----------------------------------------------------------


def child_main(mode: str, project_path: str, repeats: int) -> None:
    from aldesk.core import tuned_encoders, vectors
    from aldesk.core.store import open_project

    from aldesk.ml.device import configure_cpu_threads

    result: dict = {"mode": mode, "threads": configure_cpu_threads()}  # ALDESK_THREADS or the app's default
    base = status_kib("self", "VmRSS")
    with open_project(project_path, write=False) as project:
        eset = tuned_encoders.active_set(project)
        start = time.perf_counter()
        if mode == "load-concat":
            ids, vecs = _load_by_concatenating(project, eset)
            result["items"] = len(ids)
        elif mode == "load":
            ids, vecs = vectors.load_embeddings(project, eset)
            result["items"] = len(ids)
        elif mode in ("pool-full", "pool-stream", "pool-cached"):
            from aldesk.ml.loop import pool_cache
            from aldesk.ml.loop.pool import build_pool
            from aldesk.ml.loop.snapshot import take_snapshot

            if mode == "pool-stream":  # computed (and then kept), as at the first start
                pool_cache.load = lambda *_args, **_kw: None
            snapshot = take_snapshot(project, load_vectors=mode == "pool-full")
            pool = build_pool(project, snapshot)
            pool.graph()
            result["items"] = pool.size
        elif mode.startswith("refresh"):
            # "refresh": every label in the project; "refresh-N": the same N labeled items each time.
            limit = int(mode.split("-")[1]) if "-" in mode else None
            result.update(_time_refreshes(project, repeats, limit))
        elif mode == "job":
            result.update(_time_refresh_jobs(project, repeats))
        result["seconds"] = time.perf_counter() - start
    result["base_rss_mib"] = base / 1024
    result["peak_rss_mib"] = status_kib("self", "VmHWM") / 1024
    print("RESULT " + json.dumps(result), flush=True)


def _load_by_concatenating(project, eset):
    """The loader as it was before this benchmark (kept here as the baseline): all chunk blobs
    in memory, concatenated, then indexed twice."""
    import numpy as np

    ids_parts, vec_parts = [], []
    for blob_ids, blob_vecs in project.conn.execute(
        "SELECT item_ids, vectors FROM embedding_chunks WHERE set_id = ? ORDER BY id", (eset.id,)
    ):
        ids_parts.append(np.frombuffer(blob_ids, dtype=np.int64))
        vec_parts.append(np.frombuffer(blob_vecs, dtype=np.float16).reshape(-1, eset.dim))
    ids = np.concatenate(ids_parts)
    vecs = np.concatenate(vec_parts)
    present = np.fromiter((row[0] for row in project.conn.execute("SELECT id FROM items")), dtype=np.int64)
    _, last = np.unique(ids[::-1], return_index=True)
    keep = len(ids) - 1 - last
    keep = keep[np.isin(ids[keep], present)]
    order = np.argsort(ids[keep])
    return ids[keep][order], vecs[keep][order]


def _only_labels(snapshot, keep_ids) -> None:
    """Keep only the labels of these items in the snapshot (a project with fewer labels)."""
    import numpy as np

    mask = np.isin(snapshot.item_ids[snapshot.labeled], keep_ids)
    snapshot.labeled, snapshot.y = snapshot.labeled[mask], snapshot.y[mask]
    snapshot.audit = snapshot.audit[mask]
    snapshot.label_order = np.argsort(np.argsort(snapshot.label_order[mask], kind="stable"), kind="stable")


def _time_refreshes(project, repeats: int, limit: int | None = None) -> dict:
    """The worker's round, step by step, through the file; and the round without the accuracy
    estimate and the fallback (train, score, pick) on the same snapshot as the baseline."""
    import numpy as np

    from aldesk.ml.loop.jobs import FALLBACK_LENGTH, QUEUE_LENGTH
    from aldesk.ml.loop.pool import build_pool
    from aldesk.ml.loop.round import RoundSettings, run_round
    from aldesk.ml.loop.snapshot import pool_key, take_snapshot

    from aldesk.ml.loop import pool_cache

    hits = []
    load_cached = pool_cache.load
    pool_cache.load = lambda *a, **k: (lambda got: hits.append(got is not None) or got)(load_cached(*a, **k))
    start = time.perf_counter()
    snapshot = take_snapshot(project, load_vectors=False)
    pool = build_pool(project, snapshot)
    pool.graph()
    key = pool_key(snapshot)
    prepare = time.perf_counter() - start
    keep_ids = None
    if limit is not None:
        labeled_ids = snapshot.item_ids[snapshot.labeled]
        keep_ids = np.random.default_rng(0).choice(labeled_ids, min(limit, len(labeled_ids)), replace=False)
    totals, steps, baseline = [], [], []
    previous_head = None
    for _ in range(repeats + 1):  # the first one warms the head up (the app's first refresh)
        times = {}
        t = time.perf_counter()
        snapshot = take_snapshot(project, load_vectors=False, with_predictions=True)
        assert pool_key(snapshot) == key
        if keep_ids is not None:
            _only_labels(snapshot, keep_ids)
        times["snapshot"] = time.perf_counter() - t
        if previous_head is not None:
            snapshot.previous = previous_head
        app = RoundSettings(queue_length=QUEUE_LENGTH, fallback_length=FALLBACK_LENGTH, evaluate=True)
        result = run_round(snapshot, pool, app)
        assert result is not None and result.train is not None
        times["train + rescore"] = result.seconds["train"]
        times["accuracy estimate"] = result.seconds["evaluate"]
        times["queue"] = result.seconds["select"]
        previous_head = result.train.head
        steps.append(times)
        totals.append(sum(times.values()))
        snapshot.previous = previous_head
        t = time.perf_counter()
        run_round(snapshot, pool, RoundSettings(queue_length=QUEUE_LENGTH), rng=np.random.default_rng(0))
        baseline.append(time.perf_counter() - t)
    steps, totals, baseline = steps[1:], totals[1:], baseline[1:]
    return {
        "prepare_seconds": prepare,
        "prepare_from_cache": bool(hits and hits[0]),
        "labels": int(len(snapshot.y)),
        "refresh_median": harness.median(totals),
        "refresh_max": max(totals),
        "baseline_median": harness.median(baseline),
        "steps": {name: harness.median(s[name] for s in steps) for name in steps[0]},
    }


def _time_refresh_jobs(project, repeats: int) -> dict:
    """The app's whole refresh job (``JobRunner.refresh``, as its learning process runs it: also
    the suspects and the previous model's predictions), stage by stage from its progress messages.
    The app stores each result and the next refresh warm-starts from it; here nothing is written
    (the project is shared), so the next snapshot is handed the last head instead."""
    from aldesk.ml.loop import snapshot as snapshots
    from aldesk.ml.loop.jobs import JobRunner

    last_head = []
    take = snapshots.take_snapshot

    def take_as_if_stored(*args, **kwargs):
        snapshot = take(*args, **kwargs)
        if last_head:
            snapshot.previous = last_head[-1]
        return snapshot

    snapshots.take_snapshot = take_as_if_stored
    runner = JobRunner(project.path, None, lambda: False)
    runs = []
    for _ in range(repeats + 1):  # the first also loads the pool (features from the disk cache)
        marks, outcome = [("before", time.perf_counter())], []

        def emit(kind, payload):
            if kind == "progress":
                marks.append((payload[0], time.perf_counter()))
            elif kind == "refreshed":
                outcome.append(payload)

        runner.run("refresh", emit)
        marks.append(("end", time.perf_counter()))
        stages: dict[str, float] = {}
        for (name, t0), (_, t1) in zip(marks, marks[1:]):
            stages[name] = stages.get(name, 0.0) + t1 - t0
        runs.append(
            {
                "total": marks[-1][1] - marks[0][1],
                "stages": stages,
                "suspects": len(outcome[0].suspects or []),
                "labels": int(len(outcome[0].snapshot.y)),
            }
        )
        last_head.append(outcome[0].train.head)
    later = runs[1:]
    return {
        "first": runs[0],
        "labels": runs[0]["labels"],
        "suspects": runs[0]["suspects"],
        "job_median": harness.median(r["total"] for r in later),
        "job_max": max(r["total"] for r in later),
        "stages": {k: harness.median(r["stages"].get(k, 0.0) for r in later) for k in later[0]["stages"]},
    }


def run_child(mode: str, project: Path, repeats: int = 3, code: Path | None = None) -> dict:
    """``mode`` measured in a fresh process; with ``code``, aldesk is imported from that checkout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop(harness.CODE_ENV, None)
    if code is not None:
        env[harness.CODE_ENV] = str(code)
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--project", str(project), "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"child {mode} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


# -- the app under Xvfb ----------------------------------------------------------------------------


def run_app(project: Path, seconds: float, threads: str | None, offscreen: bool = False) -> dict:
    """Launch the real app; returns its events and the polled memory of it and its children.
    Under xvfb-run, or on Qt's offscreen platform with ``offscreen``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ALDESK_BENCH_T0=repr(time.time()))
    env.pop("QT_QPA_PLATFORM", None)
    if threads:
        env["ALDESK_THREADS"] = threads
    display = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24"]
    if offscreen:
        env["QT_QPA_PLATFORM"], display = "offscreen", []
    t0 = time.time()
    env["ALDESK_BENCH_T0"] = repr(t0)
    proc = subprocess.Popen(
        [*display, sys.executable, str(ROOT / "benchmarks" / "bench_scale_app.py"), str(project), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    events: list[dict] = []
    memory = {"rss_mib": 0.0, "pss_mib": 0.0, "hwm_mib": {}}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            # Under xvfb-run the app is a descendant; offscreen it is the process started.
            app = [p for p in ([proc.pid] if offscreen else []) + descendants(proc.pid) if "bench_scale_app" in _cmdline(p)]
            pids = app + [d for a in app for d in descendants(a)]
            rss = sum(status_kib(p, "VmRSS") for p in pids) / 1024
            pss = sum(pss_kib(p) for p in pids) / 1024
            memory["rss_mib"] = max(memory["rss_mib"], rss)
            memory["pss_mib"] = max(memory["pss_mib"], pss)
            for p in pids:
                memory["hwm_mib"][p] = max(memory["hwm_mib"].get(p, 0), status_kib(p, "VmHWM") / 1024)
            stop.wait(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    for line in proc.stdout:
        if line.startswith("{"):
            events.append(json.loads(line))
    proc.wait()
    stop.set()
    poller.join()
    stderr = proc.stderr.read()
    return {"events": events, "memory": memory, "stderr": stderr[-3000:], "code": proc.returncode}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


# -- info, import, embedding -----------------------------------------------------------------------


def time_command(argv: list[str], repeats: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return harness.repeat(lambda: subprocess.run(argv, env=env, check=True, capture_output=True), repeats)


def import_and_embed(sample: int) -> dict:
    """Import ``sample`` generated 64x64 PNGs (whole ``aldesk import`` process) and embed them
    with the pixels backbone in-process; rates per second."""
    import numpy as np
    from PIL import Image

    from aldesk.core.store import open_project
    from aldesk.ml.encoders import load_backbone
    from aldesk.ml.loop.embedding import embed_project

    harness.CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=harness.CACHE) as tmp:  # on disk, as the images would be (not a tmpfs)
        images = Path(tmp) / "images"
        rng = np.random.default_rng(0)
        for i in range(sample):
            folder = images / f"{i // 1000:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).resize((64, 64), Image.Resampling.BILINEAR).save(folder / f"{i}.png")
        project = Path(tmp) / "import.aldesk"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-m", "aldesk", "new", str(project)], env=env, check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "aldesk", "import", str(project), str(images)], env=env, check=True, capture_output=True
        )
        import_seconds = time.perf_counter() - start
        backbone = load_backbone("pixels")
        with open_project(project) as opened:
            start = time.perf_counter()
            report = embed_project(opened, backbone)
            embed_seconds = time.perf_counter() - start
    return {"sample": sample, "import_seconds": import_seconds, "embed_seconds": embed_seconds, "embedded": report.embedded}


# -- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--app-seconds", type=float, default=400.0, help="how long the app runs after its first paint (its refreshes must fit)"
    )
    parser.add_argument("--app-threads", default=None, help="ALDESK_THREADS for the app (default: its own)")
    parser.add_argument("--sample", type=int, default=5_000, help="images for the import and embedding rates")
    parser.add_argument("--only", default="storage,open,refresh,info,import", help="comma-separated parts to run")
    parser.add_argument(
        "--baseline-rev", default=None, help="also measure the refresh parts with aldesk from this git revision, in the same run"
    )
    parser.add_argument("--offscreen", action="store_true", help="the open part on Qt's offscreen platform, not Xvfb")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--project", default=None, help=argparse.SUPPRESS)
    args = harness.parse(parser, smoke={"items": SMOKE_ITEMS, "repeats": 1, "sample": 20, "app_seconds": 60, "offscreen": True})
    if args.child:
        child_main(args.child, args.project, args.repeats)
        return
    parts = set(args.only.split(","))
    project = project_for(args)
    results: dict = {"items": args.items, "project_gb": project.stat().st_size / 1e9, "repeats": args.repeats}
    if "storage" in parts:
        for mode in ("load-concat", "load", "pool-full", "pool-stream", "pool-cached"):
            results[mode] = run_child(mode, project)
            print(mode, results[mode], flush=True)
    if "open" in parts:
        reset_project(project)
        # The first launch without the kept pool features (as after new embeddings), the rest with.
        from aldesk.ml.loop import pool_cache

        shutil.rmtree(pool_cache.default_folder(), ignore_errors=True)
        results["open"] = []
        for _ in range(args.repeats):
            results["open"].append(run_app(project, args.app_seconds, args.app_threads, args.offscreen))
            reset_project(project)
        for run in results["open"]:
            print("open", json.dumps({k: run[k] for k in ("events", "memory", "code")}), flush=True)
        reset_project(project)
    if "refresh" in parts:
        for mode in ("refresh-2000", "refresh", "job"):
            results[mode] = run_child(mode, project, args.repeats)
            print(mode, results[mode], flush=True)
        if args.baseline_rev:
            results["baseline"] = measure_revision(args.baseline_rev, ("refresh", "job"), project, args.repeats)
            print("baseline", results["baseline"], flush=True)
    if "info" in parts:
        results["info"] = time_command([sys.executable, "-m", "aldesk", "info", str(project), "--json"], args.repeats)
        results["startup"] = time_command([sys.executable, "-m", "aldesk", "--version"], args.repeats)
        print("info", results["info"], "startup", results["startup"], flush=True)
    if "import" in parts:
        results["import"] = import_and_embed(args.sample)
        print("import", results["import"], flush=True)
    out = harness.out_dir(args, ROOT / "benchmarks" / "results", "scale") / "scale.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    command = harness.command("PYTHONPATH=. nice -n 10 python")
    commands = previous.get("commands", {})
    commands.update({part: command for part in parts if part in KNOWN_PARTS})
    previous.update(results, commands=commands)
    out.write_text(json.dumps(previous, indent=1) + "\n")
    if args.write_docs:
        harness.write_section(
            TITLE,
            report(previous).partition("\n")[2],
            command_line=command,
            rows=glance(previous, parts, results.get("baseline")),
        )


def measure_revision(rev: str, modes: tuple[str, ...], project: Path, repeats: int) -> dict:
    """The same child measurements with aldesk at ``rev`` (a copy of that revision's code)."""
    commit = harness.revision(rev)
    with harness.code_at(commit) as tree:
        return {"rev": commit, **{mode: run_child(mode, project, repeats, code=tree) for mode in modes}}


def glance(r: dict, parts: set[str], baseline: dict | None) -> dict[str, tuple[str, str]]:
    """The at-a-glance cells of the ``parts`` measured now, from the saved results ``r``; the
    refresh job against ``baseline``, the other revision measured in this run (None: not)."""
    items, rows = r["items"], {}
    if "storage" in parts:
        old, new = r["load-concat"], r["load"]
        rows[f"Scale, {items:,} items: loading every embedding"] = (
            f"{new['seconds']:.1f} s, {new['peak_rss_mib'] / 1024:.2f} GiB peak",
            f"{harness.ratio(old['seconds'], new['seconds']):.1f}x faster, "
            f"{harness.ratio(old['peak_rss_mib'], new['peak_rss_mib']):.1f}x less peak memory than the old loader",
        )
    if "open" in parts:
        paints = [next(e["t"] for e in run["events"] if e["event"] == "first_paint") for run in r["open"]]
        rows[f"Scale, {items:,} items: launch to first image painted"] = (
            f"{harness.median(paints, empty=NAN):.2f} s median",
            "-",
        )
        rows[f"Scale, {items:,} items: memory of the app (window + learning process)"] = (
            f"{max(run['memory']['rss_mib'] for run in r['open']) / 1024:.2f} GiB peak RSS "
            f"(PSS {max(run['memory']['pss_mib'] for run in r['open']) / 1024:.2f} GiB)",
            "-",
        )
    if "refresh" in parts:
        f = r["refresh"]
        rows[f"Scale, {items:,} items: refresh through the storage path, {f['labels']:,} labels"] = (
            f"{f['refresh_median']:.2f} s median",
            f"{harness.ratio(f['refresh_median'], f['baseline_median']):.2f}x the in-memory engine refresh",
        )
    if "refresh" in parts:
        j, base = r["job"], (baseline or {}).get("job")
        rows[f"Scale, {items:,} items: the app's whole refresh job"] = (
            f"{j['job_median']:.2f} s median",
            f"{harness.ratio(j['job_median'], base['job_median']):.2f} of the code at {baseline['rev']}" if base else "-",
        )
    if "info" in parts:
        info, startup = harness.median(r["info"], empty=NAN), harness.median(r["startup"], empty=NAN)
        rows[f"Scale, {items:,} items: `aldesk info`"] = (
            f"{info:.2f} s median",
            f"{harness.ratio(info, startup):.0f}x `python -m aldesk --version` ({info:.2f} / {startup:.2f} s)",
        )
    if "import" in parts:
        i = r["import"]
        rows["Scale: `aldesk import` of small PNGs"] = (f"{i['sample'] / i['import_seconds']:,.0f} files/s", "-")
    return rows


def report(r: dict) -> str:
    """The docs section from the saved results (every part present in ``r``)."""
    commands = sorted(set(r.get("commands", {}).values()))
    lines = [
        f"## {TITLE}",
        "",
        "Commands (parts run one after another; each keeps its results in "
        "`benchmarks/results/scale.json`, and the section is written from all of them):",
        "",
    ]
    lines += [f"    {c}" for c in commands]
    lines += [
        "",
        f"{harness.machine_summary()}; Python {platform.python_version()}; "
        f"load average at the end {os.getloadavg()[0]:.1f} (other jobs share the machine: single figures "
        "swing, the same-run baselines are the steadier comparison).",
        "",
        f"Project: {r['items']:,} items, {r['project_gb']:.2f} GB file, made by `benchmarks/bench_scale_data.py` "
        "(rows written directly, hard links to 300 generated 64x64 PNGs, synthetic 1,280-d float16 embeddings "
        "from a 10-Gaussian mixture stored with `vectors.add_chunk` in chunks of 512, ~118,000 imported labels: "
        "every item of one mixture component as class0, 2,000 of each other class).",
        "",
    ]
    if "load" in r:
        old, new, full, stream = r["load-concat"], r["load"], r["pool-full"], r["pool-stream"]
        lines += [
            "### Embedding storage (each in a fresh process; peak = VmHWM)",
            "",
            "| what | time | peak RSS |",
            "|---|---:|---:|",
            f"| baseline: the old loader (all chunk blobs, concatenate, index twice) | {old['seconds']:.1f} s | {old['peak_rss_mib'] / 1024:.2f} GiB |",
            f"| **`load_embeddings`**: chunk by chunk into one array | **{new['seconds']:.1f} s** | **{new['peak_rss_mib'] / 1024:.2f} GiB** |",
            f"| worker pool from all vectors (`load_embeddings` + `PoolModel.build` + k-NN graph) | {full['seconds']:.1f} s | {full['peak_rss_mib'] / 1024:.2f} GiB |",
            f"| **worker pool streamed** (`take_snapshot(load_vectors=False)` + `build_pool` + graph; then kept on disk) | **{stream['seconds']:.1f} s** | **{stream['peak_rss_mib'] / 1024:.2f} GiB** |",
            f"| worker pool at a later start (features read back memory-mapped from the cache + graph) | {r['pool-cached']['seconds']:.1f} s | {r['pool-cached']['peak_rss_mib'] / 1024:.2f} GiB |",
            "",
            f"- Loader: {old['seconds'] / new['seconds']:.1f}x faster, {old['peak_rss_mib'] / new['peak_rss_mib']:.1f}x less peak memory "
            "than the baseline (peaks include ~0.5 GiB of torch loaded before measuring). Streamed pool: peak memory "
            f"{full['peak_rss_mib'] / stream['peak_rss_mib']:.1f}x lower than building it from all vectors, time "
            f"{stream['seconds'] / full['seconds']:.2f}x; it reads the file twice (the projection's 20,000-row sample, "
            "then every chunk, projected 16,384 rows at a time) and the time is mostly the projection of 1M x 1,280 onto "
            "256 directions. It is paid once per new embeddings: the features are then kept in the user's cache folder "
            "(`aldesk/ml/loop/pool_cache.py`, 1 GB at 1M items, newest 2 pools kept), and a later start reads them back "
            f"({full['seconds'] / r['pool-cached']['seconds']:.1f}x faster than building from memory). Torch threads in "
            f"these children: {stream.get('threads', 'torch default')}.",
            "",
        ]
    if "open" in r:
        runs = r["open"]
        paints = [next(e["t"] for e in run["events"] if e["event"] == "first_paint") for run in runs]
        refreshes = [[e["t"] - p for e in run["events"] if e["event"] == "refresh"] for run, p in zip(runs, paints)]
        stores = [e["store_seconds"] for run in runs for e in run["events"] if e["event"] == "refresh"]
        rss = max(run["memory"]["rss_mib"] for run in runs)
        pss = max(run["memory"]["pss_mib"] for run in runs)
        hwm = [sorted((m for m in run["memory"]["hwm_mib"].values() if m > 50), reverse=True) for run in runs]
        lines += [
            "### Opening the project in the app (`aldesk PROJECT`, real window under Xvfb)",
            "",
            f"`benchmarks/bench_scale_app.py` runs `aldesk.gui.app.run_app(PROJECT)` (what `aldesk PROJECT` runs) "
            f"with methods wrapped to print times; {len(runs)} launch(es), the app's own thread setting.",
            "",
            f"- **Launch to first image painted: median {harness.median(paints, empty=NAN):.2f} s** (runs: "
            + ", ".join(f"{p:.2f}" for p in paints)
            + " s; goal 2 s). The clock starts before `xvfb-run` starts, "
            "so the X server's start-up is included.",
            "- Refresh results stored by the app, seconds after the first paint, per launch (the first launch "
            "without the pool features kept on disk, so its first refresh builds them from the file; the later "
            "launches read them back; each second refresh is a Ctrl+R retrain with the pool in memory): "
            + "; ".join(", ".join(f"{t:.0f} s" for t in run) for run in refreshes)
            + ". The first refresh of a launch "
            "includes starting the learning process, reading the pool features and its first job (see \"The app's "
            'whole refresh job"); the second, the 0.5 s before Ctrl+R and one job. '
            f"The GUI thread's part of storing one result (reserving the model version; after a thread wrote the "
            f"1M predictions, the model's row, the queue and 5,000 suspects): median {harness.median(stores, empty=NAN) * 1000:.0f} ms, "
            f"max {max(stores) * 1000:.0f} ms.",
            f"- **Memory of the app** (the window's process plus its compute child, polled every 0.2 s): peak summed "
            f"RSS **{rss / 1024:.2f} GiB**, PSS {pss / 1024:.2f} GiB (goal 4 GB); peak RSS per process (VmHWM): "
            + "; ".join(", ".join(f"{m / 1024:.2f}" for m in h) + " GiB" for h in hwm)
            + ".",
            "",
        ]
    refreshes = [(k, r[k]) for k in ("refresh-2000", "refresh") if k in r]
    if refreshes:
        lines += [
            "### Refresh through the real storage path (one process, pool kept)",
            "",
            "The refresh job's steps as the worker runs them: snapshot of ids and labels from the file (no "
            "vectors), train + rescore 1M items (app head, warm start), accuracy estimate (out-of-fold), queue of "
            f"40 + fallback ranking of 400. Median of {r.get('repeats', 3)} after one warm-up refresh (the warm-up "
            "also fits the temperature). Baseline in the same process and pool: the engine's in-memory refresh "
            "(train + rescore + pick; no file reads, no estimate).",
            "",
            "| labels | torch threads | full refresh: median (max) | steps (medians) | baseline | ratio | pool preparation (once per process) |",
            "|---:|---:|---:|---|---:|---:|---:|",
        ]
        for _name, f in refreshes:
            steps = ", ".join(f"{k} {v:.2f} s" for k, v in f["steps"].items())
            lines.append(
                f"| {f['labels']:,} | {f.get('threads', '?')} | **{f['refresh_median']:.2f} s** "
                f"({f['refresh_max']:.2f}) | {steps} | {f['baseline_median']:.2f} s | "
                f"{f['refresh_median'] / f['baseline_median']:.2f} | {f['prepare_seconds']:.1f} s"
                f"{' (features from the disk cache)' if f.get('prepare_from_cache') else ''} |"
            )
        base = r.get("baseline", {}).get("refresh")
        if base:
            steps = ", ".join(f"{k} {v:.2f} s" for k, v in base["steps"].items())
            lines.append(
                f"| {base['labels']:,}, code at {r['baseline']['rev']} (same run) | {base.get('threads', '?')} | "
                f"{base['refresh_median']:.2f} s ({base['refresh_max']:.2f}) | {steps} | "
                f"{base['baseline_median']:.2f} s | {base['refresh_median'] / base['baseline_median']:.2f} | "
                f"{base['prepare_seconds']:.1f} s |"
            )
        lines += [
            "",
            "Goal: 5 s on 2 cores. The accuracy estimate is instant here: imported labels are not audit "
            "items, and it needs 10 audit labels.",
            "",
        ]
    if "job" in r:
        from aldesk.ml.heads.linear import OOF_MAX_TRAIN_PER_CLASS

        j = r["job"]
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in j["stages"].items() if k != "before")
        lines += [
            "### The app's whole refresh job",
            "",
            f"What the app's learning process runs per refresh (`JobRunner.refresh`): the refresh above plus the "
            f"previous model's predictions (to say how much the new one changed) and the suspect labels ({j['suspects']:,} "
            f'kept, out-of-fold heads capped at {OOF_MAX_TRAIN_PER_CLASS:,} labels per class, see "Capped out-of-fold fits"). '
            f"{j['labels']:,} labels; median of {r.get('repeats', 3)} after a first job; each job warm-starts from the "
            "previous one's head, as the app's stored model does (nothing is written to the shared project).",
            "",
            f"- **Refresh job: median {j['job_median']:.2f} s** (max {j['job_max']:.2f}); stages (medians, named by "
            f"the progress message that starts them): {stages}.",
            f"- First job after start: {j['first']['total']:.1f} s (it also loads the pool features from the disk cache, "
            "and refits the temperature when the stored model's is out of date).",
        ]
        base = r.get("baseline", {}).get("job")
        if base:
            stages = ", ".join(f"{k} {v:.2f} s" for k, v in base["stages"].items() if k != "before")
            lines.append(
                f"- Baseline, aldesk at {r['baseline']['rev']} in the same run: median {base['job_median']:.2f} s "
                f"(ratio {j['job_median'] / base['job_median']:.2f}); {stages}; first job "
                f"{base['first']['total']:.1f} s."
            )
        lines.append("")
    if "info" in r:
        lines += [
            "### `aldesk info` on the million items",
            "",
            f"- `aldesk info PROJECT --json`, whole process: median **{harness.median(r['info'], empty=NAN):.2f} s** "
            f"(runs: {', '.join(f'{t:.2f}' for t in r['info'])}); start-up baseline `python -m aldesk --version` "
            f"{harness.median(r['startup'], empty=NAN):.2f} s.",
            "",
        ]
    if "import" in r:
        i = r["import"]
        lines += [
            "### Import and embedding rates",
            "",
            f"- `aldesk import` of {i['sample']:,} generated 64x64 PNGs (whole process, new project): "
            f"**{i['sample'] / i['import_seconds']:,.0f} files/s** ({i['import_seconds']:.1f} s). At that rate a "
            f"million such files take {1e6 / (i['sample'] / i['import_seconds']) / 60:.0f} min.",
            f"- Embedding them with the weight-free `pixels` backbone (`embed_project`, in-process): "
            f"**{i['embedded'] / i['embed_seconds']:,.0f} images/s**. For the pretrained backbones see the "
            "embedding benchmark (`benchmarks/bench_embed.py`).",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
