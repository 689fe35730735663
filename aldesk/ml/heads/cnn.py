"""The weight-free head: a small CNN trained from scratch on the labeled thumbnails.

Used when no pretrained backbone exists: the ``pixels`` backbone stores each item as its 32 x 32
RGB thumbnail (3,072 values, channel-first, centred on 0), and this head reshapes those vectors
back into images and trains a small convolutional network on the labeled ones. It learns what a
fixed pixel embedding cannot (shift tolerance, local strokes and edges), which matters on small
grayscale pictures such as digits or Fashion-MNIST.

Choices, for a 2-core CPU and a refresh every few seconds:

- four 3x3 conv layers with batch norm (16-32-64-64 channels, ~60k weights; the first strided,
  then two 2x2 poolings), global average pooling: the 64 values before the classifier are the
  item's feature vector;
- augmentation: random shifts of up to 3 pixels (edge pixels repeated), no flips -- a flipped
  digit or letter is another symbol or none, and aldesk does not know what the images show;
- class-balanced cross-entropy (each labeled class carries the same total weight) and AdamW with
  a one-cycle learning rate over a fixed number of steps, fewer when warm-started from the
  previous model: no validation split to early-stop on exists with a few dozen labels;
- deterministic for a given seed (its own RNG state; the global one is left as it was);
- on a CUDA pool the network trains and scores there (batches, augmentation indices and seeds
  still come from the CPU generator); the pool's scoring gains most (~0.26 ms per item on 2 CPU
  cores), training little (64-image steps are too small to fill a GPU) but nothing is lost.
"""

from __future__ import annotations

import copy
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aldesk.core.errors import AldeskError
from aldesk.ml.device import is_cuda
from aldesk.ml.heads.base import Fit, RebuiltHead, Model, Reads, fit_metrics, register, require_two_classes

if TYPE_CHECKING:
    from aldesk.core.model_store import ModelRecord
    from aldesk.ml.heads.base import Pool

NAME = "cnn"
# The backbone whose vectors are images this head can read, and for which it is the default.
PIXELS_BACKBONE = "pixels"
SIDE = 32
CHANNELS = 3
WIDTHS = (16, 32, 64, 64)
FORMAT = "aldesk-cnn-v1"

BATCH = 64
MAX_SHIFT = 3
# Steps from scratch grow with the labels (about 30 epochs) within these bounds; a warm start
# needs far fewer, as the previous model already fits all but the newest labels.
MIN_STEPS, MAX_STEPS = 100, 300
WARM_FRACTION = 0.4
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 5e-4
EPOCHS = 30
SCORE_BLOCK = 2048

Cancel = Callable[[], bool]


def _block(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
    return [conv, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class SmallCnn(nn.Module):
    """32x32 -> strided conv (16x16) -> conv -> pool -> conv -> pool -> conv (4x4) -> global
    average -> linear. The strided first layer does a quarter of the work a full-resolution
    one would (~3M multiply-adds per image in all), at no loss measured on digits."""

    def __init__(self, n_classes: int, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        a, b, c, d = widths
        self.body = nn.Sequential(
            *_block(CHANNELS, a, stride=2),
            *_block(a, b),
            nn.MaxPool2d(2),
            *_block(b, c),
            nn.MaxPool2d(2),
            *_block(c, d),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(d, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)  # a module's __call__ is typed Any
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.classifier(self.body(x))
        return out


def reads(vectors: np.ndarray | torch.Tensor) -> bool:
    """Whether these are vectors this head can read (one 3 x 32 x 32 thumbnail per row)."""
    return len(vectors.shape) == 2 and vectors.shape[1] == CHANNELS * SIDE * SIDE


def as_images(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Pixel-backbone vectors [N, 3072] as float images [N, 3, 32, 32] (a clear error otherwise)."""
    t = torch.as_tensor(x)
    if t.ndim != 2 or t.shape[1] != CHANNELS * SIDE * SIDE:
        raise AldeskError(
            f"The {NAME} head reads {PIXELS_BACKBONE} embeddings ({CHANNELS * SIDE * SIDE} values per item), "
            f"not vectors of shape {tuple(t.shape)}; embed the project with --backbone {PIXELS_BACKBONE} "
            "or choose another head."
        )
    return t.float().reshape(-1, CHANNELS, SIDE, SIDE)


@dataclass
class CnnHead:
    """A trained network; inactive classes (no labels when trained) get probability 0."""

    network: SmallCnn  # always on the CPU: the model crosses process boundaries and is stored
    active: torch.Tensor  # [K] bool
    temperature: float = 1.0
    device: torch.device | None = None  # a CUDA device to score on (a copy of the network goes there)
    reads: ClassVar[Reads] = "raw"  # scores the pixel vectors as embedded (a class attribute, not a field)

    @property
    def n_classes(self) -> int:
        return int(self.active.shape[0])

    def _run(self, x: np.ndarray | torch.Tensor, features: bool, width: int) -> torch.Tensor:
        """The network's logits (or its pooled features) for ``x``, block by block, on the CPU or,
        for a head trained on a GPU, on a copy of the network there."""
        images = as_images(x)
        out = torch.empty((images.shape[0], width), dtype=torch.float32)
        self.network.eval()
        network = copy.deepcopy(self.network).to(self.device) if is_cuda(self.device) else self.network
        fn = network.features if features else network
        with torch.inference_mode():
            for start in range(0, images.shape[0], SCORE_BLOCK):
                if network is self.network:
                    out[start : start + SCORE_BLOCK] = fn(images[start : start + SCORE_BLOCK])
                else:
                    part = images[start : start + SCORE_BLOCK].to(self.device, non_blocking=True)
                    out[start : start + SCORE_BLOCK] = fn(part).float().cpu()
        return out

    def logits(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        raw = self._run(x, False, self.n_classes)
        return raw.masked_fill(~self.active, float("-inf"))

    def predict_proba(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x) / self.temperature, dim=1)

    def features(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """The penultimate layer (global-average-pooled conv features), [N, 64]."""
        return self._run(x, True, WIDTHS[-1])

    def to_bytes(self) -> bytes:
        """An ``.npz`` of plain arrays (no pickle), like the linear head's."""
        arrays = {f"p/{k}": v.detach().cpu().numpy() for k, v in self.network.state_dict().items()}
        meta = {"format": FORMAT, "widths": list(WIDTHS), "n_classes": self.n_classes}
        buffer = io.BytesIO()
        np.savez(
            buffer, meta=np.array(json.dumps(meta)), active=self.active.numpy(), temperature=np.array(self.temperature), **arrays
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "CnnHead":
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                meta = json.loads(str(arrays["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}")
                network = SmallCnn(int(meta["n_classes"]), tuple(meta["widths"]))
                state = {k[2:]: torch.from_numpy(arrays[k].copy()) for k in arrays.files if k.startswith("p/")}
                network.load_state_dict(state, strict=True)
                return cls(network, torch.from_numpy(arrays["active"].copy()), float(arrays["temperature"]))
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            raise AldeskError(f"The stored {NAME} model cannot be read ({exc}); retrain with: aldesk train PROJECT") from exc


def class_weights(y: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-class loss weights, active mask): each labeled class weighs the same in total."""
    counts = torch.bincount(y, minlength=n_classes).float()
    active = counts > 0
    weights = torch.where(active, counts.sum() / (active.sum() * counts.clamp_min(1)), torch.zeros_like(counts))
    return weights, active


def shift(images: torch.Tensor, generator: torch.Generator, max_shift: int = MAX_SHIFT) -> torch.Tensor:
    """Each image moved by up to ``max_shift`` pixels each way, its edge pixels repeated."""
    n = images.shape[0]
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = dy[:, None] + torch.arange(SIDE)[None, :]  # [n, S]
    cols = dx[:, None] + torch.arange(SIDE)[None, :]
    index = torch.arange(n)[:, None, None, None]
    channel = torch.arange(CHANNELS)[None, :, None, None]
    if images.device.type != "cpu":  # the random draws stay on the CPU generator: same shifts anywhere
        index, channel, rows, cols = (t.to(images.device) for t in (index, channel, rows, cols))
    return padded[index, channel, rows[:, None, :, None], cols[:, None, None, :]]


def training_steps(n_labels: int, warm: bool) -> int:
    steps = int(np.clip(EPOCHS * np.ceil(n_labels / BATCH), MIN_STEPS, MAX_STEPS))
    return max(1, int(steps * WARM_FRACTION)) if warm else steps


def fit_cnn(
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    n_classes: int,
    *,
    init: CnnHead | None = None,
    seed: int = 0,
    steps: int | None = None,
    cancel: Cancel | None = None,
    device: torch.device | None = None,
) -> tuple[CnnHead, dict[str, Any]]:
    """Train on labeled thumbnails; returns the head and what happened (steps run, cancelled).

    ``init`` warm-starts from a previous model with the same classes. ``cancel`` is checked
    before every step; when it fires, the model as trained so far is returned and marked so.
    With a CUDA ``device`` the network trains there and stays there for scoring (stored
    models are written from CPU copies and load on the CPU).
    """
    images = as_images(x)
    labels = torch.as_tensor(y).long()
    weights, active = class_weights(labels, n_classes)
    on_gpu = is_cuda(device)
    if on_gpu:  # the labeled images are few (thousands at most): all of them go across once
        images, labels, weights = images.to(device), labels.to(device), weights.to(device)
    warm = init is not None and init.n_classes == n_classes
    total = steps if steps is not None else training_steps(len(labels), warm)
    done = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        network = SmallCnn(n_classes)
        if warm and init is not None:  # (warm implies init; spelled out for mypy)
            network.load_state_dict(init.network.state_dict())
        if on_gpu:
            network.to(device)
        network.train()
        optimiser = torch.optim.AdamW(network.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=LEARNING_RATE, total_steps=max(total, 2), pct_start=0.1 if warm else 0.25
        )
        mask = torch.where(active, 0.0, -1e4)  # classes without labels stay out of the softmax
        if on_gpu:
            mask = mask.to(device)
        order = torch.randperm(len(labels), generator=generator)
        cursor = 0
        for done in range(total):
            if cancel is not None and cancel():
                break
            if cursor + min(BATCH, len(labels)) > len(labels):
                order, cursor = torch.randperm(len(labels), generator=generator), 0
            batch = order[cursor : cursor + BATCH]
            cursor += len(batch)
            if on_gpu:
                batch = batch.to(device)
            logits = network(shift(images[batch], generator)) + mask
            loss = F.cross_entropy(logits, labels[batch], weight=weights)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
        else:
            done = total
    network.eval()
    if is_cuda(device):  # on_gpu, with device narrowed to not None for mypy
        return CnnHead(network.cpu(), active, device=torch.device(device)), {
            "steps": done,
            "cancelled": done < total,
            "warm_start": warm,
        }
    return CnnHead(network, active), {"steps": done, "cancelled": done < total, "warm_start": warm}


class CnnOnPixels(nn.Module):
    """pixels-backbone features [B, 3072] -> the CNN's raw logits, as as_images reads them."""

    def __init__(self, network: nn.Module, side: int, channels: int) -> None:
        super().__init__()
        self.network = copy.deepcopy(network).eval()
        self.side, self.channels = side, channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.network(features.reshape(-1, self.channels, self.side, self.side))
        return logits


class CnnHeadKind:
    """The head registered as ``cnn``; ``default`` on the pixels encoder (see base.get_head)."""

    name = NAME
    reads: Reads = "raw"
    convex = False  # a warm start remembers labels held out of the fit (see audit.py)
    description = "a small CNN trained from scratch on 32 x 32 thumbnails (the pixels encoder)"

    def fit(self, pool: "Pool", task: Fit) -> tuple[CnnHead, dict[str, Any]]:
        """Reads the pool's raw pixel vectors; ``calibrate`` changes nothing (the temperature
        comes from the training itself: out-of-fold fits would each cost a whole training)."""
        require_two_classes(task.y)
        if pool.raw is None:
            raise AldeskError(
                f"The {NAME} head reads {PIXELS_BACKBONE} embeddings ({CHANNELS * SIDE * SIDE} values per item), "
                f"not {pool.whitening.mean.shape[0]}-d vectors from another backbone; embed the project with "
                f"--backbone {PIXELS_BACKBONE} or choose another head."
            )
        start = time.perf_counter()
        model, info = fit_cnn(
            pool.raw[task.labeled],
            task.y,
            task.n_classes,
            init=self.warm_start(task.init),
            seed=task.seed,
            cancel=task.cancel,
            device=pool.fit_device,
        )
        return model, {**fit_metrics(NAME, task.y, model, None, time.perf_counter() - start), **info}

    def can_read(self, vectors: np.ndarray) -> bool:
        return reads(vectors)

    def warm_start(self, previous: Model | None) -> CnnHead | None:
        return previous if isinstance(previous, CnnHead) else None

    def load(self, data: bytes) -> CnnHead:
        return CnnHead.from_bytes(data)

    def bundle(
        self, model: "ModelRecord", fit_vectors: np.ndarray | None
    ) -> tuple[RebuiltHead, Callable[[np.ndarray], np.ndarray]]:
        cnn = self.load(model.params)
        module = CnnOnPixels(cnn.network, SIDE, CHANNELS)
        rebuilt = RebuiltHead(module, cnn.active.bool(), float(cnn.temperature), "cnn", None, np.zeros((0, 0), dtype=np.float32))
        return rebuilt, lambda vecs: cnn.predict_proba(vecs).numpy()


register(CnnHeadKind())
