"""Fine-tuning the text encoder on the person's labels: a tuned copy of all-MiniLM-L6-v2 whose
vectors the app's heads then read, as they read the frozen encoder's.

The default (``TuneSettings()``) is ``supcon``: a supervised contrastive loss over every pair of
texts within a batch of 16 (same class drawn together, others apart; cosines at temperature
0.1), AdamW at 1e-4, 4 epochs, texts cut to 64 tokens while tuning. Chosen by measurement with
benchmarks/bench_text_tuning.py (docs/benchmarks.md, "Text encoder fine-tuning"), on TREC-6
coarse on 2 CPU cores, every method followed by the same plain head on re-embedded vectors:
settings picked on 1,000 held-out training questions, then confirmed on the test split, where
supcon reached 0.901 / 0.907 / 0.936 at 100 / 160 / 260 random labels (3 seeds; the frozen
encoder 0.687 / 0.686 / 0.753). SetFit's pairs (``pairs``: one same-class and one other-class
partner per text, the pair's cosine regressed on 1/0) scored 0.887 / 0.905 / 0.933 and takes
3.3x as long, since every epoch reads four times the texts; end-to-end cross-entropy through a
linear head (``cross-entropy``) 0.845 / 0.905 / 0.937, as fast as supcon but weaker and less
steady at 100 labels (0.784 to 0.880 over the seeds). Tuning on 260 labels took 19 s and
re-embedding 5,000 texts 10 s, against a goal of 2 minutes for both. The usual small learning
rates (2e-5, 5e-5) were too small for the 30-70 steps a few hundred labels make.

The tuned encoder's ``identity`` is a digest of the base identity, the labeled texts with their
labels (in a canonical order, so the order they come in does not matter) and the settings, so
its embeddings are stored apart from the base's and from those of any other tuning. Its weights
travel as safetensors bytes (:func:`tuned_state_bytes`, :func:`encoder_from_state`): the whole
network, 90 MB in float32.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.ml.encoders.minilm import HIDDEN, NAME, MiniLM, TextEncoder

Method = Literal["cross-entropy", "pairs", "supcon"]
METHODS: tuple[Method, ...] = ("cross-entropy", "pairs", "supcon")
Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]

RECIPE = "aldesk fine-tune v1"  # part of the identity: change it when the procedure changes
HEAD_SCALE = 20.0  # cross-entropy: logits of the unit embedding times this (a cosine-like head)
HEAD_LR_FACTOR = 100.0  # the new head learns this much faster than the pretrained encoder
WEIGHT_DECAY = 0.01
WARMUP = 0.1  # share of the steps with a rising learning rate, then a linear fall to 0
CLIP = 1.0  # gradient norm
TEMPERATURE = 0.1  # supcon: the temperature of the in-batch softmax over cosines


@dataclass(frozen=True)
class TuneSettings:
    """How to fine-tune. ``epochs``: passes over the labeled texts (for ``pairs``, over one
    positive and one negative pair per labeled text). ``max_tokens``: texts are cut to this many
    tokens while tuning (embedding afterwards reads the encoder's usual length)."""

    method: Method = "supcon"
    epochs: int = 4
    learning_rate: float = 1e-4
    batch_size: int = 16
    max_tokens: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown fine-tuning method {self.method!r}; one of {', '.join(METHODS)}")
        if self.epochs < 1 or self.batch_size < 2 or self.max_tokens < 2 or not self.learning_rate > 0:
            raise ValueError(f"fine-tuning settings out of range: {self}")


def tuned_identity(base: str, texts: Sequence[str], labels: Sequence[int], settings: TuneSettings) -> str:
    """The identity of the vectors of ``base`` tuned on these labeled texts with ``settings``: a
    digest of all of them, independent of the order the texts come in (the tuning sorts them)."""
    digest = hashlib.sha256()
    head = {"recipe": RECIPE, "base": base, "settings": asdict(settings), "count": len(texts)}
    digest.update(json.dumps(head, sort_keys=True).encode())
    for text, label in _canonical(texts, labels):
        data = text.encode("utf-8", "surrogatepass")
        digest.update(f"\n{label} {len(data)} ".encode())
        digest.update(data)
    return f"{base}-tuned-{digest.hexdigest()[:12]}"


def fine_tune(
    encoder: TextEncoder,
    texts: Sequence[str],
    labels: np.ndarray,
    n_classes: int,
    settings: TuneSettings = TuneSettings(),
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> TextEncoder | None:
    """A new encoder whose network is a copy of ``encoder``'s tuned on ``texts`` and their class
    indices ``labels`` (0 .. n_classes - 1); ``encoder`` itself is not changed. None when
    ``cancel`` returns True (asked before every step). ``progress(step, steps)`` after each step."""
    y = [int(v) for v in np.asarray(labels).reshape(-1)]
    if len(y) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(y)} labels")
    if any(v < 0 or v >= n_classes for v in y):
        raise ValueError(f"labels must be class indices 0 .. {n_classes - 1}")
    if len(set(y)) < 2:
        raise ValueError("fine-tuning needs labeled texts of at least two classes")
    pairs = _canonical(texts, y)
    ordered, y_sorted = [t for t, _ in pairs], torch.tensor([v for _, v in pairs])
    identity = tuned_identity(encoder.identity, texts, y, settings)
    network = copy.deepcopy(encoder.network)
    with torch.random.fork_rng(devices=[]):  # dropout draws from the global generator
        torch.manual_seed(settings.seed)
        done = _train(encoder, network, ordered, y_sorted, n_classes, settings, progress, cancel)
    if not done:
        return None
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return encoder.with_network(network, identity)


def _canonical(texts: Sequence[str], labels: Sequence[int]) -> list[tuple[str, int]]:
    return sorted(zip((str(t) for t in texts), (int(v) for v in labels)))


def _train(
    encoder: TextEncoder,
    network: MiniLM,
    texts: list[str],
    y: torch.Tensor,
    n_classes: int,
    settings: TuneSettings,
    progress: Progress | None,
    cancel: Cancel | None,
) -> bool:
    generator = torch.Generator().manual_seed(settings.seed)
    device = encoder.device
    head: nn.Linear | None = None
    groups: list[dict[str, object]] = [{"params": [p for p in network.parameters()], "lr": settings.learning_rate}]
    if settings.method == "cross-entropy":
        head = nn.Linear(HIDDEN, n_classes).to(device)
        groups.append({"params": list(head.parameters()), "lr": settings.learning_rate * HEAD_LR_FACTOR})
    batches = list(_batches(settings, y, generator))
    steps = len(batches)
    optimizer = torch.optim.AdamW(groups, lr=settings.learning_rate, weight_decay=WEIGHT_DECAY)
    warmup = max(1, int(round(WARMUP * steps)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup)))
    )
    network.train()
    for parameter in network.parameters():
        parameter.requires_grad_(True)
    for step, batch in enumerate(batches):
        if cancel is not None and cancel():
            return False
        rows = batch.reshape(-1).tolist()
        input_ids, mask = encoder.tokenize([texts[i] for i in rows], settings.max_tokens)
        vectors = network(input_ids.to(device), mask.to(device))
        loss = _loss(settings.method, vectors, y[rows].to(device), head)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), CLIP)
        optimizer.step()
        schedule.step()
        if progress is not None:
            progress(step + 1, steps)
    return True


def _batches(settings: TuneSettings, y: torch.Tensor, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Row indices of each step: [B] texts, or for ``pairs`` [B, 2] pairs of texts."""
    size = settings.batch_size
    for _ in range(settings.epochs):
        rows = _pairs(y, generator) if settings.method == "pairs" else torch.arange(len(y))
        rows = rows[torch.randperm(len(rows), generator=generator)]
        yield from (rows[start : start + size] for start in range(0, len(rows), size))


def _pairs(y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """SetFit's sampling: for every text one partner of its class and one of another ([2n, 2])."""

    def pick(pool: torch.Tensor) -> int:
        return int(pool[torch.randint(len(pool), (1,), generator=generator)])

    out = []
    for i in range(len(y)):
        same = torch.nonzero(y == y[i]).reshape(-1)
        other = torch.nonzero(y != y[i]).reshape(-1)
        if len(same) > 1:
            same = same[same != i]
        out.append((i, pick(same)))
        out.append((i, pick(other)))
    return torch.tensor(out)


def _loss(method: Method, vectors: torch.Tensor, y: torch.Tensor, head: nn.Linear | None) -> torch.Tensor:
    if method == "cross-entropy":
        assert head is not None
        return F.cross_entropy(head(vectors * HEAD_SCALE), y)
    if method == "pairs":  # SetFit's CosineSimilarityLoss: the pair's cosine regressed on same/other
        a, b = vectors[0::2], vectors[1::2]
        target = (y[0::2] == y[1::2]).to(vectors.dtype)
        return F.mse_loss((a * b).sum(dim=1), target)
    # supcon: supervised contrastive over the batch, every other text of a class a positive
    similarity = vectors @ vectors.T / TEMPERATURE
    self_mask = torch.eye(len(y), dtype=torch.bool, device=vectors.device)
    similarity = similarity.masked_fill(self_mask, -math.inf)
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positive = (y[:, None] == y[None, :]) & ~self_mask
    counts = positive.sum(dim=1)
    has = counts > 0
    if not bool(has.any()):
        return (vectors * 0.0).sum()
    summed = log_prob.masked_fill(~positive, 0.0).sum(dim=1)
    return -(summed[has] / counts[has]).mean()


# --- keeping tuned weights: safetensors bytes (no pickle) -------------------------------------


def tuned_state_bytes(encoder: TextEncoder, *, half: bool = False) -> bytes:
    """The network's weights as safetensors bytes, by the published parameter names: float32,
    or float16 with ``half`` (45 MB instead of 90, what a project keeps)."""
    from safetensors.torch import save

    dtype = torch.float16 if half else torch.float32
    state = {
        name: tensor.detach().to("cpu", dtype=dtype if tensor.is_floating_point() else tensor.dtype).contiguous()
        for name, tensor in encoder.network.state_dict().items()
    }
    return save(state, metadata={"format": "pt", "model": NAME, "identity": encoder.identity})


def encoder_from_state(base: TextEncoder, data: bytes, identity: str) -> TextEncoder:
    """An encoder with ``base``'s tokenizer and device and the weights of ``data`` (from
    :func:`tuned_state_bytes`), loaded strictly; AldeskError when the bytes are not such weights."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        state = load(data)
    except (SafetensorError, ValueError, OSError) as exc:
        raise AldeskError(
            f"The stored fine-tuned weights of {identity} cannot be read ({str(exc).strip()[:200] or type(exc).__name__}): "
            "they are damaged."
        ) from None
    network = MiniLM()
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise AldeskError(
            f"The stored fine-tuned weights of {identity} do not fit the {NAME} network "
            f"({str(exc).strip().splitlines()[0][:200]})."
        ) from None
    network.eval()
    network.requires_grad_(False)
    return base.with_network(network, identity)
