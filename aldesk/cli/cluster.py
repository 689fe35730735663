"""``aldesk embed`` on a cluster: the ``--engine dask`` and ``--ingest-shards`` options.

Dask is imported only when one of these runs; without it the message says what to install.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aldesk.core.errors import AldeskError
from aldesk.core.kinds import kind_of
from aldesk.core.store import open_project
from aldesk.cli.progress import TerminalProgress

if TYPE_CHECKING:
    from aldesk.ml.encoders import Backbone

_DASK_ONLY = ("scheduler", "shard_dir", "path_map", "keep_shards")


def add_cluster_options(embed: argparse.ArgumentParser) -> None:
    group = embed.add_argument_group("cluster (docs/cluster.md)")
    group.add_argument(
        "--engine",
        default="local",
        choices=("local", "dask"),
        help="local: this machine (default); dask: the workers of a Dask cluster",
    )
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="the Dask scheduler, e.g. tcp://host:8786 (or ALDESK_SCHEDULER); local:N starts N worker processes here",
    )
    group.add_argument(
        "--shard-size", type=int, default=None, metavar="N", help="items per cluster task and shard file (default 5000)"
    )
    group.add_argument(
        "--shard-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where workers write shards; must be shared with them (default PROJECT.aldesk-shards)",
    )
    group.add_argument(
        "--path-map", action="append", default=None, metavar="OLD=NEW", help="rewrite a path prefix for the workers (repeatable)"
    )
    group.add_argument("--keep-shards", action="store_true", help="keep shard files after ingesting them")
    group.add_argument(
        "--ingest-shards",
        type=Path,
        default=None,
        metavar="DIR",
        help="only ingest shard files made elsewhere (no embedding; files kept)",
    )


def wants_cluster(args: argparse.Namespace) -> bool:
    """True when ``aldesk embed`` should run here instead of the local engine; also rejects
    cluster options given without ``--engine dask``."""
    if args.ingest_shards is not None:
        return True
    if args.engine == "dask":
        return True
    given = [name for name in _DASK_ONLY if getattr(args, name) not in (None, False)]
    if args.shard_size is not None:
        given.append("shard_size")
    if given:
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        raise AldeskError(f"{options} apply to --engine dask only; add --engine dask.")
    return False


def cmd_cluster_embed(args: argparse.Namespace, load_backbone: Callable[[argparse.Namespace], Backbone]) -> int:
    if args.ingest_shards is not None:
        return _ingest(args)
    from aldesk.ml.cluster import embed as ce

    path_map = ce.PathMap.parse(args.path_map)
    address = ce.scheduler_address(args.scheduler)
    ce.import_distributed()  # the install hint before any slow work
    with open_project(args.project) as project:
        if kind_of(project).needs_files is False:
            raise AldeskError(
                f"{project.path} holds texts; the cluster engine embeds images. Embed the texts here with "
                f"aldesk embed {args.project} (about 300-500 texts a second on two cores)."
            )
        backbone = load_backbone(args)
        print(f"scheduler: {address}", file=sys.stderr)
        with ce.connect(address) as client:
            report = ce.embed_on_cluster(
                project,
                backbone,
                client,
                shard_dir=args.shard_dir,
                shard_size=args.shard_size or ce.DEFAULT_SHARD_SIZE,
                path_map=path_map,
                weights=args.weights,
                device=None if args.device == "auto" else args.device,
                batch_size=args.batch_size,
                keep_shards=args.keep_shards,
                progress=TerminalProgress("embedding on the cluster"),
            )
    print(
        f"embedded {report.embedded}, from earlier shards {report.resumed}, already embedded "
        f"{report.already}, failed {len(report.failed)} ({report.shards} of {report.planned} shards)"
    )
    for path, reason in report.failed:
        print(f"failed {path}: {reason}")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from aldesk.ml.cluster.embed import ingest_shards

    with open_project(args.project) as project:
        report = ingest_shards(project, args.ingest_shards)
    print(
        f"ingested {report.added} vectors from {report.shards} shards; already embedded {report.already}, "
        f"no longer in the project {report.gone}, failed {len(report.failures)}"
    )
    for path, reason in report.failures:
        print(f"failed {path}: {reason}")
    for exc in report.bad:
        print(f"not ingested: {exc}", file=sys.stderr)
    return 1 if report.bad else 0
