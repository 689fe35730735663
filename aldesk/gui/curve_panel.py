"""The learning curve: the model's estimated accuracy against the number of labels.

Until the audit stream lands (honest estimates from random items), the estimate shown is the
cross-validated accuracy on the labels themselves, and the panel says that it is optimistic.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from aldesk.core.model_store import model_history
from aldesk.core.store import Project


class LearningCurve(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(self)
        self.plot.setLabel("bottom", "labels")
        self.plot.setLabel("left", "cross-validated accuracy")
        self.plot.setYRange(0, 1)
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.note = QLabel(
            "Cross-validated on the labels so far; actively chosen labels are harder than "
            "average, so this is a rough guide, not an unbiased estimate.", self)
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot)
        layout.addWidget(self.note)

    def set_points(self, labels: list[int], accuracy: list[float]) -> None:
        self.plot.clear()
        if labels:
            self.plot.setXRange(0, max(labels) * 1.1 + 10)
            self.plot.plot(labels, accuracy, pen=pg.mkPen("#4e79a7", width=2), symbol="o", symbolSize=6,
                           symbolBrush="#4e79a7")


def curve_points(project: Project) -> tuple[list[int], list[float]]:
    points = [(n, m.get("cv_accuracy")) for _v, _c, n, m in model_history(project)]
    points = [(n, a) for n, a in points if a is not None]
    return [n for n, _ in points], [a for _, a in points]


def show_learning_curve(parent: QWidget, project: Project) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle(f"Learning curve — {project.name}")
    curve = LearningCurve(dialog)
    curve.set_points(*curve_points(project))
    layout = QVBoxLayout(dialog)
    layout.addWidget(curve)
    dialog.resize(640, 420)
    dialog.show()
    return dialog
