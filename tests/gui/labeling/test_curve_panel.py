import numpy as np

from aldesk.core.model_store import save_model
from aldesk.core.vectors import get_or_create_set
from aldesk.gui.labeling.curve_panel import LearningCurve, curve_data, summary_text


def _model(project, set_id, n_labels, metrics):
    save_model(
        project,
        set_id=set_id,
        head="default",
        n_labels=n_labels,
        class_ids=[1, 2],
        params=b"",
        metrics=metrics,
        item_ids=np.array([], dtype=np.int64),
        probs=np.zeros((0, 2), np.float32),
    )


def _estimate(value, low, high, audits):
    return {"value": value, "low": low, "high": high, "audit_labels": audits, "level": 0.9}


def test_the_curve_shows_audit_estimates_with_their_interval_and_the_advice(project, qtbot):
    eset = get_or_create_set(project, "pixels", "pixels:test", 4)
    _model(project, eset.id, 50, {"cv_accuracy": 0.9, "estimate": _estimate(None, None, None, 5)})
    _model(
        project,
        eset.id,
        120,
        {"cv_accuracy": 0.93, "estimate": _estimate(0.75, 0.6, 0.86, 12), "gain_per_100": 3.0, "kappa_previous": 0.9},
    )
    _model(
        project,
        eset.id,
        200,
        {"cv_accuracy": 0.95, "estimate": _estimate(0.8, 0.7, 0.88, 20), "gain_per_100": 2.0, "kappa_previous": 0.95},
    )
    data = curve_data(project)
    assert data.labels == [120, 200] and data.low == [0.6, 0.7] and data.cv_labels == [50, 120, 200]
    assert data.advice["stop"] is False
    text = summary_text(data)
    assert "80.0%" in text and "70.0% to 88.0%" in text and "20 audit labels" in text
    assert "Keep labeling" in text and "+2.0 points per 100 labels" in text
    widget = LearningCurve()
    qtbot.addWidget(widget)
    widget.set_data(data)
    assert widget.note.text() == text
    # the estimate, its two bounds, the band between them and the cross-validated line
    assert len(widget.plot.getPlotItem().items) == 5


def test_before_any_estimate_the_panel_says_what_it_needs(project, qtbot):
    data = curve_data(project)
    assert data.labels == [] and "needs 10 audit labels" in summary_text(data)
    widget = LearningCurve()
    qtbot.addWidget(widget)
    widget.set_data(data)
