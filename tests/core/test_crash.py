"""Crash safety: a labeling process killed at random moments loses nothing it reported saved.

A child process labels in a loop (label / skip / unsure, and undoing some of its own events) and
prints each event id only after the call returned: that line is its acknowledgement that the
event is committed. The parent SIGKILLs it at a random moment, 20 times, and after each kill
reopens the project for writing (taking over the dead child's stale lock) and checks that every
acknowledged event is in the file, that each item's stored state matches its label history, and
that SQLite finds the file intact.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aldesk.core.classes import add_classes
from aldesk.core.lock import lock_path_for
from aldesk.core.store import create_project, open_project
from tests.faults.harness import event_ids, record

pytestmark = pytest.mark.skipif(sys.platform == "win32" or not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 20240611
ROUNDS = 20
ITEMS = 2000
CLASSES = ["cat", "dog", "bird", "fish"]
FIRST_ACK_TIMEOUT = 20.0  # seconds; generous for a loaded CI machine

# The child: labels until killed. Each acknowledgement line is printed (and flushed) only after
# labels.record / labels.undo returned, i.e. after the event's transaction committed:
#   ack <event_id> <item_id> <kind> <class_id or -> <undoes or -> end
CHILD = r"""
import random, sys
from aldesk.core import labels
from aldesk.core.store import open_project

path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
project = open_project(path)
conn = project.conn
class_ids = [row[0] for row in conn.execute("SELECT id FROM classes ORDER BY id")]
all_items = [row[0] for row in conn.execute("SELECT id FROM items ORDER BY id")]
todo = [row[0] for row in conn.execute(
    "SELECT id FROM items WHERE status = 'unlabeled' ORDER BY id")]
undoable = []  # this process's own events that nobody undid yet: (event_id, item_id)


def ack(event_id, item_id, kind, class_id, undoes):
    sys.stdout.write("ack %d %d %s %s %s end\n" % (
        event_id, item_id, kind, "-" if class_id is None else class_id,
        "-" if undoes is None else undoes))
    sys.stdout.flush()


while True:
    roll = rng.random()
    if roll < 0.2 and undoable:
        event_id, item_id = undoable.pop(rng.randrange(len(undoable)))
        undo_id = labels.undo(project, event_id)
        ack(undo_id, item_id, "undo", None, event_id)
        continue
    if todo and roll < 0.9:
        item_id = todo.pop(0)
    else:
        item_id = rng.choice(all_items)  # relabel something, labeled or not
    kind = rng.choices(("label", "skip", "unsure"), weights=(70, 15, 15))[0]
    class_id = rng.choice(class_ids) if kind == "label" else None
    event_id = labels.record(project, item_id, kind, class_id, shown_ms=rng.randrange(100, 5000))
    undoable.append((event_id, item_id))
    ack(event_id, item_id, kind, class_id, None)
"""

_STATUS_OF_KIND = {"label": "labeled", "skip": "skipped", "unsure": "unsure"}


def _make_project(path: Path) -> None:
    project = create_project(path)
    try:
        add_classes(project, CLASSES)
        now = time.time()
        with project.transaction() as conn:
            conn.executemany(
                "INSERT INTO items(path, sha256, bytes, width, height, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(f"images/{i:05d}.png", f"{i:064x}", 1000 + i, 16, 12, now) for i in range(ITEMS)],
            )
    finally:
        project.close()


class _Reader(threading.Thread):
    """Collects the child's complete acknowledgement lines; `first` is set on the first one."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.acks: list[tuple[int, int, str, int | None, int | None]] = []
        self.other: list[str] = []
        self.first = threading.Event()

    def run(self) -> None:
        for line in self.stream:
            parts = line.split()
            # A line cut short by the kill has no "end" and was never a complete acknowledgement.
            if line.endswith("\n") and len(parts) == 7 and parts[0] == "ack" and parts[6] == "end":
                event_id, item_id = int(parts[1]), int(parts[2])
                class_id = None if parts[4] == "-" else int(parts[4])
                undoes = None if parts[5] == "-" else int(parts[5])
                self.acks.append((event_id, item_id, parts[3], class_id, undoes))
                self.first.set()
            else:
                self.other.append(line)


def _run_child_and_kill(path: Path, rng: random.Random, round_no: int, stderr_path: Path):
    """Start a labeling child, SIGKILL it at a random moment; return (acks, waited_for_ack)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    # Most rounds kill a child that is busy labeling; a few kill it anywhere, even while it is
    # still starting up or opening (and locking) the project.
    early = rng.random() < 0.15
    delay = rng.uniform(0.0, 0.15) if early else rng.uniform(0.05, 0.4)
    with open(stderr_path, "w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(rng.randrange(2**32))],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
            cwd=str(REPO_ROOT),
        )
    reader = _Reader(child.stdout)
    reader.start()
    try:
        if not early:
            if not reader.first.wait(FIRST_ACK_TIMEOUT):
                pytest.fail(
                    f"round {round_no}: the child acknowledged nothing within "
                    f"{FIRST_ACK_TIMEOUT} s; stderr:\n{stderr_path.read_text()}"
                )
        time.sleep(delay)
        if child.poll() is not None:
            pytest.fail(
                f"round {round_no}: the child exited by itself (code {child.returncode}); stderr:\n{stderr_path.read_text()}"
            )
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        reader.join(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL, stderr_path.read_text()
    assert not reader.other, f"round {round_no}: unexpected child output {reader.other!r}"
    return reader.acks, not early


def _check_project(path: Path, acked: dict[int, tuple[int, str, int | None, int | None]], round_no: int):
    """Reopen for writing (taking over the stale lock) and check the file against the acks."""
    project = open_project(path)
    try:
        conn = project.conn
        where = f"after kill {round_no}"
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], where
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == [], where

        events = {
            row[0]: row[1:] for row in conn.execute("SELECT id, item_id, kind, class_id, undoes, created_at FROM label_events")
        }
        # Every acknowledged event is there, exactly as the child reported it.
        for event_id, (item_id, kind, class_id, undoes) in acked.items():
            assert event_id in events, f"{where}: acknowledged event {event_id} is missing"
            assert events[event_id][:4] == (item_id, kind, class_id, undoes), (
                f"{where}: event {event_id} is {events[event_id][:4]}, acknowledged as {(item_id, kind, class_id, undoes)}"
            )

        # The history is well formed: an undo names an earlier non-undo event of the same item,
        # and no event is undone twice.
        undone: set[int] = set()
        for event_id, (item_id, kind, class_id, undoes, _) in events.items():
            if kind != "undo":
                continue
            assert undoes in events, f"{where}: undo {event_id} names missing event {undoes}"
            target = events[undoes]
            assert target[1] != "undo", f"{where}: undo {event_id} undoes an undo"
            assert target[0] == item_id and undoes < event_id, f"{where}: bad undo {event_id}"
            assert undoes not in undone, f"{where}: event {undoes} undone twice"
            undone.add(undoes)

        # Each item's stored state is its latest event that was not undone (undos ignored).
        effective: dict[int, tuple[str, int | None, float]] = {}
        for event_id in sorted(events):
            item_id, kind, class_id, _, created_at = events[event_id]
            if kind != "undo" and event_id not in undone:
                effective[item_id] = (kind, class_id, created_at)
        for item_id, status, class_id, labeled_at in conn.execute("SELECT id, status, label_class_id, labeled_at FROM items"):
            if item_id in effective:
                kind, want_class, created_at = effective[item_id]
                want = (_STATUS_OF_KIND[kind], want_class, created_at if kind == "label" else None)
            else:
                want = ("unlabeled", None, None)
            assert (status, class_id, labeled_at) == want, (
                f"{where}: item {item_id} is {(status, class_id, labeled_at)}, its history says {want}"
            )
        return len(events)
    finally:
        project.close()


def test_killed_labeler_loses_no_acknowledged_label(tmp_path: Path) -> None:
    path = tmp_path / "crash.aldesk"
    _make_project(path)
    rng = random.Random(SEED)
    acked: dict[int, tuple[int, str, int | None, int | None]] = {}
    rounds_with_acks = 0
    events_before = 0
    for round_no in range(1, ROUNDS + 1):
        acks, waited = _run_child_and_kill(path, rng, round_no, tmp_path / f"child{round_no}.err")
        if waited:
            assert acks, f"round {round_no}: no acknowledgement although one was awaited"
        if acks:
            rounds_with_acks += 1
            # The killed child got as far as holding the write lock: its lock file is left behind.
            assert lock_path_for(path).exists(), f"round {round_no}: no stale lock file"
        for event_id, item_id, kind, class_id, undoes in acks:
            assert event_id not in acked, f"round {round_no}: event id {event_id} reused"
            acked[event_id] = (item_id, kind, class_id, undoes)
        record(
            "SIGKILL at a random moment",
            "label keys (labels.record / undo)",
            labels=len(acks),
            lost=len(set(acked) - event_ids(path)),
            traceback=False,
        )  # lost: of all acknowledged so far
        events_now = _check_project(path, acked, round_no)
        assert events_now >= events_before, f"round {round_no}: events disappeared"
        events_before = events_now
        assert not lock_path_for(path).exists(), "closing the reopened project releases the lock"

    kinds = {kind for _, kind, _, _ in acked.values()}
    assert len(acked) > 20, f"only {len(acked)} events acknowledged in {ROUNDS} rounds"
    assert rounds_with_acks >= ROUNDS // 2, f"only {rounds_with_acks} rounds acknowledged anything"
    assert {"label", "undo"} <= kinds, f"the children only acknowledged {sorted(kinds)}"
