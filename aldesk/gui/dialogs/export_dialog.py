"""File → Export: choose a format and where it goes; the export runs in a background thread with
a progress bar and a Cancel button, and the dialog shows what was written and what was skipped.

The export reads the project through its own read-only connection, so labeling windows that
hold the project open for writing are not disturbed. A file that exists is replaced only after a
Yes/No question naming it; the project's own files and its images are refused with a message
(aldesk/core/export_guard.py).
"""

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
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from aldesk.core.errors import AldeskError
from aldesk.core.export_report import ExportReport
from aldesk.core.store import open_project
from aldesk.gui.background import BackgroundTask

log = logging.getLogger("aldesk.export_dialog")

# (format, label in the combo, suffix of the default output: a file extension or "" for a folder)
FORMATS = (
    ("csv", "CSV: every item with its label", ".csv"),
    ("json", "JSON: every item with its label and label history", ".json"),
    ("jsonl", "JSON Lines: one item a line, with its label history", ".jsonl"),
    ("imagefolder", "Image folders: one folder per class", ""),
    ("hf-imagefolder", "Hugging Face imagefolder: images + metadata.csv", ""),
    ("predictions", "Predictions for unlabeled items (CSV)", ".csv"),
    ("model", "Model bundle (torch.export program + model card)", ""),
)
IMAGE_FORMATS = ("imagefolder", "hf-imagefolder")
WAIT_ON_CLOSE_S = 30.0


def run_export(project_path: Path, fmt: str, out: Path, link: bool, force: bool, task: BackgroundTask) -> ExportReport:
    """The export thread's work, through its own read-only connection; stops when cancelled."""
    progress, cancel = task.report, lambda: task.cancelled
    with open_project(project_path, write=False) as project:
        if fmt == "model":
            from aldesk.ml.bundle import export_model

            return export_model(project, out, force=force, progress=progress, cancel=cancel)
        from aldesk.core.export import export

        return export(project, fmt, out, link=link, force=force, progress=progress, cancel=cancel)


def failure_message(exc: BaseException) -> str:
    if isinstance(exc, AldeskError):
        return str(exc)
    log.error("an export failed", exc_info=exc)
    return f"The export failed unexpectedly: {type(exc).__name__}: {exc}"  # shown, never swallowed


class ExportDialog(QDialog):
    finished_export = Signal(object)  # ExportReport, after a successful (or cancelled) export

    def __init__(self, project_path: Path, parent: QWidget | None = None, *, kind: str = "image") -> None:
        super().__init__(parent)
        self.project_path = Path(project_path)
        self.setWindowTitle(f"Export {self.project_path.name} — aldesk")
        self.format_combo = QComboBox(self)
        for fmt, label, _ in FORMATS:
            if kind == "image" or fmt not in IMAGE_FORMATS:  # folders of image files: images only
                self.format_combo.addItem(label, fmt)
        self.out_edit = QLineEdit(self)
        choose = QPushButton("Choose…", self)
        choose.clicked.connect(self._choose_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(choose)
        self.link_box = QCheckBox("Hard-link images instead of copying (copies where the disk refuses)", self)
        self.force_box = QCheckBox("Replace an earlier aldesk export in that folder", self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("What was written and what was skipped appears here.")
        form = QFormLayout()
        form.addRow("Format:", self.format_combo)
        form.addRow("Save to:", out_row)
        form.addRow("", self.link_box)
        form.addRow("", self.force_box)
        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_export)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.buttons)
        self.task: BackgroundTask | None = None
        self.report: ExportReport | None = None
        self.error: str | None = None
        self._suggested = ""
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self._format_changed()
        self._set_running(False)
        self.resize(640, 420)

    # -- choices ----------------------------------------------------------------------------

    @property
    def fmt(self) -> str:
        return str(self.format_combo.currentData())

    def set_format(self, fmt: str) -> None:
        self.format_combo.setCurrentIndex(self.format_combo.findData(fmt))

    def _suffix(self) -> str:
        return next(suffix for fmt, _, suffix in FORMATS if fmt == self.fmt)

    def _format_changed(self) -> None:
        # Follow the format with the suggested name until the person types their own.
        suggestion = str(self.project_path.with_name(f"{self.project_path.stem}-{self.fmt}{self._suffix()}"))
        if self.out_edit.text() in ("", self._suggested):
            self.out_edit.setText(suggestion)
        self._suggested = suggestion
        self.link_box.setEnabled(self.fmt in IMAGE_FORMATS)
        self.force_box.setEnabled(not self._suffix())

    def _choose_out(self) -> None:
        if self._suffix():
            path, _ = QFileDialog.getSaveFileName(self, "Export to file", self.out_edit.text())
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into folder (new or empty)", str(self.project_path.parent))
        if path:
            self.out_edit.setText(path)

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        text = self.out_edit.text().strip()
        if not text:
            self._show_error("Choose where to save the export.")
            return
        out = Path(text).expanduser()
        force = self.force_box.isChecked() and self.force_box.isEnabled()
        if self._suffix():  # a file: refuse the protected ones, ask before replacing another
            replace = self._may_write_file(out)
            if replace is None:
                return
            force = replace
        self.report, self.error = None, None
        self.details.clear()
        self.progress_bar.setRange(0, 0)  # busy until the first report
        self.status.setText("Exporting…")
        link = self.link_box.isChecked() and self.link_box.isEnabled()
        work = partial(run_export, self.project_path, self.fmt, out, link, force)
        self.task = BackgroundTask(work, name="aldesk-export", parent=self)
        self.task.progress.connect(self._progress)
        self.task.succeeded.connect(self._done)
        self.task.failed.connect(lambda exc: self._failed(failure_message(exc)))
        self._set_running(True)
        self.task.start()

    def _may_write_file(self, out: Path) -> bool | None:
        """Whether the export may replace ``out`` (False: it does not exist); None if refused,
        with the reason shown."""
        from aldesk.core.export import file_target

        try:
            with open_project(self.project_path, write=False) as project:
                file_target(project, out, force=True)  # the checks that hold even with force
        except AldeskError as exc:
            self._show_error(str(exc).replace("another --out", "another file"))  # the CLI wording
            return None
        if not (out.exists() or out.is_symlink()):
            return False
        answer = QMessageBox.question(
            self,
            "Replace file? — aldesk",
            f"{out} already exists.\n\nReplace it with the export?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            self._show_error(f"{out} exists and was kept; choose another file, or answer Yes to replace it.")
            return None
        return True

    def cancel_export(self) -> None:
        if self.task is not None and self.task.is_running():
            self.task.cancel()
            self.status.setText("Cancelling…")

    def _progress(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(min(done, max(total, 1)))

    def _done(self, report: ExportReport) -> None:
        self._finish_thread()
        self.report = report
        self.status.setText(report.summary())
        self.details.setPlainText("\n".join(report.lines()[1:]) or "Nothing was skipped.")
        if not report.cancelled:
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(1)
        self.finished_export.emit(report)

    def _failed(self, message: str) -> None:
        self._finish_thread()
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.error = message
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status.setText(f"<span style='color:#c0392b'>Not exported.</span> {_escape(message)}")
        self.details.setPlainText(message)

    def _finish_thread(self) -> None:
        self._set_running(False)  # the task's thread has ended when its outcome arrives

    def _set_running(self, running: bool) -> None:
        for widget in (self.format_combo, self.out_edit, self.export_button, self.close_button):
            widget.setEnabled(not running)
        self.link_box.setEnabled(not running and self.fmt in IMAGE_FORMATS)
        self.force_box.setEnabled(not running and not self._suffix())
        self.cancel_button.setEnabled(running)

    def reject(self) -> None:
        # Closing while an export runs cancels it and waits, so no thread outlives the dialog.
        if self.task is not None and self.task.is_running():
            self.task.cancel()
            self.task.wait(WAIT_ON_CLOSE_S)
        super().reject()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_export_dialog(parent: QWidget, project_path: Path, kind: str = "image") -> None:
    """File → Export: the one entry point the main window calls."""
    dialog = ExportDialog(Path(project_path), parent, kind=kind)
    dialog.exec()
    dialog.deleteLater()
