"""Embedding rate of ``--engine dask`` against the local engine, on the same images, same run.

    ALDESK_THREADS=1 PYTHONPATH=. nice -n 10 python benchmarks/bench_cluster_embed.py \\
        --images 160 --workers 2 --shard-size 40 --rounds 3 --json benchmarks/results/cluster_embed.json

Each round embeds a fresh copy of one project twice, alternating: the local engine
(``embed_project``, this process) and a Dask ``LocalCluster`` of ``--workers`` processes with
one thread each (``embed_on_cluster``: shard files written, read back, checked and ingested).
The cluster is started once and warmed up (every worker has loaded the backbone), as a real
cluster would be after its first shards; its start-up time is reported separately. Images are
bench_embed's generated 1600x1200 JPEGs. Besides images/s it reports CPU seconds per image
over all processes (this one, and every worker via ``client.run``) and how much of the wall
time the workers spent in their tasks. Results: docs/cluster.md (pasted by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from aldesk.core.importer import import_paths
from aldesk.core.store import create_project, open_project
from aldesk.ml.cluster.embed import embed_on_cluster
from aldesk.ml.encoders import load_backbone
from aldesk.ml.loop.embedding import embed_project
from benchmarks import harness
from benchmarks.bench_embed import make_images


def make_project(folder: Path, images: Path, name: str) -> Path:
    with create_project(folder / name) as project:
        import_paths(project, [images])
    return folder / name


def timed(run) -> tuple[float, float, int]:
    """(images/s, wall seconds, images)."""
    start = time.perf_counter()
    count = run()
    wall = time.perf_counter() - start
    return count / wall, wall, count


def worker_cpu(client) -> float:
    """CPU seconds used so far by all worker processes (every thread)."""
    return sum(client.run(time.process_time).values())


def main() -> int:
    parser = harness.parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-size", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backbone", default=None, help="default: aldesk's default backbone")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = harness.parse(parser, smoke={"images": 4, "workers": 1, "shard_size": 2, "rounds": 1, "backbone": "pixels"})
    if args.write_docs:
        parser.error("the results go to docs/cluster.md by hand: use --json")
    if args.smoke and args.json:
        args.json = harness.scratch("cluster") / args.json.name

    import distributed

    backbone = load_backbone(args.backbone, device="cpu")
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        images = work / "imgs"
        images.mkdir()
        make_images(images, args.images)
        template = make_project(work, images, "template.aldesk")
        warm_images = work / "warm"
        warm_images.mkdir()
        make_images(warm_images, 4 * args.workers)
        warm = make_project(work, warm_images, "warm.aldesk")

        start = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
        startup = time.perf_counter() - start
        rates: dict[str, list[float]] = {"local": [], "dask": []}
        busy: list[float] = []  # share of the wall time the workers spent in their tasks
        cpu: dict[str, list[float]] = {"local": [], "dask": []}  # CPU seconds per image, all processes
        try:
            with open_project(warm) as project:  # every worker loads the backbone once
                embed_on_cluster(project, backbone, client, shard_size=4)
            for round_ in range(args.rounds):
                for engine in ("local", "dask"):
                    copy = work / f"{engine}-{round_}.aldesk"
                    shutil.copy(template, copy)
                    with open_project(copy) as project:
                        cpu_start, workers_start = time.process_time(), worker_cpu(client)
                        if engine == "local":
                            rate, _, count = timed(lambda: embed_project(project, backbone).embedded)
                        else:
                            reports = []
                            rate, wall, count = timed(
                                lambda: (
                                    reports.append(embed_on_cluster(project, backbone, client, shard_size=args.shard_size))
                                    or reports[0].embedded
                                )
                            )
                            busy.append(reports[0].worker_seconds / (wall * args.workers))
                        used = time.process_time() - cpu_start + worker_cpu(client) - workers_start
                        cpu[engine].append(used / count)
                    rates[engine].append(rate)
                    print(f"round {round_ + 1} {engine:>5}: {rate:6.1f} images/s", file=sys.stderr)
        finally:
            client.close()
            cluster.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    local, dask = harness.median(rates["local"]), harness.median(rates["dask"])
    result = {
        "backbone": backbone.spec.name,
        "images": args.images,
        "workers": args.workers,
        "shard_size": args.shard_size,
        "rounds": args.rounds,
        "threads": os.environ.get("ALDESK_THREADS"),
        "local_images_per_s": rates["local"],
        "dask_images_per_s": rates["dask"],
        "median_local": round(local, 2),
        "median_dask": round(dask, 2),
        "ratio": round(harness.ratio(dask, local), 3),
        "cluster_startup_s": round(startup, 2),
        "worker_busy": [round(b, 3) for b in busy],
        "cpu_s_per_image": {k: [round(x, 4) for x in v] for k, v in cpu.items()},
        "machine": harness.machine_summary(),
    }
    print(f"| engine | images/s (median of {args.rounds}) | runs | CPU s per image (median) |\n|---|---|---|---|")
    for name, label in (("local", "local (this process)"), ("dask", f"dask, {args.workers} workers x 1 thread")):
        runs = ", ".join(f"{r:.1f}" for r in rates[name])
        print(f"| {label} | {harness.median(rates[name]):.1f} | {runs} | {harness.median(cpu[name]):.3f} |")
    print(
        f"\nworkers busy {harness.median(busy):.0%} of the wall time (median; the rest: waiting for tasks, "
        "the client reading, checking and storing shards)"
    )
    print(
        f"ratio dask / local: {harness.ratio(dask, local):.2f}; LocalCluster start-up {startup:.1f} s (not in the rates); "
        f"{backbone.spec.name}, {args.images} images 1600x1200 JPEG, shard size {args.shard_size}; {harness.machine_summary()}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
