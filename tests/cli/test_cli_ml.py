"""embed / train / query / simulate / weights through the command line, on generated data."""

import json

from aldesk.cli import main
from tests.conftest import distinct_colour, write_image


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_embed_train_query_info(capsys, tmp_path):
    project = tmp_path / "p.aldesk"
    for i in range(24):
        write_image(
            tmp_path / "imgs" / ("a" if i % 2 else "b") / f"{i}.png", (200, 40, 40) if i % 2 else (40, 40, 200), size=(10 + i, 10)
        )
    run(capsys, "new", project)
    run(capsys, "import", project, tmp_path / "imgs", "--labels-from-folders")
    code, _, err = run(capsys, "train", project)
    assert code == 1 and "aldesk embed" in err
    code, out, err = run(capsys, "embed", project, "--backbone", "pixels")
    assert code == 0 and "embedded 24, already embedded 0, failed 0" in out and "pixels" in err
    code, out, _ = run(capsys, "embed", project, "--backbone", "pixels")
    assert "embedded 0, already embedded 24" in out
    code, out, _ = run(capsys, "train", project)
    assert code == 0 and "model version 1" in out and "24 labels in 2 of 2 classes" in out
    code, out, _ = run(capsys, "info", project, "--json")
    info = json.loads(out)
    assert (info["models"], info["backbone"], info["embedded"]) == (1, "pixels", 24)


def test_query_prints_predictions_as_json(capsys, tmp_path):
    project = tmp_path / "q.aldesk"
    for i in range(30):
        write_image(tmp_path / "imgs" / f"{i}.png", distinct_colour(i * 997), size=(12, 12))
    run(capsys, "new", project, "--classes", "x,y")
    run(capsys, "import", project, tmp_path / "imgs")
    run(capsys, "embed", project, "--backbone", "pixels")
    code, out, _ = run(capsys, "query", project, "-n", "4", "--json", "--seed", "1")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4
    assert {"id", "path", "predicted", "confidence", "score", "rank", "strategy", "model_version"} <= set(rows[0])
    assert rows[0]["predicted"] is None and rows[0]["strategy"] == "typical"
    code, _, err = run(capsys, "query", project, "--strategy", "margin")
    assert code == 1 and "needs a trained model" in err
    code, _, err = run(capsys, "query", project, "--strategy", "bogus")
    assert code == 1 and "choose one of" in err


def test_unknown_backbone_and_bad_weights_file(capsys, tmp_path):
    project = tmp_path / "w.aldesk"
    run(capsys, "new", project)
    code, _, err = run(capsys, "embed", project, "--backbone", "nope")
    assert code == 1 and "efficientnet-lite0" in err and "Traceback" not in err
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file at all")
    code, _, err = run(capsys, "embed", project, "--backbone", "resnet18", "--weights", junk)
    assert code == 1 and str(junk) in err and "Traceback" not in err


def test_simulate_writes_curves_and_json(capsys, tmp_path):
    out_dir = tmp_path / "sim"
    code, out, _ = run(
        capsys,
        "simulate",
        "--dataset",
        "digits",
        "--backbone",
        "pixels",
        "--strategies",
        "default,random",
        "--seeds",
        "2",
        "--budget",
        "20",
        "--batch",
        "10",
        "--out",
        out_dir,
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    assert 0.8 < result["full_pool_accuracy"] <= 1.0
    assert set(result["curves"]) == {"default", "random"}
    assert result["curves"]["default"]["labels"] == [10, 20]
    assert len(result["curves"]["random"]["std"]) == 2
    assert set(result["labels_to"]["default"]) == {"95%", "98%", "99%"}
    for name in ("curves.csv", "summary.md", "result.json", "learning_curves.png"):
        assert (out_dir / name).stat().st_size > 0


def test_query_reads_while_another_aldesk_writes_and_stores_only_when_asked(capsys, tmp_path):
    from aldesk.core.queue import load_queue
    from aldesk.core.store import open_project

    project = tmp_path / "q.aldesk"
    for i in range(20):
        write_image(tmp_path / "imgs" / f"{i}.png", distinct_colour(i * 997), size=(12, 12))
    run(capsys, "new", project, "--classes", "x,y")
    run(capsys, "import", project, tmp_path / "imgs")
    run(capsys, "embed", project, "--backbone", "pixels")
    with open_project(project) as holder:  # as the open window holds it
        code, out, _ = run(capsys, "query", project, "-n", "3", "--json", "--seed", "1")
        assert code == 0 and len(json.loads(out)) == 3
        assert load_queue(holder) == []
        code, _, err = run(capsys, "query", project, "-n", "3", "--store")
        assert code == 1 and "open in another aldesk" in err
    code, _, _ = run(capsys, "query", project, "-n", "3", "--store", "--seed", "1")
    with open_project(project, write=False) as reader:
        assert code == 0 and len(load_queue(reader)) == 3


def test_stage_progress_draws_one_bar_per_stage_on_a_terminal():
    import io

    from aldesk.cli.progress import StageProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    progress = StageProgress(out)
    for stage in ("training", "estimating accuracy", "scoring"):
        progress(stage, 0, 1)
        progress(stage, 1, 1)
    lines = out.getvalue().split("\n")
    assert [line.rsplit("\r", 1)[-1].split(" [")[0] for line in lines if line] == ["training", "estimating accuracy", "scoring"]


def test_simulate_skips_an_unreadable_file_with_its_reason(capsys, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the embedded data set is cached there
    for name, colour in (("red", (200, 10, 10)), ("blue", (10, 10, 200))):
        (tmp_path / "set" / name).mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (16, 16), (colour[0] + i, colour[1] + i, colour[2])).save(tmp_path / "set" / name / f"{i}.png")
    (tmp_path / "set" / "red" / "empty.png").write_bytes(b"")
    args = ("simulate", "--dataset", tmp_path / "set", "--backbone", "pixels", "--head", "plain", "--strategies", "random")
    code, out, err = run(capsys, *args, "--seeds", "1", "--budget", "5", "--batch", "5", "--out", tmp_path / "sim", "--json")
    assert code == 0 and "Traceback" not in err
    assert "skipped" in err and "(class red): empty file" in err
    assert json.loads(out)["curves"]["random"]["labels"] == [5]
