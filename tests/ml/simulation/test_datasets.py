"""The built-in simulation data sets: a missing package is named with its install command."""

from __future__ import annotations

import sys

import pytest

from aldesk.core.errors import AldeskError
from aldesk.ml.simulation.datasets import load_dataset


def test_digits_without_scikit_learn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(AldeskError, match="pip install scikit-learn"):
        load_dataset("digits")
