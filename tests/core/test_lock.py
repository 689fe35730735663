import os
import signal
import subprocess
import sys

import pytest

from aldesk.core.errors import ProjectLockedError
from aldesk.core.lock import lock_path_for
from aldesk.core.store import create_project, open_project

HOLDER = """
import sys, time
from aldesk.core.store import open_project
project = open_project(sys.argv[1])
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    path = tmp_path / "locked.aldesk"
    create_project(path).close()
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    yield path, child
    if child.poll() is None:
        child.kill()
    child.wait()


def test_second_writer_is_told_who_holds_the_project(holder):
    path, child = holder
    with pytest.raises(ProjectLockedError) as info:
        open_project(path)
    assert str(info.value).startswith(f"{path} is open in another aldesk (pid {child.pid} ")


def test_reading_works_while_another_aldesk_writes(holder):
    path, _child = holder
    with open_project(path, write=False) as project:
        assert project.schema_version >= 1


def test_stale_lock_of_a_killed_process_is_taken_over(holder):
    path, child = holder
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert lock_path_for(path).exists()  # the dead process left its lock file behind
    with open_project(path) as project:
        assert project.writable
        assert f"pid {os.getpid()} " in lock_path_for(path).read_text(errors="replace")


def test_lock_file_is_removed_on_close(tmp_path):
    path = tmp_path / "p.aldesk"
    create_project(path).close()
    project = open_project(path)
    assert lock_path_for(path).exists()
    with pytest.raises(ProjectLockedError):
        open_project(path)  # the same process counts as another writer too
    project.close()
    assert not lock_path_for(path).exists()
    open_project(path).close()
