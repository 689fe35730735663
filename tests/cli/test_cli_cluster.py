"""aldesk embed --engine dask / --ingest-shards through the command line."""

from __future__ import annotations

import shutil
import sys

import pytest

from aldesk.cli import main
from tests.cli.test_cli_ml import run
from tests.ml.cluster.test_shards import make_project


def test_cluster_options_need_the_dask_engine(capsys, tmp_path):
    project = make_project(tmp_path, n=2)
    code, _, err = run(capsys, "embed", project, "--scheduler", "tcp://h:8786", "--shard-size", "10")
    assert code == 1 and "--scheduler, --shard-size apply to --engine dask only" in err


def test_dask_engine_without_a_scheduler_says_how_to_give_one(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ALDESK_SCHEDULER", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    code, _, err = run(capsys, "embed", make_project(tmp_path, n=2), "--engine", "dask")
    assert code == 1 and "--scheduler tcp://HOST:8786 or ALDESK_SCHEDULER" in err


def test_dask_engine_without_dask_installed_names_the_extra(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    code, _, err = run(capsys, "embed", make_project(tmp_path, n=2), "--engine", "dask", "--scheduler", "local:1")
    assert code == 1 and "pip install 'aldesk[cluster]'" in err


def test_ingest_shards_needs_an_existing_folder(capsys, tmp_path):
    code, _, err = run(capsys, "embed", make_project(tmp_path, n=2), "--ingest-shards", tmp_path / "nope")
    assert code == 1 and "No shard folder" in err and "nope" in err


def test_embed_on_a_local_cluster_then_ingest_its_shards_elsewhere(capsys, tmp_path):
    pytest.importorskip("distributed")
    project = make_project(tmp_path, n=25)
    copy = tmp_path / "copy.aldesk"
    shutil.copy(project, copy)
    shards = tmp_path / "out"
    code, out, err = run(
        capsys,
        "embed",
        project,
        "--backbone",
        "pixels",
        "--engine",
        "dask",
        "--scheduler",
        "local:1",
        "--shard-size",
        "10",
        "--shard-dir",
        shards,
        "--keep-shards",
    )
    assert code == 0, err
    assert "embedded 25, from earlier shards 0, already embedded 0, failed 0 (3 of 3 shards)" in out
    code, out, _ = run(capsys, "embed", copy, "--ingest-shards", shards)
    assert code == 0 and "ingested 25 vectors from 3 shards; already embedded 0" in out
    code, out, _ = run(capsys, "embed", copy, "--backbone", "pixels")  # the local engine agrees: nothing left
    assert "embedded 0, already embedded 25" in out
    code, out, _ = run(capsys, "info", copy, "--json")
    assert '"embedded": 25' in out
    assert main(["embed", str(copy), "--ingest-shards", str(shards)]) == 0  # again: nothing stored twice
    assert "ingested 0 vectors from 3 shards; already embedded 25" in capsys.readouterr().out
