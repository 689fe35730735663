"""End to end on a real X server: launch `aldesk PROJECT`, press keys with xdotool, quit with
Ctrl+Q, and check the labels in the file. Skipped where Xvfb or xdotool is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from aldesk.core.labels import history
from aldesk.core.store import open_project
from tests.conftest import image_project

pytestmark = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool")


@pytest.fixture
def x_display():
    display = ":%d" % (90 + os.getpid() % 50)
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(1.0)
    yield display
    server.terminate()
    server.wait(10)


def _two_class_project(tmp_path, name: str):
    return image_project(tmp_path / f"{name}.aldesk", tmp_path / "imgs", ["cat", "dog"], 12, step=50, size=(30, 20))


def _launch(path, tmp_path, x_display):
    """`python -m aldesk PATH` on the X server, its window focused; (process, xdotool runner)."""
    env = dict(os.environ, DISPLAY=x_display, HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="xcb")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    app = subprocess.Popen(
        [sys.executable, "-m", "aldesk", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    xdo = lambda *args: subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=60)
    found = xdo("search", "--sync", "--onlyvisible", "--name", "aldesk")
    if found.returncode != 0:
        app.kill()
        pytest.fail(f"no aldesk window: {found.stderr}")
    xdo("windowfocus", "--sync", found.stdout.split()[0])
    time.sleep(1.5)
    return app, xdo


def test_keys_typed_into_the_real_window_end_up_in_the_file(tmp_path, x_display):
    path = _two_class_project(tmp_path, "e2e")
    app, xdo = _launch(path, tmp_path, x_display)
    try:
        for key in ("1", "2", "space", "u", "1"):
            xdo("key", key)
            time.sleep(0.3)
        xdo("key", "ctrl+q")
        assert app.wait(60) == 0, app.stdout.read()
    finally:
        if app.poll() is None:
            app.kill()
    with open_project(path, write=False) as project:
        kinds = [e.kind for item in range(1, 13) for e in history(project, item)]
        labels = dict(project.conn.execute("SELECT label_class_id, count(*) FROM items WHERE status='labeled' GROUP BY 1"))
    assert sorted(kinds) == sorted(["label", "label", "skip", "unsure", "label"])
    assert labels == {1: 2, 2: 1}


def test_sigterm_closes_the_window_like_ctrl_q_and_ends_the_learning_process(tmp_path, x_display):
    import signal

    path = _two_class_project(tmp_path, "term")
    app, xdo = _launch(path, tmp_path, x_display)
    try:
        xdo("key", "2")
        children = []
        deadline = time.monotonic() + 60
        while not children and time.monotonic() < deadline:  # the learning process is spawned
            children = subprocess.run(["pgrep", "-P", str(app.pid)], capture_output=True, text=True).stdout.split()
            time.sleep(0.2)
        assert children, "no learning process was started"
        app.send_signal(signal.SIGTERM)
        assert app.wait(60) == 0, app.stdout.read()
    finally:
        if app.poll() is None:
            app.kill()
    # The learning process (and multiprocessing's resource tracker) end with the app.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_running(int(pid)) for pid in children):
        time.sleep(0.1)
    assert not [pid for pid in children if _running(int(pid))]
    with open_project(path) as project:  # writable again: the lock was released
        assert project.conn.execute("SELECT count(*) FROM items WHERE status = 'labeled'").fetchone()[0] == 1


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting for its reaper."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
