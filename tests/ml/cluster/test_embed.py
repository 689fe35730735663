"""aldesk embed --engine dask against a real Dask cluster started here: 2 worker processes,
1 thread each, on this machine (the same code path as a remote cluster, minus the network)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from aldesk.core import vectors  # noqa: E402
from aldesk.core.store import open_project  # noqa: E402
from aldesk.ml.encoders import load_backbone  # noqa: E402
from aldesk.ml.cluster.embed import default_shard_dir, embed_on_cluster  # noqa: E402
from aldesk.ml.cluster.shards import list_shards  # noqa: E402
from aldesk.ml.loop.embedding import embed_project  # noqa: E402
from tests.ml.cluster.test_shards import make_project  # noqa: E402

N = 40  # items per generated project; one of them is deleted after import (a failure)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def projects(tmp_path) -> tuple[Path, Path]:
    """Two copies of one project (same ids and paths), nothing embedded yet."""
    first = make_project(tmp_path, n=N)
    second = tmp_path / "copy.aldesk"
    shutil.copy(first, second)
    (tmp_path / "imgs" / "007.png").unlink()
    return first, second


def stored(path: Path, identity: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(ids, vectors, rows stored including duplicates)."""
    with open_project(path, write=False) as project:
        eset = vectors.find_set(project, identity)
        ids, vecs = vectors.load_embeddings(project, eset)
        rows = project.conn.execute(
            "SELECT coalesce(sum(count), 0) FROM embedding_chunks WHERE set_id = ?", (eset.id,)
        ).fetchone()[0]
    return ids, vecs, rows


def test_cluster_vectors_equal_the_local_engine(client, projects):
    on_cluster, local = projects
    backbone = load_backbone("pixels", device="cpu")
    with open_project(on_cluster) as project:
        report = embed_on_cluster(project, backbone, client, shard_size=8)
    with open_project(local) as project:
        expected = embed_project(project, backbone)
    got_ids, got, _ = stored(on_cluster, backbone.identity)
    want_ids, want, _ = stored(local, backbone.identity)
    assert (report.embedded, report.shards, report.planned) == (N - 1, 5, 5)
    assert report.failed == expected.failed and "007.png" in report.failed[0][0]
    assert np.array_equal(got_ids, want_ids) and np.array_equal(got, want)
    assert not default_shard_dir(on_cluster).exists()  # ingested shards and their folders removed
    with open_project(on_cluster) as project:  # again: only the unreadable item is tried
        again = embed_on_cluster(project, backbone, client, shard_size=8)
    assert (again.embedded, again.already, again.planned, len(again.failed)) == (0, N - 1, 1, 1)


def test_cancelled_run_resumes_without_embedding_anything_twice(client, projects):
    path, _ = projects
    backbone = load_backbone("pixels", device="cpu")
    ingested = []
    with open_project(path) as project:
        first = embed_on_cluster(
            project,
            backbone,
            client,
            shard_size=4,
            progress=lambda done, total: ingested.append(done),
            cancel=lambda: ingested[-1] >= 8,
        )
    assert first.cancelled and first.shards == 2 and first.embedded + len(first.failed) == 8
    with open_project(path) as project:
        second = embed_on_cluster(project, backbone, client, shard_size=4)
    # Shards the cancelled run's running tasks finished are picked up, the rest computed now:
    # together exactly what the first run had not stored.
    assert not second.cancelled and second.already == first.embedded
    assert second.resumed + second.embedded == (N - 1) - first.embedded
    ids, _, rows = stored(path, backbone.identity)
    assert len(ids) == rows == N - 1  # every readable item once, none stored twice


def test_corrupt_shard_is_named_set_aside_and_redone(client, projects, tmp_path):
    made, fresh = projects
    backbone = load_backbone("pixels", device="cpu")
    with open_project(made) as project:
        embed_on_cluster(project, backbone, client, shard_size=10, keep_shards=True)
    # The copy finds those shards as if an earlier run of its own had left them.
    source = default_shard_dir(made)
    target = default_shard_dir(fresh)
    shutil.copytree(source, target)
    shards = list_shards(target)
    assert len(shards) == 4
    broken = shards[1]
    broken.write_bytes(broken.read_bytes()[:-100])
    messages = []
    with open_project(fresh) as project:
        report = embed_on_cluster(project, backbone, client, shard_size=10, say=messages.append)
    assert len(messages) == 1 and broken.name in messages[0] and "truncated or damaged" in messages[0]
    assert broken.with_name(broken.name + ".bad").exists()
    # Redone: the broken shard's 10 items, and the unreadable one (tried again, as locally).
    assert (report.resumed, report.embedded, report.planned, len(report.failed)) == (29, 10, 2, 1)
    assert np.array_equal(stored(fresh, backbone.identity)[1], stored(made, backbone.identity)[1])


def test_task_errors_reach_the_client_with_the_workers_message(client, projects):
    path, _ = projects
    backbone = load_backbone("pixels", device="cpu")
    from aldesk.ml.cluster.embed import PathMap

    hidden = PathMap.parse([f"{path.parent}=/not/mounted/here"])
    with open_project(path) as project, pytest.raises(Exception, match="cannot see the shard folder"):
        embed_on_cluster(project, backbone, client, shard_size=20, path_map=hidden)


def test_images_missing_on_the_workers_but_present_here_stop_the_run(client, projects):
    path, _ = projects
    backbone = load_backbone("pixels", device="cpu")
    from aldesk.ml.cluster.embed import PathMap

    elsewhere = PathMap.parse([f"{path.parent / 'imgs'}=/not/mounted/imgs"])
    with open_project(path) as project:
        # Whichever of the two shards finishes first names its first image.
        with pytest.raises(
            Exception,
            match=r"found no file at /not/mounted/imgs/(0\d\d).png, which exists on "
            r"this machine as .*imgs/\1.png.*--path-map",
        ):
            embed_on_cluster(project, backbone, client, shard_size=20, path_map=elsewhere)
        assert len(vectors.embedded_ids(project, vectors.find_set(project, backbone.identity).id)) == 0


def test_unreachable_scheduler_is_named_with_what_to_check():
    from aldesk.ml.cluster.embed import connect

    with pytest.raises(Exception, match=r"Cannot reach the Dask scheduler at tcp://127.0.0.1:9 .*port"):
        with connect("tcp://127.0.0.1:9", timeout=1):
            pass


def test_a_bad_shard_from_a_task_is_set_aside_and_computed_again(client, projects, monkeypatch):
    from aldesk.ml.cluster import embed as cluster_embed
    from aldesk.ml.cluster.shards import ShardError

    path, _ = projects
    backbone = load_backbone("pixels", device="cpu")
    real, calls = cluster_embed.read_shard, []

    def damaged_once(shard_path):
        calls.append(shard_path.name)
        if len(calls) == 1:  # as if the file had been damaged between the worker and here
            raise ShardError(shard_path, "is truncated or damaged (simulated).")
        return real(shard_path)

    monkeypatch.setattr(cluster_embed, "read_shard", damaged_once)
    messages = []
    with open_project(path) as project:
        report = embed_on_cluster(project, backbone, client, shard_size=20, say=messages.append, keep_shards=True)
    assert calls.count(calls[0]) == 2 and len(calls) == 3  # two shards, the first one read twice
    assert report.embedded == N - 1 and len(report.bad) == 1 and calls[0] in messages[0]
    folder = default_shard_dir(path) / backbone.identity
    assert (folder / (calls[0] + ".bad")).exists() and (folder / calls[0]).exists()
