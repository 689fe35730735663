"""The headless verbs, run as a person runs them: through main() and as a real process."""

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from aldesk import __version__
from aldesk.cli import main
from aldesk.core import schema
from tests.conftest import distinct_colour, write_image


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def info_json(capsys, project: Path) -> dict:
    code, out, _ = run(capsys, "info", project, "--json")
    assert code == 0
    return json.loads(out)


def _installed_script() -> str | None:
    # pip puts console scripts beside the interpreter (a venv's bin/ need not be on PATH).
    beside = Path(sys.executable).with_name("aldesk")
    return str(beside) if beside.exists() else shutil.which("aldesk")


@pytest.mark.parametrize("launcher", [["aldesk"], [sys.executable, "-m", "aldesk"]])
def test_help_and_version_as_processes(launcher):
    if launcher == ["aldesk"]:
        script = _installed_script()
        if script is None:
            pytest.skip("aldesk is not installed in this environment (pip install -e .)")
        launcher = [script]
    result = subprocess.run(launcher + ["--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for verb in ("new", "import", "label", "info", "export", "relocate", "demo"):
        assert verb in result.stdout
    version = subprocess.run(launcher + ["--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"aldesk {__version__}"


def test_new_with_classes_and_hotkeys(capsys, tmp_path):
    path = tmp_path / "birds.aldesk"
    code, out, _ = run(capsys, "new", path, "--classes", "cat,dog,bird", "--hotkeys", "c,d,b")
    assert code == 0 and "[c] cat" in out
    info = info_json(capsys, path)
    assert info["classes"] == ["cat", "dog", "bird"]
    assert info["hotkeys"] == {"cat": "c", "dog": "d", "bird": "b"}
    assert (info["items"], info["labeled"], info["models"]) == (0, 0, 0)


def test_new_default_hotkeys_and_suffix(capsys, tmp_path):
    code, _, _ = run(capsys, "new", tmp_path / "plain", "--classes", "a,b")
    assert code == 0
    assert info_json(capsys, tmp_path / "plain.aldesk")["hotkeys"] == {"a": "1", "b": "2"}


def test_new_with_bad_hotkeys_leaves_no_file(capsys, tmp_path):
    path = tmp_path / "x.aldesk"
    code, _, err = run(capsys, "new", path, "--classes", "a,b", "--hotkeys", "1")
    assert code == 1 and "2 classes but 1 hotkeys" in err
    code, _, err = run(capsys, "new", path, "--classes", "a", "--hotkeys", "u")
    assert code == 1 and "reserved" in err
    assert not path.exists()


def test_import_info_label_export_round_trip(capsys, tmp_path):
    project = tmp_path / "p.aldesk"
    images = tmp_path / "imgs"
    for i in range(4):
        write_image(images / f"{i}.png", distinct_colour(i))
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    run(capsys, "new", project, "--classes", "cat,dog")
    code, out, _ = run(capsys, "import", project, images)
    assert code == 0
    assert "imported 4, already present 0, skipped 1" in out
    assert f"skipped {images / 'broken.jpg'}:" in out
    code, out, _ = run(capsys, "import", project, images)
    assert "imported 0, already present 4, skipped 1" in out

    sheet = tmp_path / "labels.csv"
    sheet.write_text("path,label\nimgs/0.png,cat\nimgs/1.png,dog\nimgs/2.png,bird\nimgs/zz.png,cat\n")
    code, _, err = run(capsys, "label", project, "--csv", sheet)
    assert code == 1 and "'bird' (1 row)" in err and "--add-classes" in err
    code, out, _ = run(capsys, "label", project, "--csv", sheet, "--add-classes")
    assert code == 0
    assert "labeled 3, unchanged 0, not in project 1" in out and "new classes: bird" in out

    info = info_json(capsys, project)
    assert (info["items"], info["labeled"], info["unlabeled"], info["missing"]) == (4, 3, 1, 0)
    assert info["per_class"] == {"cat": 1, "dog": 1, "bird": 1}
    assert info["schema_version"] == schema.SCHEMA_VERSION

    out_csv = tmp_path / "out.csv"
    code, out, _ = run(capsys, "export", project, "--format", "csv", "--out", out_csv)
    assert code == 0 and "exported 4 items" in out
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == ["path", "label", "status", "labeled_at"]
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["0.png"]["label"] == "cat" and by_name["0.png"]["status"] == "labeled"
    assert by_name["0.png"]["labeled_at"].endswith("+00:00")
    assert by_name["3.png"]["label"] == "" and by_name["3.png"]["labeled_at"] == ""
    assert Path(by_name["3.png"]["path"]) == images / "3.png"

    out_json = tmp_path / "out.json"
    run(capsys, "export", project, "--format", "json", "--out", out_json)
    document = json.loads(out_json.read_text())
    assert document["classes"] == ["cat", "dog", "bird"]
    assert len(document["items"]) == 4


def test_relocate_repairs_moved_images(capsys, tmp_path):
    project = tmp_path / "proj" / "p.aldesk"
    project.parent.mkdir()
    old = tmp_path / "old"
    for i in range(3):
        write_image(old / "sub" / f"{i}.png", distinct_colour(i))
    run(capsys, "new", project)
    run(capsys, "import", project, old)
    new = tmp_path / "new"
    old.rename(new)
    info = info_json(capsys, project)
    assert info["missing"] == 3 and len(info["missing_examples"]) == 3
    code, out, _ = run(capsys, "info", project)
    assert code == 0 and "aldesk relocate" in out
    code, out, _ = run(capsys, "relocate", project, old, new)
    assert code == 0 and "relocated 3 items; 3 of them found" in out
    assert info_json(capsys, project)["missing"] == 0


def test_fatal_errors_exit_1_with_message_and_no_traceback(capsys, tmp_path):
    code, _, err = run(capsys, "info", tmp_path / "none.aldesk")
    assert code == 1 and err.startswith("aldesk: No such project") and "Traceback" not in err
    newer = tmp_path / "newer.aldesk"
    run(capsys, "new", newer)
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    code, _, err = run(capsys, "import", newer, tmp_path)
    assert code == 1 and "newer aldesk" in err and "99" in err


def test_demo_builds_a_project_with_hidden_truth(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--out", tmp_path / "demo", "--no-gui")
    assert code == 0
    project = tmp_path / "demo" / "fashion-mnist-demo.aldesk"
    assert f"demo project: {project}" in out
    info = info_json(capsys, project)
    assert (info["items"], info["labeled"], info["missing"]) == (3000, 0, 0)
    assert len(info["classes"]) == 10
    conn = sqlite3.connect(project)
    truth = dict(conn.execute("SELECT class_name, count(*) FROM item_truth GROUP BY class_name"))
    conn.close()
    assert truth == {name: 300 for name in info["classes"]}
    # a second run reuses the project
    code, out, _ = run(capsys, "demo", "--out", tmp_path / "demo", "--no-gui")
    assert code == 0 and info_json(capsys, project)["items"] == 3000


def test_import_ctrl_c_keeps_what_was_stored_and_exits_130(capsys, tmp_path, monkeypatch):
    from aldesk.core import importer

    project = tmp_path / "p.aldesk"
    for i in range(5):
        write_image(tmp_path / "imgs" / f"{i}.png", distinct_colour(i))
    run(capsys, "new", project)
    monkeypatch.setattr(importer, "_BATCH", 2)

    class CtrlCAfterFirstBatch:
        def __init__(self, label: str) -> None:
            pass

        def __call__(self, done: int, total: int) -> None:
            if done:
                raise KeyboardInterrupt

    monkeypatch.setattr("aldesk.cli.project.TerminalProgress", CtrlCAfterFirstBatch)
    code, out, err = run(capsys, "import", project, tmp_path / "imgs")
    assert code == 130
    assert "imported 2, already present 0" in out
    assert "interrupted: 2 images imported before the stop were kept" in err
    assert "Traceback" not in err
    assert info_json(capsys, project)["items"] == 2


@pytest.mark.parametrize(
    "classes, message",
    [
        ("Cat,cat", "'Cat' and 'cat' differ only by case"),
        ("cat, ,dog", "Class name ' ' (entry 2 of 'cat, ,dog') is empty or only whitespace"),
        ("cat,a\nb", r"Class name 'a\nb' contains a control character"),
    ],
)
def test_new_refuses_bad_class_names_and_leaves_no_file(capsys, tmp_path, classes, message):
    path = tmp_path / "x.aldesk"
    code, _, err = run(capsys, "new", path, "--classes", classes)
    assert code == 1 and message in err and "Traceback" not in err
    assert not path.exists()


def test_classes_add_refuses_a_name_differing_only_by_case(capsys, tmp_path):
    path = tmp_path / "p.aldesk"
    run(capsys, "new", path, "--classes", "cat")
    code, _, err = run(capsys, "classes", path, "--add", "dog,CAT")
    assert code == 1 and "'CAT' differs only by case from the existing class 'cat'" in err
    assert info_json(capsys, path)["classes"] == ["cat"]


def test_import_labels_from_folders_differing_only_by_case_is_refused(capsys, tmp_path):
    path = tmp_path / "p.aldesk"
    run(capsys, "new", path)
    write_image(tmp_path / "train" / "Cat" / "1.png", (1, 0, 0))
    write_image(tmp_path / "train" / "cat" / "2.png", (2, 0, 0))
    code, _, err = run(capsys, "import", path, tmp_path / "train", "--labels-from-folders")
    assert code == 1 and "'Cat' and 'cat' differ only by case" in err
    info = info_json(capsys, path)
    assert (info["items"], info["classes"]) == (0, [])


def test_label_csv_refuses_to_replace_a_persons_label_unless_overwrite(capsys, tmp_path):
    from aldesk.core import labels
    from aldesk.core.store import open_project

    project = tmp_path / "p.aldesk"
    write_image(tmp_path / "imgs" / "0.png", distinct_colour(0))
    run(capsys, "new", project, "--classes", "cat,dog")
    run(capsys, "import", project, tmp_path / "imgs")
    with open_project(project) as opened:
        labels.record(opened, 1, "label", 1)  # a person says cat
    sheet = tmp_path / "labels.csv"
    sheet.write_text("imgs/0.png,dog\n")
    code, out, err = run(capsys, "label", project, "--csv", sheet)
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith("aldesk: Nothing was written from labels.csv:")
    assert f"{tmp_path / 'imgs' / '0.png'}: now 'cat', in the CSV 'dog'" in err and "--overwrite" in err
    assert info_json(capsys, project)["per_class"] == {"cat": 1, "dog": 0}
    code, out, _ = run(capsys, "label", project, "--csv", sheet, "--overwrite")
    assert code == 0 and "labeled 1" in out and "1 of them replaced an earlier label" in out
    assert info_json(capsys, project)["per_class"] == {"cat": 0, "dog": 1}


def test_help_names_the_window_forms_and_the_simulate_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "aldesk PROJECT.aldesk     open that project in the window" in out and "examples:" in out
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "runs per strategy" in out and "labels per round" in out and "comma-separated query strategies" in out


def test_every_verb_help_ends_with_examples_that_parse(capsys):
    from aldesk.cli.entry import build_parser
    from aldesk.cli.examples import EXAMPLES

    parser = build_parser()
    verbs = parser.get_default("verb_names")
    assert set(EXAMPLES) == set(verbs), "a verb without examples (or examples of no verb)"
    for verb in verbs:
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        out = capsys.readouterr().out
        assert "examples:" in out, verb
        for command, _ in EXAMPLES[verb]:
            assert command in out, command
            words = command.split()[1:]
            assert words[0] == verb
            parser.parse_args(words)  # argparse exits on an option the verb does not have


def test_settings_help_lists_every_setting_and_its_range(capsys):
    from aldesk.core.settings import SETTINGS

    with pytest.raises(SystemExit):
        main(["settings", "--help"])
    out = capsys.readouterr().out
    for setting in SETTINGS.values():
        assert setting.name in out and setting.allowed in out


def test_the_terminal_bar_says_how_long_is_left_once_it_can_tell(monkeypatch):
    import io

    from aldesk.cli import progress as progress_mod

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    clock = iter([0.0, 0.0, 0.0, 5.0, 5.0, 10.0])  # the bar's start, then each report's
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: next(clock))
    out = Terminal()
    bar = progress_mod.TerminalProgress("embedding", out)
    bar(10, 100)  # the first report: no estimate yet
    bar(40, 100)  # 30 items in 5 s: 60 left take about 10 s
    assert "left" not in out.getvalue().split("\r")[1]
    assert out.getvalue().split("\r")[2].rstrip().endswith(", about 10 s left)")
    bar(100, 100)
    last = out.getvalue().split("\r")[3]
    assert "left" not in last and last.endswith("\n")
