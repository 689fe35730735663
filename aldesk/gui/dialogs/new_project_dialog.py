"""File → New project: where the project goes, which images, which classes; the import runs in
a background thread with a progress bar and ends with the report of skipped files."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from aldesk.core import classes as classes_mod
from aldesk.core.errors import AldeskError
from aldesk.core.importer import ImportReport, import_paths
from aldesk.core.store import PROJECT_SUFFIX, create_project
from aldesk.gui.background import BackgroundTask

log = logging.getLogger("aldesk.new_project")


def create_and_import(
    path: Path, sources: list[Path], names: list[str], hotkeys: list[str] | None, labels_from_folders: bool, task: BackgroundTask
) -> ImportReport:
    """The import thread's work: create the project, add the classes, import (stops when cancelled)."""
    with create_project(path) as project:
        if names:
            classes_mod.add_classes(project, names, hotkeys)
        return import_paths(
            project, sources, labels_from_folders=labels_from_folders, progress=task.report, cancel=lambda: task.cancelled
        )


def failure_message(path: Path, exc: BaseException) -> str:
    """What the dialog says when the import thread failed, whatever the error."""
    if isinstance(exc, AldeskError):
        return str(exc)  # the store's message names the file and what to do
    log.error("creating %s failed", path, exc_info=exc)
    return (
        f"Creating {path} failed ({type(exc).__name__}: {exc}). What was imported "
        "before is kept in it; the details are in the log."
    )


class NewProjectDialog(QDialog):
    created = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project — aldesk")
        self.path_edit = QLineEdit(str(Path.home() / f"labels{PROJECT_SUFFIX}"), self)
        choose = QPushButton("Choose…", self)
        choose.clicked.connect(self._choose_path)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(choose)
        self.sources = QListWidget(self)
        add_folder = QPushButton("Add folder…", self)
        add_folder.clicked.connect(self._add_folder)
        add_files = QPushButton("Add images or CSV…", self)
        add_files.clicked.connect(self._add_files)
        source_buttons = QHBoxLayout()
        source_buttons.addWidget(add_folder)
        source_buttons.addWidget(add_files)
        source_buttons.addStretch(1)
        self.classes_edit = QLineEdit(self)
        self.classes_edit.setPlaceholderText("e.g. healthy, lesion, artefact")
        self.hotkeys_edit = QLineEdit(self)
        self.hotkeys_edit.setPlaceholderText("optional, one per class, e.g. h, l, a (default 1–9, 0, letters)")
        self.from_folders = QCheckBox("Take labels (and classes) from the images' folder names", self)
        form = QFormLayout()
        form.addRow("Project file:", path_row)
        form.addRow("Images:", self.sources)
        form.addRow("", source_buttons)
        form.addRow("Classes:", self.classes_edit)
        form.addRow("Hotkeys:", self.hotkeys_edit)
        form.addRow("", self.from_folders)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create and import")
        buttons.accepted.connect(self.start)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.task: BackgroundTask | None = None
        self.report: ImportReport | None = None
        self.resize(620, 420)

    def _choose_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Project file", self.path_edit.text(), "aldesk projects (*.aldesk)")
        if path:
            self.path_edit.setText(path)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Image folder")
        if folder:
            self.sources.addItem(folder)

    def _add_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Images or CSV lists")
        self.sources.addItems(files)

    def start(self) -> None:
        """Validate, then create and import in the background."""
        path = Path(self.path_edit.text().strip()).expanduser()
        if path.suffix != PROJECT_SUFFIX:
            path = path.with_name(path.name + PROJECT_SUFFIX)
        sources = [Path(self.sources.item(i).text()) for i in range(self.sources.count())]
        try:
            names = [classes_mod.clean_class_name(n) for n in classes_mod.split_list(self.classes_edit.text())]
            hotkeys = classes_mod.split_list(self.hotkeys_edit.text()) or None
            for key in hotkeys or []:
                classes_mod.clean_hotkey(key)
            if hotkeys and len(hotkeys) != len(names):
                raise AldeskError(f"{len(names)} classes but {len(hotkeys)} hotkeys: give one per class.")
            if path.exists():
                raise AldeskError(f"{path} already exists; choose another name.")
            if not sources:
                raise AldeskError("Add at least one image folder, image or CSV list.")
        except AldeskError as exc:
            QMessageBox.warning(self, "New project", str(exc))
            return
        progress = QProgressDialog("Importing images…", "Stop", 0, 0, self)
        progress.setMinimumDuration(300)
        work = partial(create_and_import, path, sources, names, hotkeys, self.from_folders.isChecked())
        self.task = task = BackgroundTask(work, name="aldesk-import", parent=self)
        task.progress.connect(lambda d, t: (progress.setMaximum(t), progress.setValue(d)))
        progress.canceled.connect(task.cancel)
        task.succeeded.connect(lambda report: self._finished(path, report, progress))
        task.failed.connect(lambda exc: self._failed(failure_message(path, exc), progress))
        task.start()

    def _finished(self, path: Path, report: ImportReport, progress: QProgressDialog) -> None:
        progress.close()
        self.report = report
        box = QMessageBox(QMessageBox.Icon.Information, "Import finished", report.summary(), parent=self)
        lines = [f"skipped {p}: {r}" for p, r in report.skipped]
        lines += [f"duplicate {p}: same content as {same}" for p, same in report.duplicates]
        if lines:
            box.setDetailedText("\n".join(lines))
        if self.isVisible():
            box.exec()
        self.created.emit(path)
        self.accept()

    def _failed(self, message: str, progress: QProgressDialog) -> None:
        progress.close()
        QMessageBox.critical(self, "New project", message)
