"""aldesk suspects: ranks the planted wrong labels first, stores the ranking, reads it back."""

import json

from aldesk.cli import main
from aldesk.core.store import open_project
from aldesk.core.suspects_store import latest_run
from tests.conftest import write_image


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_suspects_lists_the_wrong_labels_first(capsys, tmp_path):
    project = tmp_path / "s.aldesk"
    wrong = {3, 8}  # red images filed under "blue"
    for i in range(40):
        red = i % 2 == 0 or i in wrong
        folder = "blue" if i in wrong or i % 2 else "red"
        shade = 20 + 4 * i
        colour = (220, shade, 30) if red else (30, shade, 220)
        write_image(tmp_path / "imgs" / folder / f"{i}.png", colour, size=(12, 12))
    run(capsys, "new", project)
    run(capsys, "import", project, tmp_path / "imgs", "--labels-from-folders")
    code, _, err = run(capsys, "suspects", project)
    assert code == 1 and "aldesk embed" in err
    run(capsys, "embed", project, "--backbone", "pixels")

    code, out, err = run(capsys, "suspects", project, "-n", "2", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2
    assert {r["path"].rsplit("/", 1)[1] for r in rows} == {"3.png", "8.png"}
    assert all(r["label"] == "blue" and r["suggested"] == "red" and r["score"] > 0 for r in rows)
    with open_project(project, write=False) as opened:
        first = latest_run(opened)
        assert first.n_labels == 40 and first.model_version is None

    # Stored: a second call reads the ranking back instead of computing again.
    code, out, err = run(capsys, "suspects", project, "-n", "5")
    assert code == 0 and "40 labels then, 40 now" in err
    assert out.splitlines()[0].split()[3] == "->" and "blue" in out.splitlines()[0]
    with open_project(project, write=False) as opened:
        assert latest_run(opened).id == first.id

    code, _, _ = run(capsys, "suspects", project, "--recompute", "--json")
    with open_project(project, write=False) as opened:
        assert code == 0 and latest_run(opened).id == first.id + 1


def test_suspects_refuses_a_bad_count(capsys, tmp_path):
    project = tmp_path / "e.aldesk"
    run(capsys, "new", project)
    code, _, err = run(capsys, "suspects", project, "-n", "0")
    assert code == 1 and "-n must be at least 1" in err
