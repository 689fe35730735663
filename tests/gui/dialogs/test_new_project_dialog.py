from aldesk.core.info import project_info
from aldesk.core.store import open_project
from aldesk.gui.dialogs.new_project_dialog import NewProjectDialog
from tests.conftest import distinct_colour, write_image


def test_creates_the_project_and_imports_in_the_background(qtbot, tmp_path):
    for i in range(6):
        write_image(tmp_path / "imgs" / ("cat" if i % 2 else "dog") / f"{i}.png", distinct_colour(i * 30))
    (tmp_path / "imgs" / "cat" / "bad.png").write_text("not a png")
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.path_edit.setText(str(tmp_path / "pets"))
    dialog.sources.addItem(str(tmp_path / "imgs"))
    dialog.classes_edit.setText("cat, dog")
    dialog.hotkeys_edit.setText("c, d")
    dialog.from_folders.setChecked(True)
    with qtbot.waitSignal(dialog.created, timeout=30_000) as created:
        dialog.start()
    assert created.args[0] == tmp_path / "pets.aldesk"
    assert dialog.report.summary() == "imported 6, already present 0, skipped 1"
    with open_project(tmp_path / "pets.aldesk", write=False) as project:
        info = project_info(project)
    assert info["hotkeys"] == {"cat": "c", "dog": "d"}
    assert info["per_class"] == {"cat": 3, "dog": 3}
    assert not dialog.task.is_running()


def test_bad_input_is_refused_before_anything_is_written(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.path_edit.setText(str(tmp_path / "x.aldesk"))
    dialog.classes_edit.setText("a, b")
    dialog.hotkeys_edit.setText("u, b")
    dialog.sources.addItem(str(tmp_path))
    dialog.start()
    assert "reserved" in shown[-1]
    dialog.hotkeys_edit.setText("")
    dialog.sources.clear()
    dialog.start()
    assert "at least one image folder" in shown[-1]
    assert not (tmp_path / "x.aldesk").exists() and dialog.task is None


def test_an_unexpected_error_in_the_import_thread_reaches_the_dialog(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from aldesk.gui.dialogs import new_project_dialog

    write_image(tmp_path / "imgs" / "0.png", distinct_colour(1))

    def broken(*_args, **_kwargs):
        raise RuntimeError("something no one foresaw")

    monkeypatch.setattr(new_project_dialog, "import_paths", broken)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: shown.append(args[2]))
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.path_edit.setText(str(tmp_path / "x.aldesk"))
    dialog.sources.addItem(str(tmp_path / "imgs"))
    dialog.start()
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)  # before: the dialog waited forever
    assert str(tmp_path / "x.aldesk") in shown[-1] and "something no one foresaw" in shown[-1]
    assert not dialog.task.is_running()


def test_creates_a_text_project_from_a_csv_and_reports_skips_and_notes(qtbot, tmp_path):
    from aldesk.core import items
    from aldesk.core.kinds import kind_of

    table = tmp_path / "tickets.csv"
    long_text = "The export stopped halfway. " * 80
    table.write_text(
        'body,topic\n"The app crashes on save",bug\n"How do I export?",question\n"",bug\n"' + long_text + '",\n', encoding="utf-8"
    )
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.set_kind("text")
    assert dialog.sources_label.text() == "Texts:" and "tables" in dialog.add_files_button.text()
    assert not dialog.columns_row.isHidden()
    dialog.path_edit.setText(str(tmp_path / "tickets"))
    dialog.sources.addItem(str(table))
    dialog.text_column_edit.setText("body")
    dialog.label_column_edit.setText("topic")
    with qtbot.waitSignal(dialog.created, timeout=30_000):
        dialog.start()
    assert dialog.report.imported == 3 and len(dialog.report.skipped) == 1
    shown = dialog.report_box.informativeText()
    assert f"skipped {table} line 4:" in shown  # the empty row, with its reason
    assert f"note {table} line 5: a long text" in shown
    assert "1 note" in dialog.report_box.text()
    with open_project(tmp_path / "tickets.aldesk", write=False) as project:
        assert kind_of(project).name == "text"
        texts = set(items.texts_of(project, items.all_ids(project)).values())
        info = project_info(project)
    assert "The app crashes on save" in texts and long_text.strip() in texts
    assert info["per_class"] == {"bug": 1, "question": 1}


def test_the_image_kind_is_the_default_and_hides_the_table_columns(qtbot):
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    assert dialog.kind == "image" and dialog.sources_label.text() == "Images:"
    assert dialog.columns_row.isHidden()
