"""Embedding a project on a Dask cluster: the client side of ``aldesk embed --engine dask``.

Only this process opens the project. It lists the items without a vector, cuts them into
shards, and submits one task per shard (:mod:`aldesk.ml.cluster.worker`); each worker writes
its shard file into a folder both sides see, and this process ingests each file as its task
finishes (one transaction per shard) and then removes it. Resuming is per shard: a new run
first ingests the shard files an earlier run left (tasks that finished after it was killed
included), then embeds only what is still missing. A killed run loses at most its shards in
flight.

Why Dask and not Ray: the job is a bag of independent tasks, which both do. Dask is pure
Python (about 32 MB installed with its dependencies; Ray 2.60 is a 79 MB wheel of compiled
services, 202 MB unpacked, built per platform), connects to a scheduler by address, and
``dask-jobqueue`` starts its workers as ordinary SLURM/PBS/SGE/LSF batch jobs, the systems of
the university and hospital clusters aldesk's users have; Ray on those needs a head-node
script per site. docs/cluster.md has the details.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from aldesk.core import vectors
from aldesk.core.items import all_ids
from aldesk.core.errors import AldeskError
from aldesk.core.store import Project
from aldesk.ml.cluster.ingest import DoneItems, FolderReport, ingest_folder, ingest_shard, stored_paths
from aldesk.ml.cluster.worker import ShardDone, ShardTask
from aldesk.ml.cluster.shards import ShardError, read_shard

if TYPE_CHECKING:  # torch is imported only by whoever loads the backbone; Dask only with --engine dask
    from distributed import Client, Future

    from aldesk.ml.encoders import Backbone

SCHEDULER_ENV = "ALDESK_SCHEDULER"
DEFAULT_SHARD_SIZE = 5000
INSTALL_HINT = "pip install 'aldesk[cluster]'"

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
Say = Callable[[str], None]


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathMap:
    """Prefix rewrites from this machine's paths to the workers' (``--path-map OLD=NEW``)."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, specs: list[str] | None) -> "PathMap":
        pairs = []
        for spec in specs or []:
            old, sep, new = spec.partition("=")
            if not sep or not old or not new:
                raise AldeskError(f"--path-map {spec!r} is not OLD=NEW, e.g. --path-map /home/me/images=/shared/images")
            pairs.append((old.rstrip("/\\") or old[:1], new.rstrip("/\\") or new[:1]))
        # Longest prefix first, so /data/a=... wins over /data=...
        return cls(tuple(sorted(pairs, key=lambda p: -len(p[0]))))

    def __call__(self, path: str | Path) -> str:
        text = str(path)
        for old, new in self.pairs:
            if not text.startswith(old):
                continue
            rest = text[len(old) :]
            if rest and rest[0] not in "/\\" and old[-1] not in "/\\":
                continue  # /data must not match /database
            if not rest:
                return new
            posix = new.startswith("/")
            if posix:  # POSIX workers: a Windows client's C:\data\x.jpg becomes /mnt/data/x.jpg
                rest = rest.replace("\\", "/")
            return new.rstrip("/\\") + ("/" if posix or "\\" not in new else "\\") + rest.lstrip("/\\")
        return text


def default_shard_dir(project_path: Path) -> Path:
    """``PROJECT.aldesk-shards`` beside the project."""
    return project_path.with_name(project_path.name + "-shards")


def scheduler_address(explicit: str | None) -> str:
    """``--scheduler``, else ``ALDESK_SCHEDULER``, else Dask's own ``DASK_SCHEDULER_ADDRESS``."""
    address = explicit or os.environ.get(SCHEDULER_ENV, "").strip() or os.environ.get("DASK_SCHEDULER_ADDRESS", "").strip()
    if not address:
        raise AldeskError(
            f"--engine dask needs a scheduler: --scheduler tcp://HOST:8786 or {SCHEDULER_ENV}=tcp://HOST:8786 "
            "(docs/cluster.md), or --scheduler local:2 to try it with 2 worker processes on this machine."
        )
    return address


def import_distributed() -> ModuleType:
    try:
        import distributed
    except ImportError:
        raise AldeskError(f"--engine dask needs Dask's distributed scheduler, which is not installed: {INSTALL_HINT}") from None
    return distributed


@contextmanager
def connect(address: str, *, timeout: float = 20.0) -> Iterator[Client]:
    """A Dask client for ``address``; ``local`` or ``local:N`` starts N worker processes
    (1 thread each) on this machine for the duration."""
    distributed = import_distributed()
    if address == "local" or address.startswith("local:"):
        count = address.partition(":")[2] or "2"
        if not count.isdigit() or int(count) < 1:
            raise AldeskError(f"--scheduler {address!r}: write local:N with N worker processes, e.g. local:2.")
        with (
            distributed.LocalCluster(
                n_workers=int(count), threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise AldeskError(
            f"Cannot reach the Dask scheduler at {address} ({exc}). Is `dask scheduler` running there, and "
            "is its port (8786 by default) open from this machine? See docs/cluster.md."
        ) from None
    with client:
        yield client


# --- the job ---------------------------------------------------------------------------------


@dataclass
class ClusterReport:
    backbone: str
    embedded: int = 0  # vectors ingested from this run's tasks
    resumed: int = 0  # vectors ingested from shard files an earlier run left
    already: int = 0  # items that had a vector before this run
    failed: list[tuple[str, str]] = field(default_factory=list)
    shards: int = 0  # shards this run computed and ingested
    worker_seconds: float = 0.0  # time the workers spent on those shards (load, embed, write)
    planned: int = 0
    bad: list[str] = field(default_factory=list)  # messages about shard files set aside
    cancelled: bool = False


@dataclass
class _Plan:
    """The items still to embed, as consecutive groups of ids (paths are read when submitted)."""

    shards: list[np.ndarray]
    total: int


def plan_shards(project: Project, done: DoneItems, shard_size: int) -> _Plan:
    if shard_size < 1:
        raise AldeskError(f"--shard-size must be at least 1, not {shard_size}.")
    ids = np.array(all_ids(project), dtype=np.int64)
    todo = ids[~done.contains(ids)]
    return _Plan([todo[i : i + shard_size] for i in range(0, len(todo), shard_size)], len(todo))


def embed_on_cluster(
    project: Project,
    backbone: Backbone,
    client: Client,
    *,
    shard_dir: Path | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    path_map: PathMap = PathMap(),
    weights: Path | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    keep_shards: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    say: Say | None = None,
) -> ClusterReport:
    """Embed every item of ``project`` not yet embedded with ``backbone`` on ``client``'s cluster."""
    say = say or (lambda text: print(text, file=sys.stderr))
    distributed = import_distributed()
    eset = vectors.get_or_create_set(project, backbone.spec.name, backbone.identity, backbone.spec.dim)
    folder = (shard_dir or default_shard_dir(project.path)) / _folder_name(backbone.identity)
    folder.mkdir(parents=True, exist_ok=True)
    report = ClusterReport(backbone=backbone.spec.name)

    # 1. What an earlier run left: ingest it, set bad files aside (their items are redone).
    earlier = ingest_folder(
        project, folder, identity=backbone.identity, after_each=lambda path, ok: _dispose(path, ok, keep_shards)
    )
    report.resumed = earlier.added  # (its failures are tried again below, and reported then)
    _note_bad(earlier, report, say)

    # 2. What is still missing, in shards.
    done = DoneItems.of_set(project, eset.id)
    report.already = len(done) - report.resumed
    plan = plan_shards(project, done, shard_size)
    report.planned = len(plan.shards)
    run = secrets.token_hex(4)
    total, finished = plan.total, 0
    if progress:
        progress(0, total)

    def task_for(number: int) -> ShardTask:
        ids = plan.shards[number]
        paths = stored_paths(project, ids)
        stored = [paths[i] for i in ids.tolist()]
        return ShardTask(
            folder=path_map(folder),
            run=run,
            number=number,
            ids=ids.tolist(),
            stored=stored,
            files=[path_map(project.resolve(p)) for p in stored],
            backbone=backbone.spec.name,
            identity=backbone.identity,
            weights=path_map(weights) if weights else None,
            device=device,
            batch_size=batch_size,
        )

    def plan_task_files(number: int) -> dict[str, str]:
        """This machine's path -> the path the workers were given, for the shard's items."""
        return {
            str(project.resolve(p)): path_map(project.resolve(p)) for p in stored_paths(project, plan.shards[number]).values()
        }

    from aldesk.ml.cluster.worker import run_shard

    numbers: dict[str, int] = {}  # task key -> shard number

    def submit(number: int) -> Future[ShardDone]:
        # A fresh key per run, shard and attempt: the scheduler never hands back an older result.
        key = f"aldesk-embed-{run}-{number:06d}-{int(number in redone)}"
        numbers[key] = number
        return client.submit(run_shard, task_for(number), key=key, pure=False, retries=1)

    redone: set[int] = set()
    queue = iter(range(len(plan.shards)))
    window = _in_flight(client)
    pending = distributed.as_completed()
    futures: dict[int, Future[ShardDone]] = {}
    for number in queue:
        futures[number] = submit(number)
        pending.add(futures[number])
        if len(futures) >= window:
            break
    try:
        for future in pending:
            number = numbers.pop(future.key)
            futures.pop(number, None)
            done_task = _result(future, folder)
            path = folder / done_task.name
            try:
                shard = read_shard(path)
                if shard.ids.tolist() != plan.shards[number].tolist() or shard.identity != backbone.identity:
                    raise ShardError(path, "does not hold the items or backbone its task was given.")
                result = ingest_shard(project, shard, eset.id, done)
            except ShardError as exc:
                _dispose(path, False, keep_shards)
                if number in redone:
                    raise AldeskError(f"{exc} It was bad again when computed a second time; stopping.") from None
                say(f"{exc} Set aside as {path.name}.bad; computing it again.")
                report.bad.append(str(exc))
                redone.add(number)
                futures[number] = submit(number)
                pending.add(futures[number])
                continue
            _dispose(path, True, keep_shards)
            if result.failures:
                _check_workers_see_images(result.failures, plan_task_files(number), done_task.host)
            report.embedded += result.added
            report.failed.extend(result.failures)
            report.shards += 1
            report.worker_seconds += done_task.seconds
            finished += len(plan.shards[number])
            if progress:
                progress(finished, total)
            if cancel and cancel():
                report.cancelled = True
                break
            for number in queue:  # keep the window full
                futures[number] = submit(number)
                pending.add(futures[number])
                break
    finally:
        # Tasks already running finish and write their shards; the next run ingests them.
        client.cancel(list(futures.values()))
    if not keep_shards and not report.cancelled:
        _remove_if_empty(folder, folder.parent if shard_dir is None else None)
    return report


def ingest_shards(project: Project, folder: Path) -> FolderReport:
    """``aldesk embed PROJECT --ingest-shards DIR``: shards made elsewhere; files are kept."""
    if not folder.is_dir():
        raise AldeskError(f"No shard folder {folder}; give the folder the cluster job wrote its shards to.")
    return ingest_folder(project, folder)


# --- helpers ---------------------------------------------------------------------------------


def _folder_name(identity: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in identity)
    return safe or "backbone"


def _in_flight(client: Client) -> int:
    """Tasks submitted at once: two per worker thread keeps every worker busy while the client
    ingests, without handing the scheduler millions of paths (at least 4: workers may join)."""
    try:
        threads: int = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    except Exception:  # an older or busy scheduler: the minimum is still correct, only slower
        threads = 0
    return max(4, 2 * threads)


def _result(future: Future[ShardDone], folder: Path) -> ShardDone:
    try:
        return future.result()
    except AldeskError:
        raise
    except Exception as exc:  # whatever the worker raised, with the task's name for the log
        raise AldeskError(
            f"An embedding task failed on the cluster ({type(exc).__name__}: {exc}). Finished shards are "
            f"kept in {folder}; run the same command again to resume."
        ) from exc


def _check_workers_see_images(failures: list[tuple[str, str]], given: dict[str, str], host: str) -> None:
    """Stop when a worker reports images missing that this machine can read: the workers look
    at other storage, and every further shard would only list failures."""
    missing = [path for path, reason in failures if reason == "file not found"][:5]
    here = [path for path in missing if os.path.exists(path)]
    if here:
        raise AldeskError(
            f"Worker {host} found no file at {given.get(here[0], here[0])}, which exists on this machine as "
            f"{here[0]}. Mount the images at the same path on every worker, or map the prefix with "
            "--path-map OLD=NEW (docs/cluster.md). Shards finished so far are kept."
        )


def _dispose(path: Path, ok: bool, keep: bool) -> None:
    """An ingested shard is removed (its vectors are in the project now) unless kept; a bad one
    is renamed to ``*.bad`` so the next run neither reads it again nor loses it silently."""
    try:
        if not ok:
            path.replace(path.with_name(path.name + ".bad"))
        elif not keep:
            path.unlink()
    except FileNotFoundError:
        pass


def _remove_if_empty(*folders: Path | None) -> None:
    """Tidy up after a complete run: empty shard folders go (never one with files in it)."""
    for folder in folders:
        if folder is None:
            continue
        try:
            folder.rmdir()
        except OSError:
            return


def _note_bad(folder_report: FolderReport, report: ClusterReport, say: Say) -> None:
    for exc in folder_report.bad:
        say(f"{exc} Set aside as {exc.path.name}.bad; its items are embedded again.")
        report.bad.append(str(exc))
