"""Whether to stop labeling: the advice ``aldesk info`` and the window show.

Reads the metrics the learning engine stored with each model version (``estimate``,
``gain_per_100``, ``kappa_previous``; see aldesk/ml/evaluation/audit.py) and the project's settings.
"""

from __future__ import annotations

from typing import Any

from aldesk.core import model_store, settings
from aldesk.core.store import Project

KAPPA_WINDOW = 3  # successive model pairs that must agree (Bloodgood & Vijay-Shanker, 2009)
_NO_ESTIMATE = {"value": None, "low": None, "high": None, "audit_labels": 0}


def stopping_advice(
    history: list[dict[str, Any]], *, gain_threshold: float, kappa_min: float, window: int = KAPPA_WINDOW
) -> dict[str, Any]:
    """Stop when the estimated gain per 100 labels is under ``gain_threshold`` points and the
    last ``window`` successive models agreed on the pool's predictions with mean kappa of at
    least ``kappa_min`` (the stabilizing-predictions rule)."""
    latest = history[-1] if history else {}
    gain = latest.get("gain_per_100")
    kappas = [m.get("kappa_previous") for m in history[-window:]]
    known: list[float] = [k for k in kappas if k is not None]
    enough = len(kappas) == window and len(known) == window
    mean_kappa = sum(known) / window if enough else None
    advice: dict[str, Any] = {
        "stop": False,
        "gain_per_100": gain,
        "kappa": mean_kappa,
        "gain_threshold": gain_threshold,
        "kappa_min": kappa_min,
    }
    if gain is None:
        advice["reason"] = "not enough audit labels yet to estimate the gain from more labels"
    elif gain >= gain_threshold:
        advice["reason"] = f"labels still help: about {gain:+.1f} points per 100 labels"
    elif mean_kappa is None:
        advice["reason"] = f"fewer than {window + 1} models so far to compare their predictions"
    elif mean_kappa < kappa_min:
        advice["reason"] = f"predictions still change between models (kappa {mean_kappa:.3f} < {kappa_min})"
    else:
        advice["stop"] = True
        advice["reason"] = (
            f"about {gain:+.1f} points per 100 labels and stable predictions "
            f"(kappa {mean_kappa:.3f}): more labels are unlikely to help much"
        )
    return advice


def latest_estimate(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest model's accuracy estimate, or null values before there is one."""
    estimate = history[-1].get("estimate") if history else None
    if not estimate:
        return dict(_NO_ESTIMATE)
    return {key: estimate.get(key) for key in _NO_ESTIMATE}


def project_advice(project: Project) -> tuple[dict[str, Any], dict[str, Any]]:
    """(estimated_accuracy, stopping) for ``aldesk info``."""
    history = [metrics for _v, _c, _n, metrics in model_store.model_history(project)]
    advice = stopping_advice(
        history, gain_threshold=settings.get(project, "stop_gain_points"), kappa_min=settings.get(project, "stop_kappa")
    )
    return latest_estimate(history), advice
