"""Odd files in an imported folder, and projects on a read-only mount, through the real command.

Each run is a child process with a time limit: a hang (a FIFO read forever, /dev/zero hashed
forever) fails the test instead of stopping the suite.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.faults.harness import assert_clean_exit, assert_project_intact, labels_of, record, run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs, devices and mounts: Linux")


def _project_with_labels(folder: Path) -> Path:
    from aldesk.core import labels
    from aldesk.core.classes import add_classes
    from aldesk.core.importer import import_paths
    from aldesk.core.store import create_project

    (folder / "images").mkdir(parents=True)
    for i in range(6):
        Image.new("RGB", (20, 20), (40 * i, 10, 10)).save(folder / "images" / f"{i}.png")
    path = folder / "p.aldesk"
    with create_project(path) as project:
        cat, _dog = add_classes(project, ["cat", "dog"])
        import_paths(project, [folder / "images"])
        labels.record(project, 1, "label", cat.id)
        labels.record(project, 2, "label", cat.id)
    return path


def test_import_skips_fifos_sockets_devices_and_odd_names_and_goes_on(tmp_path):
    path = _project_with_labels(tmp_path)
    odd = tmp_path / "odd"
    odd.mkdir()
    os.mkfifo(odd / "pipe.png")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(odd / "sock.png"))
    (odd / "zero.png").symlink_to("/dev/zero")
    (odd / "null.jpg").symlink_to("/dev/null")
    bad_name = os.fsencode(str(odd)) + b"/caf\xe9.png"
    Image.new("RGB", (20, 20), (1, 2, 3)).save(tmp_path / "tmp.png")
    shutil.move(tmp_path / "tmp.png", bad_name)
    for i in range(3):
        Image.new("RGB", (20, 20), (200, 30 * i, 7)).save(odd / f"good{i}.png")
    try:
        result = run(["import", "p.aldesk", "odd"], cwd=tmp_path, timeout=60)
    finally:
        server.close()
    record("FIFO, socket, device links, non-UTF-8 name", "aldesk import", labels=2, lost=2 - len(labels_of(path)), result=result)
    assert_clean_exit(result, str(path))
    assert result.returncode == 0
    out = result.stdout
    assert "imported 3" in out
    for name, reason in (
        ("pipe.png", "FIFO"),
        ("sock.png", "socket"),
        ("zero.png", "device"),
        ("null.jpg", "device"),
        ("caf", "UTF-8"),
    ):
        line = next((line for line in out.splitlines() if name in line), "")
        assert line.startswith("skipped") and reason in line, (name, out)
    assert_project_intact(path)
    assert len(labels_of(path)) == 2


def test_ctrl_c_during_import_keeps_what_is_done(tmp_path):
    path = _project_with_labels(tmp_path)
    many = tmp_path / "many"
    many.mkdir()
    for i in range(1500):
        Image.new("RGB", (64, 64), (i % 256, i // 256, 9)).save(many / f"{i:04d}.png")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    child = subprocess.Popen(
        [sys.executable, "-m", "aldesk", "import", "p.aldesk", "many"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    import sqlite3
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # interrupt once the first batch is in
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        count = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        conn.close()
        if count > 6 or child.poll() is not None:
            break
        time.sleep(0.05)
    child.send_signal(2)  # SIGINT, as Ctrl+C
    out, err = child.communicate(timeout=60)
    record("Ctrl+C (SIGINT)", "aldesk import", labels=2, lost=2 - len(labels_of(path)), traceback="Traceback" in err)
    assert "Traceback" not in err
    assert child.returncode in (0, 130), err  # 0: it finished before the signal came
    assert_project_intact(path)
    assert len(labels_of(path)) == 2
    conn = sqlite3.connect(path)
    kept = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    conn.close()
    if child.returncode == 130:
        assert "kept" in err + out and kept > 6


def _in_read_only_mount(folder: Path, command: str) -> subprocess.CompletedProcess:
    """Run ``command`` with ``folder`` bind-mounted read-only over itself, in a private mount
    namespace (needs root and unshare)."""
    script = f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} && {command}"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def read_only_mount(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    probe = _in_read_only_mount(tmp_path, "true")
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.strip()[:200]}")
    return tmp_path


def test_read_only_mount_reads_exports_and_refuses_labels_with_the_reason(read_only_mount):
    folder = read_only_mount / "stick"
    path = _project_with_labels(folder)
    before = path.read_bytes()
    aldesk = f"{sys.executable} -m aldesk"
    out = read_only_mount / "export.csv"  # outside the read-only mount
    rescued = read_only_mount / "rescued.aldesk"  # recover reads from the read-only mount
    done = _in_read_only_mount(
        folder,
        f"{aldesk} info {path} && {aldesk} export {path} --format csv --out {out} "
        f"&& {aldesk} recover {path} --out {rescued} "
        f"&& {aldesk} classes {path} --add wren; echo rc=$?",
    )
    record(
        "read-only mount",
        "aldesk info, export, recover, classes --add",
        labels=2,
        lost=2 - len(labels_of(path)),
        traceback="Traceback" in done.stderr,
    )
    assert "Traceback" not in done.stderr
    assert "labeled    2" in done.stdout
    assert out.exists() and "cat" in out.read_text()
    assert_project_intact(rescued)
    assert len(labels_of(rescued)) == 2
    assert "rc=1" in done.stdout
    message = done.stderr.strip().splitlines()[-1]
    assert str(path) in message and "read-only disk or mount" in message and str(folder) in message
    assert "damaged" not in message and "backup" not in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["images", "p.aldesk"]  # nothing left beside it
