"""Expected calibration error on probabilities whose calibration is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from aldesk.ml.evaluation.calibration import accuracy_above, expected_calibration_error


def test_a_calibrated_model_has_no_error_and_an_overconfident_one_its_gap():
    # 10 items at 0.8 confidence, 8 right: calibrated
    probs = np.tile([0.8, 0.2], (10, 1))
    y = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(probs, y) == pytest.approx(0.0)
    # the same items said at 0.99: a gap of 0.19
    sure = np.tile([0.99, 0.01], (10, 1))
    assert expected_calibration_error(sure, y) == pytest.approx(0.19)


def test_bins_are_weighed_by_their_items():
    probs = np.array([[0.95, 0.05]] * 4 + [[0.55, 0.45]] * 4)
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])  # 100% right at 0.95, 50% at 0.55
    assert expected_calibration_error(probs, y) == pytest.approx((4 * 0.05 + 4 * 0.05) / 8)


def test_accuracy_of_the_confident_ones():
    probs = np.array([[0.995, 0.005], [0.999, 0.001], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 0, 1])
    assert accuracy_above(probs, y, 0.99) == (0.5, 0.5)
    assert accuracy_above(probs, y, 0.9999)[0] == 0.0
