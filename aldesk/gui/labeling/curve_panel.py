"""The learning curve: the model's estimated accuracy, with its 90% interval, against labels.

The estimate rests on the audit items alone (uniformly drawn, see aldesk/ml/evaluation/audit.py). The
cross-validated accuracy on all labels is drawn faintly for comparison and named for what it is:
biased (actively chosen labels are not a fair sample; folds learn from fewer labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from aldesk.core import settings
from aldesk.core.model_store import model_history
from aldesk.core.stopping import stopping_advice
from aldesk.core.store import Project

ESTIMATE_COLOUR = "#4e79a7"
CV_COLOUR = "#9c9c9c"


@dataclass
class CurveData:
    labels: list[int] = field(default_factory=list)  # at each model with an audit estimate
    value: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    audit_labels: list[int] = field(default_factory=list)
    cv_labels: list[int] = field(default_factory=list)
    cv_accuracy: list[float] = field(default_factory=list)
    advice: dict = field(default_factory=dict)


def curve_data(project: Project) -> CurveData:
    data = CurveData()
    history = model_history(project)
    for _version, _created, n_labels, metrics in history:
        estimate = metrics.get("estimate") or {}
        if estimate.get("value") is not None:
            data.labels.append(n_labels)
            data.value.append(estimate["value"])
            data.low.append(estimate["low"])
            data.high.append(estimate["high"])
            data.audit_labels.append(estimate["audit_labels"])
        if metrics.get("cv_accuracy") is not None:
            data.cv_labels.append(n_labels)
            data.cv_accuracy.append(metrics["cv_accuracy"])
    data.advice = stopping_advice(
        [m for *_rest, m in history],
        gain_threshold=settings.get(project, "stop_gain_points"),
        kappa_min=settings.get(project, "stop_kappa"),
    )
    return data


def summary_text(data: CurveData) -> str:
    if data.value:
        head = (
            f"Estimated accuracy {data.value[-1]:.1%} (90% interval {data.low[-1]:.1%} to "
            f"{data.high[-1]:.1%}), from {data.audit_labels[-1]} audit labels: items drawn at random "
            "from the unlabeled pool, one in ten of those you label."
        )
    else:
        head = (
            "No accuracy estimate yet: it needs 10 audit labels (one in ten of the items shown is "
            "drawn at random for it, so about 100 labels)."
        )
    advice = data.advice
    stop = ("Stopping point: " if advice.get("stop") else "Keep labeling: ") + advice.get("reason", "")
    return (
        f"{head}\n{stop}\nGrey, dashed: cross-validated on the labels themselves, for comparison only: "
        "actively chosen labels are not a fair sample, and each fold learns from two thirds of them."
    )


class LearningCurve(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The plot takes the theme's colours (pyqtgraph draws black by default).
        palette = self.palette()
        self.plot = pg.PlotWidget(self, background=palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        for side in ("left", "bottom"):
            axis = self.plot.getPlotItem().getAxis(side)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        self.plot.setLabel("bottom", "labels")
        self.plot.setLabel("left", "accuracy")
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot)
        layout.addWidget(self.note)

    def set_data(self, data: CurveData) -> None:
        self.plot.clear()
        right = max(data.labels + data.cv_labels + [0])
        self.plot.setXRange(0, right * 1.05 + 10, padding=0.02)
        if data.cv_labels:
            self.plot.plot(data.cv_labels, data.cv_accuracy, pen=pg.mkPen(CV_COLOUR, width=1, style=Qt.PenStyle.DashLine))
        if data.labels:
            low = self.plot.plot(data.labels, data.low, pen=pg.mkPen(ESTIMATE_COLOUR, width=0.5))
            high = self.plot.plot(data.labels, data.high, pen=pg.mkPen(ESTIMATE_COLOUR, width=0.5))
            band = pg.FillBetweenItem(low, high, brush=pg.mkBrush(78, 121, 167, 60))
            self.plot.addItem(band)
            self.plot.plot(
                data.labels,
                data.value,
                pen=pg.mkPen(ESTIMATE_COLOUR, width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush=ESTIMATE_COLOUR,
            )
        self.note.setText(summary_text(data))


class CurveDock(QDockWidget):
    """The learning curve as a panel beside the image (View → Learning curve, Ctrl+L toggles it);
    redrawn whenever a new model is stored while it is shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Learning curve", parent)
        self.setObjectName("learning-curve")  # saveState/restoreState find it by this name
        self.setAllowedAreas(Qt.DockWidgetArea.RightDockWidgetArea | Qt.DockWidgetArea.BottomDockWidgetArea)
        self.curve = LearningCurve(self)
        self.curve.setMinimumWidth(320)
        self.setWidget(self.curve)

    def show_project(self, project: Project) -> None:
        self.curve.set_data(curve_data(project))


def toggle_curve_dock(window: QMainWindow, dock: CurveDock | None, project: Project, beside_of: QWidget) -> CurveDock:
    """Show the learning-curve panel (made on first use), or hide it if shown; returns it."""
    if dock is not None and dock.isVisible():
        dock.hide()
        return dock
    dock = dock or CurveDock(window)
    # Beside the image where the window has room for it, else below: a panel that made the
    # window wider than the screen (many class buttons) would end up off screen.
    spare = window.width() - beside_of.minimumSizeHint().width()
    beside = spare >= dock.minimumSizeHint().width()
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea if beside else Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.show_project(project)
    dock.show()
    return dock
