"""How far the probabilities a model shows are from how often it is right.

Expected calibration error (Guo et al. 2017, "On Calibration of Modern Neural Networks"): the
items are binned by the model's top probability; ECE is the item-weighted mean gap between a
bin's mean top probability and its accuracy. A model that says 90% and is right 90% of the
time has ECE 0. numpy only: the benchmark and the simulation read it without the window.
"""

from __future__ import annotations

import numpy as np


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """``probs`` [N, K] (rows sum to 1), ``y`` [N] true class indices."""
    if len(y) == 0:
        return float("nan")
    confidence = probs.max(1)
    correct = probs.argmax(1) == y
    # Bin i holds confidences in (i/bins, (i+1)/bins]; a top probability is at least 1/K > 0.
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap += members.sum() * abs(float(confidence[members].mean()) - float(correct[members].mean()))
    return gap / len(y)


def accuracy_above(probs: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    """(share of items whose top probability is at least ``threshold``, their accuracy)."""
    shown = probs.max(1) >= threshold
    if not shown.any():
        return 0.0, float("nan")
    return float(shown.mean()), float((probs[shown].argmax(1) == y[shown]).mean())
