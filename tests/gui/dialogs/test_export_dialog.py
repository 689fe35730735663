"""File → Export dialog: runs the export in a thread, shows progress, results, errors; cancels."""

import csv
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from aldesk.core import export as export_mod
from aldesk.core.classes import add_classes
from aldesk.core.export_report import ExportReport
from aldesk.core.importer import import_paths
from aldesk.core.labels import record
from aldesk.core.store import create_project
from aldesk.gui.dialogs import export_dialog
from aldesk.gui.dialogs.export_dialog import ExportDialog, run_export_dialog
from tests.conftest import distinct_colour, write_image


@pytest.fixture
def project_path(tmp_path) -> Path:
    path = tmp_path / "p.aldesk"
    with create_project(path) as project:
        add_classes(project, ["cat", "a/b"])
        for i in range(6):
            write_image(tmp_path / "imgs" / f"{i}.png", distinct_colour(i * 40))
        import_paths(project, [tmp_path / "imgs"])
        for item in range(1, 5):
            record(project, item, "label", 1 + item % 2)
    return path


def _run(qtbot, dialog: ExportDialog) -> None:
    with qtbot.waitSignal(dialog.finished_export, timeout=60_000):
        dialog.start()


def test_csv_export_suggests_a_name_and_reports_the_result(qtbot, project_path):
    dialog = ExportDialog(project_path)
    qtbot.addWidget(dialog)
    assert dialog.out_edit.text() == str(project_path.with_name("p-csv.csv"))
    assert not dialog.link_box.isEnabled()
    _run(qtbot, dialog)
    assert dialog.report.written == 6 and "exported 6 items" in dialog.status.text()
    assert len(list(csv.DictReader(project_path.with_name("p-csv.csv").open()))) == 6
    assert not dialog.task.is_running() and dialog.export_button.isEnabled()


def test_imagefolder_with_links_fills_the_progress_bar(qtbot, project_path, tmp_path):
    dialog = ExportDialog(project_path)
    qtbot.addWidget(dialog)
    dialog.set_format("imagefolder")
    assert dialog.out_edit.text() == str(tmp_path / "p-imagefolder")  # follows the format
    assert dialog.link_box.isEnabled()
    dialog.link_box.setChecked(True)
    _run(qtbot, dialog)
    assert dialog.report.linked == 4
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum()
    assert "'a/b' is in folder 'a_b'" in dialog.details.toPlainText()
    assert sorted(p.name for p in (tmp_path / "p-imagefolder").iterdir() if p.is_dir()) == ["a_b", "cat"]


def test_errors_are_shown_in_the_dialog(qtbot, project_path):
    dialog = ExportDialog(project_path)
    qtbot.addWidget(dialog)
    dialog.set_format("predictions")
    dialog.start()
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=30_000)
    assert "no trained model yet" in dialog.error and "Not exported" in dialog.status.text()
    assert dialog.export_button.isEnabled() and not dialog.cancel_button.isEnabled()


def _export_until_cancelled(project, fmt, out, *, link, force, progress, cancel):
    """Stands in for a long export: reports progress until the dialog cancels it."""
    deadline = time.monotonic() + 20
    done = 0
    while not cancel() and time.monotonic() < deadline:
        done += 1
        progress(done, 1_000_000)
        time.sleep(0.01)
    return ExportReport(fmt, Path(out), cancelled=cancel())


def test_cancel_button_stops_the_export(qtbot, project_path, monkeypatch):
    monkeypatch.setattr(export_mod, "export", _export_until_cancelled)
    dialog = ExportDialog(project_path)
    qtbot.addWidget(dialog)
    dialog.start()
    assert dialog.cancel_button.isEnabled() and not dialog.export_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress_bar.maximum() == 1_000_000, timeout=10_000)
    with qtbot.waitSignal(dialog.finished_export, timeout=10_000) as finished:
        dialog.cancel_button.click()
    assert finished.args[0].cancelled and "cancelled" in dialog.status.text()


def test_closing_while_exporting_cancels_and_waits(qtbot, project_path, monkeypatch):
    monkeypatch.setattr(export_mod, "export", _export_until_cancelled)
    dialog = ExportDialog(project_path)
    qtbot.addWidget(dialog)
    dialog.start()
    dialog.reject()
    assert not dialog.task.is_running()


def test_model_export_runs_in_the_thread(qtbot, project_path, tmp_path):
    from aldesk.core.store import open_project
    from aldesk.ml.encoders import load_backbone
    from aldesk.ml.loop.pool import PoolModel
    from aldesk.ml.loop.embedding import embed_project
    from aldesk.ml.loop.snapshot import take_snapshot
    from aldesk.ml.loop.store import save_training
    from tests.conftest import train_round

    with open_project(project_path) as project:
        embed_project(project, load_backbone("pixels"))
        snapshot = take_snapshot(project)
        save_training(project, snapshot, train_round(snapshot, PoolModel.build(snapshot.vectors), head="plain"))
    dialog = ExportDialog(project_path)
    qtbot.addWidget(dialog)
    dialog.set_format("model")
    _run(qtbot, dialog)
    assert (tmp_path / "p-model" / "model.pt2").is_file(), dialog.error


def test_run_export_dialog_opens_a_modal_dialog(qtbot, project_path, monkeypatch):
    shown = []
    monkeypatch.setattr(export_dialog.ExportDialog, "exec", lambda self: shown.append(self.project_path) or 0)
    run_export_dialog(None, project_path)
    assert shown == [project_path]


def _answer(monkeypatch, button) -> list[str]:
    """Answers the Replace? question with ``button``; returns the questions asked."""
    asked = []

    def question(parent, title, text, buttons, default):
        asked.append(text)
        assert default == QMessageBox.StandardButton.No  # Enter keeps the file
        return button

    monkeypatch.setattr(export_dialog.QMessageBox, "question", question)
    return asked


def test_an_existing_file_is_replaced_only_after_yes(qtbot, project_path, monkeypatch):
    target = project_path.with_name("p-csv.csv")
    target.write_text("precious")
    dialog = ExportDialog(project_path)
    qtbot.addWidget(dialog)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.No)
    dialog.start()
    assert asked == [f"{target} already exists.\n\nReplace it with the export?"]
    assert dialog.task is None and target.read_text() == "precious"
    assert f"{target} exists and was kept" in dialog.error
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    _run(qtbot, dialog)
    assert len(asked) == 1 and dialog.report.written == 6
    assert len(list(csv.DictReader(target.open()))) == 6


def test_the_projects_files_and_images_are_refused_without_asking(qtbot, project_path, monkeypatch, tmp_path):
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    image = tmp_path / "imgs" / "0.png"
    protected = {
        project_path: "is the project file itself",
        image: "is the source image of item 1",
        project_path.with_name("p.aldesk-wal"): "is the project's write-ahead log",
    }
    before = {path: path.read_bytes() for path in (project_path, image)}
    dialog = ExportDialog(project_path)
    qtbot.addWidget(dialog)
    for fmt in ("csv", "json", "predictions"):
        dialog.set_format(fmt)
        for path, why in protected.items():
            dialog.out_edit.setText(str(path))
            dialog.start()
            assert dialog.task is None and f"{path} {why}" in dialog.error and "Choose another file" in dialog.error
            assert "Not exported" in dialog.status.text()
    assert asked == []
    assert {path: path.read_bytes() for path in before} == before
    wal = project_path.with_name("p.aldesk-wal")  # SQLite's (removed again at close), never an export
    assert not wal.exists() or b"path," not in wal.read_bytes()


def test_a_text_project_is_offered_no_image_folders_and_exports_json_lines(qtbot, tmp_path):
    import json

    from tests.gui.text_projects import TICKETS, text_project

    path = text_project(tmp_path / "t.aldesk", TICKETS, ["bug", "question"])
    dialog = ExportDialog(path, kind="text")
    qtbot.addWidget(dialog)
    offered = [dialog.format_combo.itemData(i) for i in range(dialog.format_combo.count())]
    assert "imagefolder" not in offered and "hf-imagefolder" not in offered and "jsonl" in offered
    dialog.format_combo.setCurrentIndex(offered.index("jsonl"))
    assert dialog.out_edit.text() == str(path.with_name("t-jsonl.jsonl"))
    _run(qtbot, dialog)
    records = [json.loads(line) for line in path.with_name("t-jsonl.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in records] == TICKETS
