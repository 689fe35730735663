"""The status bar: time left of its stages, and the latest model's guess as the person can trust it."""

from __future__ import annotations

from PySide6.QtWidgets import QStatusBar

from aldesk.core.eta import Remaining
from aldesk.gui.learning.status import LearningStatus


def test_worker_and_tuning_progress_show_their_own_time_left(qtbot):
    bar = QStatusBar()
    qtbot.addWidget(bar)
    status = LearningStatus(bar)
    now = [0.0]
    status._worker_left, status._tuning_left = Remaining(lambda: now[0]), Remaining(lambda: now[0])
    status.worker_state("embedding", 100, 1000)
    status.tuning_state("tuning the encoder", 1, 20)
    assert status.worker_label.text() == "embedding 10%"
    now[0] = 30.0
    status.worker_state("embedding", 400, 1000)  # 300 items in 30 s: 600 left take a minute
    status.tuning_state("tuning the encoder", 3, 20)  # 2 steps in 30 s: 17 left take 255 s
    assert status.worker_label.text() == "embedding 40% · about 1 min left"
    assert status.tuning_label.text() == "· tuning the encoder 15% · about 4 min left"
    status.worker_state("training", 0, 0)
    assert status.worker_label.text() == "training"


def test_an_uncalibrated_model_guesses_without_a_number_and_no_model_says_100_percent(qtbot):
    import numpy as np

    from aldesk.gui.labeling.presenter import shown_probability

    bar = QStatusBar()
    qtbot.addWidget(bar)
    status = LearningStatus(bar)
    status._predictions = (np.array([4, 9]), np.array([[0.999, 0.001], [0.2, 0.8]]), [11, 22])
    status._calibrated = False  # fewer labels than calibrating needs
    assert status.prediction(4) == (11, None) and status.prediction(5) is None
    assert shown_probability(None) == "(a first guess: too few labels to say how sure)"
    status._calibrated = True
    assert status.prediction(9) == (22, 0.8)
    assert shown_probability(status.prediction(4)[1]) == "99%" and shown_probability(0.8) == "80%"
