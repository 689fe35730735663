"""On the weight-free pixels backbone, train/info/query use and name the CNN trained from scratch."""

import json

from aldesk.cli import main
from aldesk.ml.heads import cnn as scratch_cnn
from tests.conftest import write_image


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_pixels_project_trains_the_cnn_and_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(scratch_cnn, "MIN_STEPS", 10)  # the behaviour, not the accuracy, is tested here
    project = tmp_path / "p.aldesk"
    for i in range(16):
        write_image(
            tmp_path / "imgs" / ("a" if i % 2 else "b") / f"{i}.png", (200, 40, 40) if i % 2 else (40, 40, 200), size=(12 + i, 12)
        )  # distinct files
    run(capsys, "new", project)
    run(capsys, "import", project, tmp_path / "imgs", "--labels-from-folders")
    run(capsys, "embed", project, "--backbone", "pixels")
    code, out, _ = run(capsys, "train", project)
    assert code == 0 and "cnn head on pixels embeddings" in out
    code, out, _ = run(capsys, "info", project, "--json")
    assert json.loads(out)["head"] == "cnn"
    code, out, _ = run(capsys, "info", project)
    assert "latest: cnn head" in out
    # Switching heads never warm-starts one kind of model from the other, in either direction.
    code, out, _ = run(capsys, "train", project, "--head", "plain")
    assert code == 0 and "plain head on pixels embeddings" in out
    code, out, _ = run(capsys, "train", project)
    assert code == 0 and "cnn head" in out
    code, out, _ = run(capsys, "query", project, "-n", "3", "--json", "--seed", "0")
    assert code == 0 and json.loads(out) == []  # every item is labeled: nothing left to ask
