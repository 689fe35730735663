"""Every write path under a full disk, a failing disk and a file-size limit.

The fault injector (faultinject.c, LD_PRELOAD) makes the N-th write call on the named files fail,
for N swept over each command's write calls, counted in a fault-free run first: ENOSPC from N on
(a disk that stays full) and a single EIO at N (a failing disk). Also ``ulimit -f`` and, where
this machine lets a test mount one, a real full tmpfs.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.harness import (
    Run,
    assert_clean_exit,
    assert_project_intact,
    build_shim,
    event_ids,
    fault_points,
    labels_of,
    record,
    run,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fault injection needs Linux")

# The key-press path: label one item at a time (undoing every fourth), print an acknowledgement
# only after the call returned, and go on after a refusal as the window does.
LABELER = r"""
import sys
from aldesk.core import labels
from aldesk.core.errors import AldeskError
from aldesk.core.store import open_project

try:
    project = open_project(sys.argv[1])
except AldeskError as exc:  # as the CLI and the window do: one line, exit 1
    print("aldesk:", exc, file=sys.stderr)
    sys.exit(1)
try:
    classes = [r[0] for r in project.conn.execute("SELECT id FROM classes ORDER BY id")]
    todo = [r[0] for r in project.conn.execute("SELECT id FROM items WHERE status = 'unlabeled' ORDER BY id")]
    refused = 0
    for n, item in enumerate(todo):
        try:
            event = labels.record(project, item, "label", classes[n % len(classes)])
        except AldeskError as exc:
            print("refused", item, str(exc).replace("\n", " "), flush=True)
            refused += 1
            if refused >= 3:
                break
            continue
        print("ack", event, item, classes[n % len(classes)], flush=True)
        if n % 4 == 3:
            try:
                undo = labels.undo(project, event)
            except AldeskError as exc:
                print("refused", item, str(exc).replace("\n", " "), flush=True)
                continue
            print("undo", undo, event, item, flush=True)
finally:
    project.close()
"""

N_IMAGES = 24


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    built = build_shim(tmp_path_factory.mktemp("shim"))
    if built is None:
        pytest.skip("no C compiler to build the fault injector")
    return built


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A folder with a project (classes, imported images, six human labels), more images to
    import, and a labels CSV."""
    from PIL import Image

    from aldesk.core import labels
    from aldesk.core.classes import add_classes
    from aldesk.core.importer import import_paths
    from aldesk.core.store import create_project

    folder = tmp_path_factory.mktemp("base")
    for sub, offset in (("images", 0), ("more", 100)):
        (folder / sub).mkdir()
        for i in range(N_IMAGES):
            Image.new("RGB", (24, 16), (i + offset, 3 * i, 200 - i)).save(folder / sub / f"{i:02d}.png")
    with create_project(folder / "p.aldesk") as project:
        classes = add_classes(project, ["cat", "dog", "bird"])
        import_paths(project, [folder / "images"])
        for item_id in range(1, 7):
            labels.record(project, item_id, "label", classes[item_id % 3].id)
    rows = ["path,label"] + [f"images/{i:02d}.png,{('cat', 'dog')[i % 2]}" for i in range(8, 16)]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def _fresh(base: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(base, target)
    return target


def _check_labeler(folder: Path, result, before: dict, fault: str = "") -> tuple[int, int]:
    """Every acknowledged label is in the file with the acknowledged outcome; refusals named the
    file; labels from before are untouched. Returns (acknowledged, refused)."""
    project = folder / "p.aldesk"
    acked: dict[int, tuple[str, int | None]] = {}
    events: set[int] = set()
    refused = 0
    for line in result.stdout.splitlines():
        words = line.split()
        if words[0] == "ack":
            events.add(int(words[1]))
            acked[int(words[2])] = ("labeled", int(words[3]))
        elif words[0] == "undo":
            events.add(int(words[1]))
            acked[int(words[3])] = ("unlabeled", None)
        elif words[0] == "refused":
            refused += 1
            assert str(project) in line, line
    now = labels_of(project)
    if fault:
        kept = event_ids(project)
        wrong = sum(now.get(i, ("unlabeled", None)) != o for i, o in acked.items())
        wrong += sum(now.get(i) != o for i, o in before.items() if i not in acked)
        record(
            fault,
            "label keys (labels.record / undo)",
            labels=len(events) + len(before),
            lost=len(events - kept) + wrong,
            result=result,
        )
    assert_clean_exit(result, str(project))
    assert_project_intact(project)
    assert events <= event_ids(project), "an acknowledged event is missing"
    for item, outcome in acked.items():
        assert now.get(item, ("unlabeled", None)) == outcome, item
    for item, outcome in before.items():
        if item not in acked:
            assert now.get(item) == outcome, item
    return len(events), refused


def test_labeling_on_a_full_disk_keeps_every_acknowledged_label(base, shim, tmp_path):
    folder = _fresh(base, tmp_path, "dry")
    before = labels_of(folder / "p.aldesk")
    dry = run(["-c", LABELER, str(folder / "p.aldesk")], cwd=folder, shim=shim, match=str(folder / "p.aldesk"))
    _check_labeler(folder, dry, before)
    assert dry.calls and dry.calls > 10
    refusals = 0
    for point in fault_points(dry.calls, 10):
        folder = _fresh(base, tmp_path, f"enospc-{point}")
        result = run(
            ["-c", LABELER, str(folder / "p.aldesk")], cwd=folder, shim=shim, match=str(folder / "p.aldesk"), after=point
        )
        refusals += _check_labeler(folder, result, before, "ENOSPC from the N-th write on")[1]
    assert refusals > 0  # the disk did fill up during labeling


def test_labeling_through_a_single_io_error_keeps_every_acknowledged_label(base, shim, tmp_path):
    folder = _fresh(base, tmp_path, "dry")
    before = labels_of(folder / "p.aldesk")
    dry = run(["-c", LABELER, str(folder / "p.aldesk")], cwd=folder, shim=shim, match=str(folder / "p.aldesk"))
    for point in fault_points(dry.calls, 6):
        folder = _fresh(base, tmp_path, f"eio-{point}")
        result = run(
            ["-c", LABELER, str(folder / "p.aldesk")],
            cwd=folder,
            shim=shim,
            match=str(folder / "p.aldesk"),
            after=point,
            err=errno.EIO,
            once=True,
        )
        _check_labeler(folder, result, before, "one EIO at the N-th write")


# (name, command, which file's writes fail, names the message may use)
COMMANDS = [
    ("import", ["import", "p.aldesk", "more"], "p.aldesk", ("p.aldesk",)),
    ("label --csv", ["label", "p.aldesk", "--csv", "labels.csv"], "p.aldesk", ("p.aldesk",)),
    ("classes --add", ["classes", "p.aldesk", "--add", "wren"], "p.aldesk", ("p.aldesk",)),
    ("settings", ["settings", "p.aldesk", "audit_every", "5"], "p.aldesk", ("p.aldesk",)),
    ("export csv", ["export", "p.aldesk", "--format", "csv", "--out", "out.csv"], "out.csv", ("out.csv",)),
    ("export imagefolder", ["export", "p.aldesk", "--format", "imagefolder", "--out", "sorted"], "sorted", ("sorted",)),
    ("new", ["new", "n.aldesk", "--classes", "a,b"], "n.aldesk", ("n.aldesk",)),
    ("recover", ["recover", "p.aldesk", "--out", "r.aldesk"], "r.aldesk", ("r.aldesk",)),
    ("embed", ["embed", "p.aldesk", "--backbone", "pixels"], "p.aldesk", ("p.aldesk",)),
    ("train", ["train", "p.aldesk"], "p.aldesk", ("p.aldesk",)),
]
# What a command needs done first, without faults (training needs the embeddings).
PREPARE = {"train": ["embed", "p.aldesk", "--backbone", "pixels"]}
# Commands that start torch take seconds each: fewer fault points.
SLOW = {"embed", "train"}


@pytest.mark.parametrize("name,command,target,names", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_command_on_a_full_or_failing_disk(base, shim, tmp_path, name, command, target, names):
    _sweep(base, shim, tmp_path, name, command, target, names)


@pytest.fixture(scope="module")
def text_base(tmp_path_factory) -> Path:
    """A folder with a text project (two classes, twelve imported texts, six human labels) and
    a CSV of more texts with labels, as an analyst's ticket export would be."""
    from aldesk.core import labels
    from aldesk.core.classes import add_classes
    from aldesk.core.importer import import_paths
    from aldesk.core.kinds import set_kind
    from aldesk.core.store import create_project

    folder = tmp_path_factory.mktemp("text-base")
    (folder / "first.csv").write_text("text\n" + "".join(f"Ticket {i}: the export stops at row {i * 7}\n" for i in range(12)))
    rows = [f'"Question {i}, about invoices and the {i}th payment",{("bug", "question")[i % 2]}' for i in range(30)]
    (folder / "more.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with create_project(folder / "p.aldesk") as project:
        set_kind(project, "text")
        classes = add_classes(project, ["bug", "question"])
        import_paths(project, [folder / "first.csv"])
        for item_id in range(1, 7):
            labels.record(project, item_id, "label", classes[item_id % 2].id)
    return folder


TEXT_COMMANDS = [
    ("import texts", ["import", "p.aldesk", "more.csv"], "p.aldesk", ("p.aldesk",)),
    ("export jsonl", ["export", "p.aldesk", "--format", "jsonl", "--out", "out.jsonl"], "out.jsonl", ("out.jsonl",)),
    ("demo --text", ["demo", "--text", "--no-gui", "--out", "demo"], "demo", ("demo",)),
]


@pytest.mark.parametrize("name,command,target,names", TEXT_COMMANDS, ids=[c[0] for c in TEXT_COMMANDS])
def test_text_command_on_a_full_or_failing_disk(text_base, shim, tmp_path, name, command, target, names):
    _sweep(text_base, shim, tmp_path, name, command, target, names)
    if name == "demo --text":  # a demo that exists is complete: a cut-short build is never left as one
        for folder in tmp_path.iterdir():
            made = folder / "demo" / "spam-demo.aldesk"
            if made.exists():
                with sqlite3.connect(made) as conn:
                    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 600, folder


def _sweep(base: Path, shim, tmp_path: Path, name: str, command: list[str], target: str, names: tuple[str, ...]) -> None:
    """The command's writes swept with faults: ENOSPC from the N-th write on and a single EIO at N;
    every run ends cleanly (a message naming the file, or success), the project stays intact and
    keeps every label, and no partial export is left."""
    prepared = base
    if name in PREPARE:
        prepared = _fresh(base, tmp_path, "prepared")
        assert run(PREPARE[name], cwd=prepared).returncode == 0
    folder = _fresh(prepared, tmp_path, "dry")
    before = labels_of(folder / "p.aldesk")
    dry = run(command, cwd=folder, shim=shim, match=target)  # bare: partial exports are .NAME.partial-*
    assert dry.returncode == 0, dry.stderr
    assert dry.calls, f"{name} wrote nothing to {target}?"
    many = 2 if name in SLOW else 6
    cases = [(p, errno.ENOSPC, False) for p in fault_points(dry.calls, many)]
    cases += [(p, errno.EIO, True) for p in fault_points(dry.calls, max(1, many // 2))]
    failures = 0
    for point, err, once in cases:
        folder = _fresh(prepared, tmp_path, f"{err}-{point}")
        result = run(command, cwd=folder, shim=shim, match=target, after=point, err=err, once=once)
        project = folder / "p.aldesk"
        now = labels_of(project)
        record(
            "ENOSPC from the N-th write on" if not once else "one EIO at the N-th write",
            f"aldesk {name}",
            labels=len(before),
            lost=sum(now.get(i) != o for i, o in before.items()),
            result=result,
        )
        assert_clean_exit(result, *[str(folder / n) for n in names], str(folder / "p.aldesk"))
        failures += result.returncode == 1
        assert_project_intact(project)
        for item, outcome in before.items():  # a person's labels survive any command's failure
            assert now.get(item) == outcome, (item, result.stderr)
        made = folder / target
        if target.endswith(".aldesk") and made.exists():
            assert_project_intact(made)
            if name == "recover":  # a recovered project that exists is complete
                assert labels_of(made) == before, result.stderr
        assert not [p for p in folder.rglob("*.partial-*")], "a partial export was left behind"
    assert failures > 0


def test_file_size_limit_is_named_as_such_not_as_damage(base, tmp_path):
    folder = _fresh(base, tmp_path, "limit")
    project = folder / "p.aldesk"
    before = labels_of(project)
    result = run(["-c", LABELER, str(project)], cwd=folder, file_limit=project.stat().st_size + 8192)
    acknowledged, refused = _check_labeler(folder, result, before, "file-size limit (ulimit -f)")
    assert refused > 0
    assert "file-size limit" in result.stdout and "damaged" not in result.stdout
    result = run(["import", "p.aldesk", "more"], cwd=folder, file_limit=project.stat().st_size + 4096)
    assert_clean_exit(result, str(project))
    assert "damaged" not in result.stderr
    assert_project_intact(project)


def _can_mount_tmpfs(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {tmp_path}"], capture_output=True)
    return probe.returncode == 0


def test_labeling_on_a_really_full_disk_names_the_disk(base, tmp_path):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if not _can_mount_tmpfs(mount):
        pytest.skip("cannot mount a small tmpfs here (needs root and unshare)")
    folder = tmp_path / "work"
    shutil.copytree(base, folder)
    before = labels_of(folder / "p.aldesk")
    size = (folder / "p.aldesk").stat().st_size
    (folder / "labeler.py").write_text(LABELER)
    # The project and a filler that leaves a few pages free, on a disk of their own.
    script = (
        f"mount -t tmpfs -o size={size + 256 * 1024} tmpfs {mount} && cp {folder}/p.aldesk {mount}/ && "
        f"(head -c {200 * 1024} /dev/zero > {mount}/filler || true) && "
        f"cd {mount} && {sys.executable} {folder}/labeler.py {mount}/p.aldesk; rc=$?; "
        f"cp {mount}/p.aldesk* {folder}/ ; exit $rc"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    result = Run(done.returncode, done.stdout.replace(str(mount), str(folder)), done.stderr, None)
    assert "is full" in done.stdout and str(mount) in done.stdout  # the disk is named
    assert "Free at least" in done.stdout
    _check_labeler(folder, result, before, "a really full disk (tmpfs)")
