"""File → New project: where the project goes, what it holds (images or texts), which files,
which classes; the import runs in a background thread with a progress bar and ends with the
report: what was skipped and why, and the notes (an encoding read as Latin-1, a long text)."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QVBoxLayout,
    QWidget,
)

from aldesk.core import classes as classes_mod
from aldesk.core.errors import AldeskError
from aldesk.core.imageio import IMAGE_SUFFIXES
from aldesk.core.importer import ImportReport, import_paths
from aldesk.core.kinds import set_kind
from aldesk.core.kinds.text import TEXT_SUFFIXES
from aldesk.core.store import PROJECT_SUFFIX, create_project
from aldesk.core.text_tables import TABLE_SUFFIXES
from aldesk.gui.background import BackgroundTask

log = logging.getLogger("aldesk.new_project")
REPORT_LINES = 8  # skipped items and notes shown in the report itself; all of them under Details
REPORT_WIDTH = 640


def _patterns(suffixes) -> str:
    return " ".join(f"*{suffix}" for suffix in sorted(suffixes))


# What the dialog says and offers for each kind of item (aldesk/core/kinds).
KINDS = {
    "image": {
        "choice": "Images",
        "sources": "Images:",
        "folder": "Image folder",
        "files": "Add images or CSV…",
        "filter": f"Images and CSV lists ({_patterns(IMAGE_SUFFIXES | {'.csv'})});;All files (*)",
        "from_folders": "Take labels (and classes) from the images' folder names",
        "empty": "Add at least one image folder, image or CSV list.",
        "importing": "Importing images…",
        "classes": "e.g. healthy, lesion, artefact",
    },
    "text": {
        "choice": "Texts",
        "sources": "Texts:",
        "folder": "Folder of .txt files",
        "files": "Add texts or tables…",
        "filter": f"Texts and tables ({_patterns(set(TEXT_SUFFIXES) | set(TABLE_SUFFIXES))});;All files (*)",
        "from_folders": "Take labels (and classes) from the texts' folder names",
        "empty": "Add at least one folder of .txt files, text file or table (CSV, TSV, JSON Lines).",
        "importing": "Importing texts…",
        "classes": "e.g. bug, question, billing",
    },
}


def create_and_import(
    path: Path,
    sources: list[Path],
    names: list[str],
    hotkeys: list[str] | None,
    labels_from_folders: bool,
    task: BackgroundTask,
    *,
    kind: str = "image",
    text_column: str | None = None,
    label_column: str | None = None,
) -> ImportReport:
    """The import thread's work: create the project of ``kind``, add the classes, import (stops when cancelled)."""
    with create_project(path) as project:
        set_kind(project, kind)
        if names:
            classes_mod.add_classes(project, names, hotkeys)
        return import_paths(
            project,
            sources,
            labels_from_folders=labels_from_folders,
            text_column=text_column,
            label_column=label_column,
            progress=task.report,
            cancel=lambda: task.cancelled,
        )


def report_lines(report: ImportReport) -> list[str]:
    """Every skipped item with its reason, then every note, then the duplicates: one line each."""
    lines = [f"skipped {where}: {reason}" for where, reason in report.skipped]
    lines += [f"note {where}: {note}" for where, note in report.notes]
    lines += [f"duplicate {p}: same content as {same}" for p, same in report.duplicates]
    return lines


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
        self.kind_combo = QComboBox(self)
        for name, words in KINDS.items():
            self.kind_combo.addItem(words["choice"], name)
        self.kind_combo.currentIndexChanged.connect(lambda _i: self._kind_changed())
        self.path_edit = QLineEdit(str(Path.home() / f"labels{PROJECT_SUFFIX}"), self)
        choose = QPushButton("Choose…", self)
        choose.clicked.connect(self._choose_path)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(choose)
        self.sources = QListWidget(self)
        add_folder = QPushButton("Add folder…", self)
        add_folder.clicked.connect(self._add_folder)
        self.add_files_button = QPushButton(self)
        self.add_files_button.clicked.connect(self._add_files)
        source_buttons = QHBoxLayout()
        source_buttons.addWidget(add_folder)
        source_buttons.addWidget(self.add_files_button)
        source_buttons.addStretch(1)
        self.classes_edit = QLineEdit(self)
        self.hotkeys_edit = QLineEdit(self)
        self.hotkeys_edit.setPlaceholderText("optional, one per class, e.g. h, l, a (default 1–9, 0, letters)")
        self.from_folders = QCheckBox(self)
        # Tables of texts: which columns hold the text and the label (defaults: text, label).
        self.text_column_edit = QLineEdit(self)
        self.text_column_edit.setPlaceholderText("text")
        self.label_column_edit = QLineEdit(self)
        self.label_column_edit.setPlaceholderText("label (optional)")
        self.label_column_edit.setToolTip("The column of labels already known, if the table has one")
        self.columns_label = QLabel("Table columns:", self)
        columns = QHBoxLayout()
        columns.addWidget(QLabel("text", self))
        columns.addWidget(self.text_column_edit, 1)
        columns.addWidget(QLabel("label", self))
        columns.addWidget(self.label_column_edit, 1)
        self.columns_row = QWidget(self)
        self.columns_row.setLayout(columns)
        columns.setContentsMargins(0, 0, 0, 0)
        self.sources_label = QLabel(self)
        form = QFormLayout()
        form.addRow("Project file:", path_row)
        form.addRow("Items:", self.kind_combo)
        form.addRow(self.sources_label, self.sources)
        form.addRow("", source_buttons)
        form.addRow(self.columns_label, self.columns_row)
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
        self.report_box: QMessageBox | None = None
        self._kind_changed()
        self.resize(620, 420)

    @property
    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def set_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))

    def _words(self) -> dict[str, str]:
        return KINDS[self.kind]

    def _kind_changed(self) -> None:
        words = self._words()
        self.sources_label.setText(words["sources"])
        self.add_files_button.setText(words["files"])
        self.from_folders.setText(words["from_folders"])
        self.classes_edit.setPlaceholderText(words["classes"])
        texts = self.kind == "text"
        self.columns_label.setVisible(texts)
        self.columns_row.setVisible(texts)

    def _choose_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Project file", self.path_edit.text(), "aldesk projects (*.aldesk)")
        if path:
            self.path_edit.setText(path)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self._words()["folder"])
        if folder:
            self.sources.addItem(folder)

    def _add_files(self) -> None:
        words = self._words()
        files, _ = QFileDialog.getOpenFileNames(self, words["files"].rstrip("…"), "", words["filter"])
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
                raise AldeskError(self._words()["empty"])
        except AldeskError as exc:
            QMessageBox.warning(self, "New project", str(exc))
            return
        progress = QProgressDialog(self._words()["importing"], "Stop", 0, 0, self)
        progress.setMinimumDuration(300)
        texts = self.kind == "text"
        work = partial(
            create_and_import,
            path,
            sources,
            names,
            hotkeys,
            self.from_folders.isChecked(),
            kind=self.kind,
            text_column=(self.text_column_edit.text().strip() or None) if texts else None,
            label_column=(self.label_column_edit.text().strip() or None) if texts else None,
        )
        self.task = task = BackgroundTask(work, name="aldesk-import", parent=self)
        task.progress.connect(lambda d, t: (progress.setMaximum(t), progress.setValue(d)))
        progress.canceled.connect(task.cancel)
        task.succeeded.connect(lambda report: self._finished(path, report, progress))
        task.failed.connect(lambda exc: self._failed(failure_message(path, exc), progress))
        task.start()

    def _finished(self, path: Path, report: ImportReport, progress: QProgressDialog) -> None:
        progress.close()
        self.report = report
        summary = report.summary() + (f", {len(report.notes)} note{'s' * (len(report.notes) != 1)}" if report.notes else "")
        box = QMessageBox(QMessageBox.Icon.Information, "Import finished", summary, parent=self)
        self.report_box = box
        lines = report_lines(report)
        if lines:
            # The first few in the report itself, so the reasons are seen; all of them under Details.
            shown = lines[:REPORT_LINES] + (
                [f"… and {len(lines) - REPORT_LINES} more (Show Details)"] if len(lines) > REPORT_LINES else []
            )
            box.setInformativeText("\n".join(shown))
            box.setDetailedText("\n".join(lines))
            # Wide enough for a path and its reason on one line (a message box sizes to its
            # shortest words otherwise): a spacer across the box's grid is Qt's way to widen it.
            grid = box.layout()
            if isinstance(grid, QGridLayout):
                spacer = QSpacerItem(REPORT_WIDTH, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)
                grid.addItem(spacer, grid.rowCount(), 0, 1, grid.columnCount())
        if self.isVisible():
            box.exec()
        self.created.emit(path)
        self.accept()

    def _failed(self, message: str, progress: QProgressDialog) -> None:
        progress.close()
        QMessageBox.critical(self, "New project", message)
