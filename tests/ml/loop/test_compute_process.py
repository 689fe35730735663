"""The background jobs in a child process: results arrive as messages, failures and a dead
child are reported, cancellation and stop end the child."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from aldesk.core import vectors
from aldesk.core.store import open_project
from aldesk.ml.loop.jobs import EmbedChunk, JobRunner, RefreshOutcome
from aldesk.ml.loop.compute_process import ComputeProcess, ComputeProcessDied
from tests.conftest import image_project


@pytest.fixture
def project_path(tmp_path):
    return image_project(tmp_path / "p.aldesk", tmp_path / "img", ["a", "b"], 12, step=50)


def _collect(process: ComputeProcess, job: str, **kwargs) -> list[tuple[str, object]]:
    messages: list[tuple[str, object]] = []
    process.run(job, lambda kind, payload: messages.append((kind, payload)), **kwargs)
    return messages


def _embed_into(path, process: ComputeProcess) -> None:
    """Embed in the child and store the chunks, as the window's controller does."""
    chunks: list[EmbedChunk] = [p for kind, p in _collect(process, "embed") if kind == "chunk"]
    with open_project(path) as project:
        for chunk in chunks:
            eset = vectors.get_or_create_set(project, chunk.backbone, chunk.identity, chunk.dim)
            vectors.add_chunk(project, eset.id, chunk.item_ids, chunk.vectors)


def test_embed_in_a_child_gives_the_same_vectors_as_in_this_process(project_path):
    process = ComputeProcess(project_path, "pixels")
    try:
        messages = _collect(process, "embed")
        child_pid = process.pid
    finally:
        process.stop()
    assert child_pid is not None and child_pid != os.getpid()
    chunks = [payload for kind, payload in messages if kind == "chunk"]
    assert ("embedding_done", "pixels") in messages
    assert sum(len(c.item_ids) for c in chunks) == 12
    here: list = []
    JobRunner(project_path, "pixels", lambda: False).run("embed", lambda kind, p: here.append((kind, p)))
    local = [p for kind, p in here if kind == "chunk"]
    np.testing.assert_array_equal(np.concatenate([c.vectors for c in chunks]), np.concatenate([c.vectors for c in local]))
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)  # stop() ended and reaped it


def test_refresh_result_comes_back_without_the_pool_vectors(project_path):
    process = ComputeProcess(project_path, "pixels")
    try:
        _embed_into(project_path, process)
        messages = _collect(process, "refresh")
    finally:
        process.stop()
    outcomes = [p for kind, p in messages if kind == "refreshed"]
    assert len(outcomes) == 1 and isinstance(outcomes[0], RefreshOutcome)
    outcome = outcomes[0]
    assert outcome.snapshot.vectors is None and len(outcome.snapshot.item_ids) == 12
    assert outcome.train is None  # no labels yet: the cold start needs no model
    assert 0 < len(outcome.queue) <= 12
    assert ("progress", ("training", 0, 1)) in messages


def test_a_failing_job_is_reported_and_the_child_keeps_serving(tmp_path, project_path):
    process = ComputeProcess(tmp_path / "missing.aldesk", "pixels")
    try:
        messages = _collect(process, "refresh")
        failures = [p for kind, p in messages if kind == "failed"]
        assert len(failures) == 1 and "missing.aldesk" in failures[0][0]
        assert process.is_alive()  # one failed job does not end the child
    finally:
        process.stop()


def test_a_killed_child_is_reported_and_the_next_job_starts_a_new_one(project_path):
    process = ComputeProcess(project_path, "pixels")
    try:
        _embed_into(project_path, process)
        first = process.pid
        killer = threading.Timer(1.0, lambda: os.kill(first, signal.SIGKILL))
        killer.start()
        with pytest.raises(ComputeProcessDied, match="labels are safe"):
            _collect(process, "refresh", slow_down=30.0)
        killer.join()
        messages = _collect(process, "refresh")
        assert process.pid not in (None, first)
        assert any(kind == "refreshed" for kind, _ in messages)
    finally:
        process.stop()


def test_cancel_stops_a_slow_job_and_stop_ends_the_child(project_path):
    process = ComputeProcess(project_path, "pixels")
    try:
        _embed_into(project_path, process)
        threading.Timer(0.5, process.cancel).start()
        started = time.monotonic()
        messages = _collect(process, "refresh", slow_down=30.0)
        assert time.monotonic() - started < 25  # cancelled long before the 30 s of slow work
        assert not any(kind == "refreshed" for kind, _ in messages)
        assert _collect(process, "refresh") == []  # a cancelled process runs nothing more
        pid = process.pid
    finally:
        process.stop()
    assert not process.is_alive()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_script_without_a_main_guard_is_not_run_again_in_the_child(tmp_path, project_path):
    import subprocess
    import sys
    from pathlib import Path

    marker = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})\n"
        f"open({str(marker)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "from aldesk.ml.loop.compute_process import ComputeProcess\n"
        f"p = ComputeProcess({str(project_path)!r}, 'pixels')\n"
        "seen = []\n"
        "p.run('embed', lambda kind, payload: seen.append(kind))\n"
        "p.stop()\n"
        "print('embedding_done' in seen)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert len(marker.read_text().split()) == 1  # only the parent ran the script


def test_after_kill_no_job_starts_a_child(project_path):
    process = ComputeProcess(project_path, "pixels")
    process.kill()  # a window closing while its worker thread is about to start a job
    assert _collect(process, "embed") == [] and process.pid is None


def test_ctrl_c_in_the_terminal_does_not_end_the_child(project_path):
    process = ComputeProcess(project_path, "pixels")
    try:
        _embed_into(project_path, process)
        threading.Timer(1.0, lambda: os.kill(process.pid, signal.SIGINT)).start()
        messages = _collect(process, "refresh", slow_down=2.0)
        assert any(kind == "refreshed" for kind, _ in messages)
    finally:
        process.stop()


def test_the_child_ends_when_its_parent_is_killed(tmp_path, project_path):
    import subprocess
    import sys
    from pathlib import Path

    here = ComputeProcess(project_path, "pixels")
    try:
        _embed_into(project_path, here)
    finally:
        here.stop()
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})\n"
        "from aldesk.ml.loop.compute_process import ComputeProcess\n"
        "if __name__ == '__main__':\n"
        f"    p = ComputeProcess({str(project_path)!r}, 'pixels')\n"
        "    p.start()\n"
        "    print(p.pid, flush=True)\n"
        "    p.run('refresh', lambda kind, payload: None, slow_down=600)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(3)  # the child is inside its long, rarely-checking job
    os.kill(child, 0)
    parent.kill()
    parent.wait(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        if _is_zombie(child):
            break  # ended; only its reaper (init) has not collected it yet
        time.sleep(0.1)
    else:
        pytest.fail(f"child {child} still running 30 s after its parent was killed")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
