"""Shard files and their ingest, without a cluster: the worker function runs in this process."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from aldesk.core import tuned_encoders, vectors
from aldesk.core.importer import import_paths
from aldesk.core.store import create_project, open_project
from aldesk.ml.encoders import load_backbone
from aldesk.ml.cluster.embed import PathMap
from aldesk.ml.cluster.ingest import DoneItems, ingest_folder
from aldesk.ml.cluster.worker import ShardTask, run_shard
from aldesk.ml.cluster.shards import ShardError, list_shards, read_shard, write_shard
from aldesk.ml.loop.embedding import embed_project
from tests.conftest import distinct_colour, write_image


def make_project(tmp_path: Path, n: int = 12, name: str = "p.aldesk") -> Path:
    for i in range(n):
        write_image(tmp_path / "imgs" / f"{i:03d}.png", distinct_colour(i * 911), size=(10 + i % 5, 9))
    with create_project(tmp_path / name) as project:
        import_paths(project, [tmp_path / "imgs"])
    return tmp_path / name


def shard_tasks(project_path: Path, folder: Path, size: int, run: str = "r1") -> list[ShardTask]:
    backbone = load_backbone("pixels", device="cpu")
    with open_project(project_path, write=False) as project:
        rows = project.conn.execute("SELECT id, path FROM items ORDER BY id").fetchall()
        files = [str(project.resolve(p)) for _, p in rows]
    return [
        ShardTask(
            str(folder),
            run,
            k // size,
            [r[0] for r in rows[k : k + size]],
            [r[1] for r in rows[k : k + size]],
            files[k : k + size],
            "pixels",
            backbone.identity,
            None,
            "cpu",
            None,
        )
        for k in range(0, len(rows), size)
    ]


def test_round_trip_keeps_ids_paths_vectors_and_failures(tmp_path):
    path = tmp_path / "shard-x-000001.npz"
    vecs = np.arange(6, dtype=np.float16).reshape(2, 3)
    write_shard(
        path,
        meta={"backbone": "b", "identity": "b-1", "dim": 3},
        ids=np.array([4, 9, 7]),
        paths=["a/ü.png", "b.png", "c d.png"],
        embedded=np.array([True, False, True]),
        vectors=vecs,
        reasons=["not an image"],
    )
    shard = read_shard(path)
    assert shard.ids.tolist() == [4, 9, 7] and shard.paths == ["a/ü.png", "b.png", "c d.png"]
    assert np.array_equal(shard.vectors, vecs)
    assert shard.failures() == [(9, "b.png", "not an image")]
    assert list_shards(tmp_path) == [path]  # and no temporary file left beside it
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_truncated_and_bit_flipped_shards_are_named(tmp_path):
    path = tmp_path / "shard-x-000001.npz"
    write_shard(
        path,
        meta={"backbone": "b", "identity": "b-1", "dim": 64},
        ids=np.arange(50),
        paths=[f"{i}.png" for i in range(50)],
        embedded=np.ones(50, bool),
        vectors=np.ones((50, 64), np.float16),
        reasons=[],
    )
    data = path.read_bytes()
    cut = tmp_path / "shard-x-000002.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="000002.npz is truncated or damaged"):
        read_shard(cut)
    flipped = tmp_path / "shard-x-000003.npz"
    raw = bytearray(data)
    at = data.index(np.ones(64, np.float16).tobytes()) + 10  # inside the vectors
    raw[at] ^= 0x01
    flipped.write_bytes(bytes(raw))
    shard = read_shard(flipped)  # ids and paths are intact ...
    with pytest.raises(ShardError, match="000003.npz is truncated or damaged.*CRC"):
        shard.vectors  # ... the vectors' checksum is not


def test_worker_function_writes_shards_that_ingest_like_the_local_engine(tmp_path):
    source = make_project(tmp_path)
    local = tmp_path / "local.aldesk"
    shutil.copy(source, local)
    (tmp_path / "imgs" / "003.png").unlink()  # one unreadable item, reported by both engines
    folder = tmp_path / "shards"
    folder.mkdir()
    done = [run_shard(task) for task in shard_tasks(source, folder, size=5)]
    assert [(d.embedded, d.failed) for d in done] == [(4, 1), (5, 0), (2, 0)]
    backbone = load_backbone("pixels", device="cpu")
    with open_project(local) as project:
        expected_report = embed_project(project, backbone)
        expected = vectors.load_embeddings(project, vectors.find_set(project, backbone.identity))
    with open_project(source) as project:
        report = ingest_folder(project, folder)
        got = vectors.load_embeddings(project, vectors.find_set(project, backbone.identity))
        again = ingest_folder(project, folder)  # nothing is stored twice
        assert len(vectors.embedded_ids(project, report.sets[backbone.identity])) == 11
    assert (report.shards, report.added, report.failures) == (3, 11, expected_report.failed)
    assert (again.added, again.already) == (0, 11)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_shard_of_another_project_is_refused_by_name(tmp_path):
    source = make_project(tmp_path / "a")
    other = make_project(tmp_path / "b", n=3)
    with open_project(other) as project:  # same ids, other pictures
        project.conn.execute("UPDATE items SET path = 'elsewhere/' || path")
        project.conn.commit()
    folder = tmp_path / "shards"
    folder.mkdir()
    run_shard(shard_tasks(source, folder, size=20)[0])
    seen = []
    with open_project(other) as project:
        report = ingest_folder(project, folder, after_each=lambda p, ok: seen.append(ok))
        assert len(vectors.embedded_ids(project, tuned_encoders.active_set(project).id)) == 0
    assert seen == [False] and report.added == 0
    assert "shard-r1-000000.npz does not belong to" in str(report.bad[0]) and "elsewhere/imgs/000.png" in str(report.bad[0])


def test_wrong_identity_is_refused_when_one_is_required(tmp_path):
    source = make_project(tmp_path)
    folder = tmp_path / "shards"
    folder.mkdir()
    run_shard(shard_tasks(source, folder, size=20)[0])
    with open_project(source) as project:
        report = ingest_folder(project, folder, identity="lite0-000000000000")
    assert report.added == 0 and "not lite0-000000000000" in str(report.bad[0])


def test_worker_refuses_a_folder_it_cannot_see_or_other_weights(tmp_path):
    source = make_project(tmp_path)
    folder = tmp_path / "shards"
    folder.mkdir()
    task = shard_tasks(source, folder, size=20)[0]
    moved = PathMap.parse([f"{tmp_path}=/nowhere/mounted"])
    with pytest.raises(Exception, match="cannot see the shard folder"):
        run_shard(ShardTask(**{**task.__dict__, "folder": moved(folder)}))
    with pytest.raises(Exception, match="client computes pixels-0000"):
        run_shard(ShardTask(**{**task.__dict__, "identity": "pixels-0000"}))


def test_path_map_rewrites_the_longest_matching_prefix():
    mapping = PathMap.parse(["/data=/mnt/data", "/data/cams=/fast/cams"])
    assert mapping("/data/x/1.jpg") == "/mnt/data/x/1.jpg"
    assert mapping("/data/cams/1.jpg") == "/fast/cams/1.jpg"
    assert mapping("/database/1.jpg") == "/database/1.jpg"  # a prefix of the name, not of the folder
    assert mapping("/data") == "/mnt/data"
    windows = PathMap.parse([r"D:\Archive=/gpfs/archive", "/=/root-mount"])
    assert windows(r"D:\Archive\2024\a.jpg") == "/gpfs/archive/2024/a.jpg"  # a Windows client, Linux workers
    assert windows("/srv/a.jpg") == "/root-mount/srv/a.jpg"
    assert PathMap.parse(["/data/=/"])("/data/x.jpg") == "/x.jpg"
    with pytest.raises(Exception, match="is not OLD=NEW"):
        PathMap.parse(["/data"])


def test_done_items_flags_grow_with_new_ids():
    done = DoneItems(np.array([2, 5]))
    done.add(np.array([40]))
    assert done.contains(np.array([1, 2, 5, 40, 99])).tolist() == [False, True, True, True, False]
    assert len(done) == 3


def test_stored_paths_of_dense_and_sparse_ids_agree(tmp_path):
    from aldesk.ml.cluster.ingest import stored_paths

    with open_project(make_project(tmp_path, n=30)) as project:
        every = dict(project.conn.execute("SELECT id, path FROM items"))
        ids = np.array(sorted(every))
        sparse = ids[[0, 29]]  # a range 15 times wider than the ids asked for
        assert stored_paths(project, ids) == every
        assert stored_paths(project, sparse) == {int(i): every[int(i)] for i in sparse}
        assert stored_paths(project, np.array([10_000])) == {}


def test_malloc_thresholds_are_restored_only_under_dasks_trim_setting(monkeypatch):
    import platform

    from aldesk.ml.cluster.worker import restore_malloc_thresholds

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert restore_malloc_thresholds() is False
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert restore_malloc_thresholds() is glibc
