"""The command line on a text project: new --kind text, import of a table, info."""

import json

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
